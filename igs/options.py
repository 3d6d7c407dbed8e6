"""How the configuration reaches a job: one JSON file per biobank and stage.

The workflow's rule ``config_stage`` writes ``results/{biobank}/config/{stage}.json`` with the
resolved config blocks that stage depends on (its params, so a changed value reruns the stage
and, by file time, everything downstream). Commands read their options from that file, passed as
``--options {input.options}``, so a job reads the config it was scheduled with. Each stage's
frozen options dataclass is built from it once, with ``from_config``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from igs.errors import ConfigError
from igs.io.atomic import atomic_path

# The top-level config blocks each stage's results depend on ("*" is the whole config).
STAGE_BLOCKS: dict[str, tuple[str, ...]] = {
    "qc": ("seed", "qc", "hail"),
    "scores": ("scores", "hail"),
    "pheno": ("pheno",),
    "models": ("seed", "pheno", "models", "scores", "share"),
    "share": ("pheno", "share"),
    "export": ("seed", "pheno", "models", "scores", "share", "export"),
    "provenance": ("*",),
    "report": ("results_dir", "pheno", "federated"),
    "federated": ("seed", "pheno", "models", "scores", "share", "federated"),
}
OPTIONS_VERSION = 1


def stage_config(cfg: dict[str, Any], stage: str, biobank: str | None = None) -> dict[str, Any]:
    """The part of a resolved config that ``stage`` reads (with the biobank's own entry)."""
    if stage not in STAGE_BLOCKS:
        raise ConfigError(
            f"unknown stage {stage!r}; stages with options: {', '.join(STAGE_BLOCKS)}."
        )
    blocks = STAGE_BLOCKS[stage]
    section = dict(cfg) if blocks == ("*",) else {k: cfg[k] for k in blocks if k in cfg}
    if stage == "report":
        section["biobanks"] = [b["name"] for b in cfg["biobanks"]]
    record: dict[str, Any] = {"options_version": OPTIONS_VERSION, "stage": stage, "config": section}
    if biobank is not None:
        record["biobank"] = next(b for b in cfg["biobanks"] if b["name"] == biobank)
    return record


def write_stage_config(record: dict[str, Any], out: str | os.PathLike[str]) -> None:
    """Write a stage's options file atomically (only when its job runs)."""
    with atomic_path(Path(out)) as tmp:
        tmp.write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")


def read_stage_config(path: str | os.PathLike[str], stage: str) -> dict[str, Any]:
    """The record written by :func:`write_stage_config` for ``stage``; a wrong file is an error."""
    path = Path(path)
    try:
        record = json.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(
            f"options file {path} not found; the workflow's config_stage rule writes it."
        ) from None
    except json.JSONDecodeError as exc:
        raise ConfigError(f"options file {path}: not valid JSON: {exc}") from None
    if not isinstance(record, dict) or record.get("stage") != stage:
        got = record.get("stage") if isinstance(record, dict) else None
        raise ConfigError(f"options file {path} holds the options of stage {got!r}, not {stage!r}.")
    return record


def stage_record(
    options_file: str | os.PathLike[str] | None,
    config_file: str | os.PathLike[str] | None,
    stage: str,
    biobank: str | None = None,
) -> dict[str, Any]:
    """A stage's options: from its options file (the workflow), else from a config file (by
    hand), else the schema's defaults (commands that need no biobank)."""
    from igs.config import default_blocks, get_biobank, load_config

    if options_file is not None:
        return read_stage_config(options_file, stage)
    if config_file is not None:
        cfg = load_config(config_file)
        if biobank is not None:
            get_biobank(cfg, biobank)  # an unknown name lists the known ones
        return stage_config(cfg, stage, biobank)
    if biobank is not None or STAGE_BLOCKS.get(stage) == ("*",):
        raise ConfigError(
            f"stage {stage}: give --options (the workflow's options file) or --config."
        )
    blocks = tuple(k for k in STAGE_BLOCKS[stage] if k != "results_dir")
    return {"options_version": OPTIONS_VERSION, "stage": stage, "config": default_blocks(blocks)}


def schema_default(*keys: str) -> Any:
    """The schema's default of a config key, e.g. ``schema_default("simulation", "seed")``
    (``"items"`` steps into an array's items)."""
    from igs.config import load_schema

    node = load_schema()
    for key in keys:
        node = node[key] if key == "items" else node["properties"][key]
    return node["default"]
