"""Load, validate and resolve the workflow configuration.

The JSON schema (``igs/schemas/config.schema.yaml``, also at
``workflow/schemas/config.schema.yaml``) checks keys and types; :func:`resolve_config`
then fills defaults, checks what a schema cannot (unique names, files that exist) and
fills in the paths of simulated inputs, so that every later step reads one shape.
"""

from __future__ import annotations

import copy
import itertools
import os
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from igs.errors import ConfigError, InputFormatError
from igs.io.formats import GENOTYPE_SUFFIXES
from igs.pheno.definitions import resolve_endpoints
from igs.redact import check_no_password
from igs.simulate.universe import DEFAULT_SCORES

SIMULATED_DIR = "simulated"


def load_schema() -> dict[str, Any]:
    """The configuration JSON schema shipped with igs."""
    text = resources.files("igs").joinpath("schemas/config.schema.yaml").read_text()
    return yaml.safe_load(text)


class _NoAliasLoader(yaml.SafeLoader):
    """A safe loader that refuses YAML anchors and aliases (an alias bomb expands
    a 1 KB file into gigabytes; a config never needs them)."""

    def compose_node(self, parent: Any, index: Any) -> Any:  # type: ignore[override]
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise ConfigError(
                f"{self.name}: line {event.start_mark.line + 1}: YAML aliases (*{event.anchor}) "
                "are not allowed in an igs config; write the values out."
            )
        event = self.peek_event()
        if getattr(event, "anchor", None) is not None:
            raise ConfigError(
                f"{self.name}: line {event.start_mark.line + 1}: YAML anchors (&{event.anchor}) "
                "are not allowed in an igs config; write the values out."
            )
        return super().compose_node(parent, index)


def read_config_yaml(path: str | os.PathLike[str]) -> Any:
    """The YAML document of a config file (safe types only, no anchors or aliases)."""
    path = Path(path)
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"config file {path} cannot be read ({exc}).") from exc
    loader = _NoAliasLoader(text)
    loader.name = str(path)
    try:
        return loader.get_single_data()
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    finally:
        loader.dispose()


def load_config(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a YAML config file and return it validated and resolved."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file {path} not found.")
    return resolve_config(read_config_yaml(path), source=str(path))


def validate_config(config: Any, *, source: str = "config") -> None:
    """Check ``config`` against the schema; list every problem with its key path."""
    validator = jsonschema.Draft202012Validator(load_schema())
    errors = sorted(validator.iter_errors(config), key=lambda e: list(map(str, e.absolute_path)))
    if errors:
        lines = [f"- {_key_path(e.absolute_path)}: {_describe(e)}" for e in errors]
        raise ConfigError(
            f"{source}: {len(errors)} problem(s) in the configuration:\n" + "\n".join(lines)
        )


def resolve_config(
    config: Any, *, source: str = "config", check_files: bool = True
) -> dict[str, Any]:
    """Validate, fill defaults, check cross-key rules and input files; return a new dict."""
    validate_config(config, source=source)
    cfg = copy.deepcopy(config)
    schema = load_schema()
    items = cfg.get("pheno", {}).get("endpoints")
    if items:
        item = schema["properties"]["pheno"]["properties"]["endpoints"]["items"]
        cfg["pheno"]["endpoints"] = resolve_endpoints(
            items, source=source, item_schema={**item, "required": ["name"]}
        )
    _fill_defaults(cfg, schema)
    _check_values(cfg, source)
    names = [b["name"] for b in cfg["biobanks"]]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ConfigError(f"{source}: biobank names must be unique; repeated: {', '.join(dupes)}.")

    sim_root = Path(cfg["results_dir"]) / SIMULATED_DIR
    for i, bb in enumerate(cfg["biobanks"]):
        where = f"biobanks[{i}] ({bb['name']})"
        country = bb.get("recalibration", {}).get("country")
        locations = cfg["models"].get("recalibration", {}).get("tables", {})
        if country is not None and country not in locations:
            raise ConfigError(
                f"{source}: {where}.recalibration.country {country!r} is not a location of "
                f"models.recalibration.tables ({', '.join(locations) or 'none given'})."
            )
        if "simulate" in bb:
            if "simulation" not in cfg:
                raise ConfigError(
                    f"{source}: {where}.simulate needs the top-level `simulation` block."
                )
            clash = [k for k in ("genotypes", "phenotypes") if k in bb]
            if clash:
                raise ConfigError(
                    f"{source}: {where} has both `simulate` and {', '.join(map(repr, clash))}; "
                    "a simulated biobank's inputs are written by the workflow. Remove one of them."
                )
            base = sim_root / bb["name"]
            bb["genotypes"] = {"path": str(base / "genotypes"), "format": "bed"}
            if bb["simulate"]["imputed"]:
                bb["genotypes"] = simulated_imputed_genotypes(base, cfg["simulation"])
                if bb["simulate"]["array_qc"] and bb["qc"]["source"] == "compute":
                    bb["qc"].setdefault("genotypes", {"path": str(base / "array"), "format": "bed"})
            if bb["simulate"]["phenotype_source"] == "omop":
                bb["phenotypes"] = {"source": "omop", "omop_url": str(base / "omop.duckdb")}
            else:
                bb["phenotypes"] = {
                    "source": "table",
                    "clinical": str(base / "clinical.tsv"),
                    "diagnoses": str(base / "diagnoses.tsv"),
                    "omics": str(base / "omics.tsv.gz"),
                    "medications": str(base / "medications.tsv"),
                }
            bb["genome_build"] = "GRCh38"
        else:
            if "genotypes" not in bb:  # without phenotypes: a scores-only biobank
                raise ConfigError(f"{source}: {where} needs genotypes (or a `simulate` block).")
            if check_files:
                _check_inputs_exist(bb, where, source)

    if "simulation" in cfg:
        sim_files = [
            str(sim_root / "scoring_files" / f"{s}.txt.gz")
            for s in (score.pgs_id for score in DEFAULT_SCORES)
        ]
        cfg["scores"]["scoring_files"] = sim_files + [
            f for f in cfg["scores"]["scoring_files"] if f not in sim_files
        ]
    if check_files:
        for j, f in enumerate(cfg["scores"]["scoring_files"]):
            if not f.startswith(str(sim_root)) and not Path(f).is_file():
                raise ConfigError(f"{source}: scores.scoring_files[{j}]: file {f} not found.")
        for bb in cfg["biobanks"]:
            scoring_files(cfg, bb["name"], source=source)  # every PGS ID is in the cache
        chain = cfg["scores"].get("liftover_chain")
        if chain is not None and not Path(chain).is_file():
            raise ConfigError(f"{source}: scores.liftover_chain: chain file {chain} not found.")
    return cfg


def scoring_files(cfg: dict[str, Any], biobank: str, *, source: str = "config") -> list[str]:
    """A biobank's scoring files: ``scores.scoring_files``, then ``scores.pgs_ids`` resolved in
    ``scores.cache_dir`` for the biobank's genome build."""
    from igs.scores.catalog import resolve_pgs_ids

    s = cfg["scores"]
    if not s["pgs_ids"]:
        return list(s["scoring_files"])
    build = get_biobank(cfg, biobank)["genome_build"]
    try:
        found = resolve_pgs_ids(s["pgs_ids"], s["cache_dir"], build)
    except InputFormatError as exc:
        raise ConfigError(f"{source}: scores.pgs_ids (biobank {biobank}): {exc}") from None
    return [*s["scoring_files"], *map(str, found)]


def simulated_imputed_genotypes(base: Path, simulation: dict[str, Any]) -> dict[str, Any]:
    """The genotypes of a simulated biobank with ``simulate.imputed``: per-chromosome pgen
    dosages (``igs.simulate.imputed``) on the simulation's autosomes and chrX."""
    return {
        "path": str(base / "imputed" / "chr{chrom}"),
        "format": "pgen",
        "chromosomes": [*simulation["chromosomes"], "X"],
    }


def genotype_parts(genotypes: dict[str, Any], *, check: bool = True) -> dict[str, str]:
    """``{part: path}``: one entry per chromosome file when ``genotypes.path`` has ``{chrom}``,
    else ``{"all": path}`` (a PLINK prefix, or the VCF/BGEN file). ``check=False`` with
    ``genotypes.chromosomes`` lists files yet to be written (a simulated biobank's)."""
    from igs.io.chroms import expand_chrom_paths, has_chrom_field

    if not has_chrom_field(genotypes["path"]):
        return {ALL_PART: genotypes["path"]}
    if not check and genotypes.get("chromosomes"):
        return {
            str(c): genotypes["path"].replace("{chrom}", str(c)) for c in genotypes["chromosomes"]
        }
    found = expand_chrom_paths(genotypes["path"], genotypes["format"], genotypes.get("chromosomes"))
    return {c: str(p) for c, p in found.items()}


def part_file(template: str | None, part: str) -> str | None:
    """A per-chromosome companion file (``genotypes.sample``, ``genotypes.info_file``) of a part."""
    if template is None:
        return None
    return template if part == ALL_PART else template.replace("{chrom}", part)


ALL_PART = "all"  # the one part of genotypes given without {chrom}


def _check_values(cfg: dict[str, Any], source: str) -> None:
    """Cross-value rules a schema cannot state: export categories, results folder, URLs."""
    ex = cfg["export"]
    th = list(ex["thresholds"])
    if any(b <= a for a, b in itertools.pairwise(th)):
        raise ConfigError(f"{source}: export.thresholds must be strictly increasing; got {th}.")
    if len(ex["labels"]) != len(th) + 1:
        raise ConfigError(
            f"{source}: export.labels needs one more entry than export.thresholds "
            f"({len(th)} threshold(s) make {len(th) + 1} categories); got {len(ex['labels'])} "
            f"label(s): {ex['labels']}."
        )
    for key in ("results_dir", "logs_dir"):
        folder = Path(cfg[key]).expanduser()
        resolved = folder.resolve()
        if resolved == Path(resolved.anchor) or resolved == Path.home().resolve():
            raise ConfigError(
                f"{source}: {key}: {cfg[key]!r} is a filesystem root or the home folder; igs writes "
                "and replaces files under it. Give a folder of its own, e.g. results/."
            )
    _check_reference(cfg["scores"].get("ancestry_reference"), source)
    for i, bb in enumerate(cfg["biobanks"]):
        url = bb.get("phenotypes", {}).get("omop_url")
        if url is not None:
            check_no_password(url, f"{source}: biobanks[{i}] ({bb['name']}).phenotypes.omop_url")


def _check_reference(ref: dict[str, Any] | None, source: str) -> None:
    """scores.ancestry_reference: its genotype files and population table exist."""
    from igs.io.chroms import has_chrom_field

    if ref is None:
        return
    g = ref["genotypes"]
    if has_chrom_field(g["path"]):
        raise ConfigError(
            f"{source}: scores.ancestry_reference.genotypes.path: one file(set), without "
            f"{{chrom}}; got {g['path']}."
        )
    files = [Path(g["path"] + suffix) for suffix in GENOTYPE_SUFFIXES[g["format"]]]
    files += [Path(g["sample"])] if "sample" in g else []
    for f in [*files, Path(ref["populations"])]:
        if not f.is_file():
            raise ConfigError(f"{source}: scores.ancestry_reference: file {f} not found.")


def default_blocks(keys: tuple[str, ...]) -> dict[str, Any]:
    """Top-level config blocks with every default filled in, for use without a config file."""
    schema = load_schema()
    cfg: dict[str, Any] = {}
    _fill_defaults(cfg, {"properties": {k: schema["properties"][k] for k in keys}})
    return cfg


def get_biobank(config: dict[str, Any], name: str) -> dict[str, Any]:
    """The resolved entry of biobank ``name``; an unknown name lists the known ones."""
    for bb in config["biobanks"]:
        if bb["name"] == name:
            return bb
    known = ", ".join(b["name"] for b in config["biobanks"])
    raise ConfigError(f"unknown biobank {name!r}; the config defines: {known}.")


def _check_inputs_exist(bb: dict[str, Any], where: str, source: str) -> None:
    g = bb["genotypes"]
    try:
        parts = genotype_parts(g)
    except InputFormatError as exc:  # a listed chromosome's file is missing, or none matches
        raise ConfigError(f"{source}: {where}.genotypes.path: {exc}") from None
    for part, path in parts.items():
        for suffix in GENOTYPE_SUFFIXES[g["format"]]:
            f = Path(path + suffix)
            if not f.is_file():
                raise ConfigError(
                    f"{source}: {where}.genotypes.path: {g['format']} file {f} not found."
                )
        for key in ("sample", "info_file"):
            f = part_file(g.get(key), part)
            if f is not None and not Path(f).is_file():
                raise ConfigError(f"{source}: {where}.genotypes.{key}: file {f} not found.")
    if "phenotypes" not in bb:
        return
    ph = bb["phenotypes"]
    if ph["source"] == "table":
        if "clinical" not in ph:
            raise ConfigError(
                f"{source}: {where}.phenotypes: source 'table' needs a `clinical` file."
            )
        for key in ("clinical", "diagnoses", "omics", "medications"):
            if key in ph and not Path(ph[key]).is_file():
                raise ConfigError(f"{source}: {where}.phenotypes.{key}: file {ph[key]} not found.")
    elif "omop_url" not in ph:
        raise ConfigError(f"{source}: {where}.phenotypes: source 'omop' needs `omop_url`.")
    elif (
        not ph["omop_url"].startswith(("postgresql://", "postgres://"))
        and not Path(ph["omop_url"]).is_file()
    ):
        raise ConfigError(
            f"{source}: {where}.phenotypes.omop_url: DuckDB file {ph['omop_url']} not found."
        )


def _fill_defaults(node: Any, schema: dict[str, Any]) -> None:
    """Insert schema defaults for missing keys, recursing into objects and arrays."""
    if isinstance(node, dict):
        for key, sub in schema.get("properties", {}).items():
            if key not in node and "default" in sub:
                node[key] = copy.deepcopy(sub["default"])
            if key in node:
                _fill_defaults(node[key], sub)
    elif isinstance(node, list) and isinstance(schema.get("items"), dict):
        for item in node:
            _fill_defaults(item, schema["items"])


def _key_path(path: Any) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def _describe(error: jsonschema.ValidationError) -> str:
    if error.validator == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        extra = sorted(set(error.instance) - set(allowed))
        return f"unknown key(s) {', '.join(map(repr, extra))}; allowed keys: {', '.join(allowed)}"
    return error.message
