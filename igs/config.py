"""Load, validate and resolve the workflow configuration.

The JSON schema (``igs/schemas/config.schema.yaml``, also at
``workflow/schemas/config.schema.yaml``) checks keys and types; :func:`resolve_config`
then fills defaults, checks what a schema cannot (unique names, files that exist) and
fills in the paths of simulated inputs, so that every later step reads one shape.
"""

from __future__ import annotations

import copy
import os
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from igs.errors import ConfigError
from igs.simulate.universe import DEFAULT_SCORES

SIMULATED_DIR = "simulated"


def load_schema() -> dict[str, Any]:
    """The configuration JSON schema shipped with igs."""
    text = resources.files("igs").joinpath("schemas/config.schema.yaml").read_text()
    return yaml.safe_load(text)


def load_config(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a YAML config file and return it validated and resolved."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file {path} not found.")
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    return resolve_config(raw, source=str(path))


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
    _fill_defaults(cfg, load_schema())
    names = [b["name"] for b in cfg["biobanks"]]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ConfigError(f"{source}: biobank names must be unique; repeated: {', '.join(dupes)}.")

    sim_root = Path(cfg["results_dir"]) / SIMULATED_DIR
    for i, bb in enumerate(cfg["biobanks"]):
        where = f"biobanks[{i}] ({bb['name']})"
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
            if bb["simulate"]["phenotype_source"] == "omop":
                bb["phenotypes"] = {"source": "omop", "omop_url": str(base / "omop.duckdb")}
            else:
                bb["phenotypes"] = {
                    "source": "table",
                    "clinical": str(base / "clinical.tsv"),
                    "diagnoses": str(base / "diagnoses.tsv"),
                    "omics": str(base / "omics.tsv.gz"),
                }
            bb["genome_build"] = "GRCh38"
        else:
            missing = [k for k in ("genotypes", "phenotypes") if k not in bb]
            if missing:
                raise ConfigError(
                    f"{source}: {where} needs {' and '.join(missing)} (or a `simulate` block)."
                )
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
    return cfg


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


GENOTYPE_SUFFIXES = {
    "bed": (".bed", ".bim", ".fam"),
    "pgen": (".pgen", ".pvar", ".psam"),
    "vcf": ("",),
    "bgen": ("",),
}


def _check_inputs_exist(bb: dict[str, Any], where: str, source: str) -> None:
    g = bb["genotypes"]
    for suffix in GENOTYPE_SUFFIXES[g["format"]]:
        f = Path(g["path"] + suffix)
        if not f.is_file():
            raise ConfigError(
                f"{source}: {where}.genotypes.path: {g['format']} file {f} not found."
            )
    ph = bb["phenotypes"]
    if ph["source"] == "table":
        if "clinical" not in ph:
            raise ConfigError(
                f"{source}: {where}.phenotypes: source 'table' needs a `clinical` file."
            )
        for key in ("clinical", "diagnoses", "omics"):
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
