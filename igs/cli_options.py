"""Click options shared by the stage command groups (``igs/<stage>/cli.py``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

IN_FILE = click.Path(exists=True, dir_okay=False, path_type=Path)
IN_DIR = click.Path(exists=True, file_okay=False, path_type=Path)
OUT_PATH = click.Path(path_type=Path)


def csv_floats(value: str) -> tuple[float, ...]:
    try:
        return tuple(float(x) for x in value.split(","))
    except ValueError as exc:
        raise click.BadParameter(f"expected comma-separated numbers, got {value!r}") from exc


def csv_strings(value: str) -> tuple[str, ...]:
    return tuple(x.strip() for x in value.split(",") if x.strip())


def genotype_options(formats: tuple[str, ...] = ("bed", "pgen")):  # type: ignore[no-untyped-def]
    """--genotypes and --format, shared by every command that reads a genotype fileset."""

    def decorate(f):  # type: ignore[no-untyped-def]
        f = click.option(
            "--format", "fmt", type=click.Choice(list(formats)), default="bed", show_default=True
        )(f)
        return click.option(
            "--genotypes",
            "prefix",
            required=True,
            help="Fileset prefix (without .bed/.pgen), or the VCF/BGEN file.",
        )(f)

    return decorate


def options_options(stage: str, blocks: str):  # type: ignore[no-untyped-def]
    """--options FILE (the workflow's results/{biobank}/config/<stage>.json) or --config FILE."""

    def decorate(f):  # type: ignore[no-untyped-def]
        f = click.option(
            "--config",
            "config_file",
            type=IN_FILE,
            help=f"A workflow config instead of --options (its {blocks}).",
        )(f)
        return click.option(
            "--options",
            "options_file",
            type=IN_FILE,
            help=f"The {stage} stage's options file that the workflow writes ({stage}.json).",
        )(f)

    return decorate


def out_option(name: str, help: str, *, required: bool = True) -> Any:
    return click.option(name, type=OUT_PATH, required=required, help=help)


def stage_options_config(
    options_file: Path | None, config_file: Path | None, stage: str
) -> dict[str, Any]:
    """The config blocks a stage reads, from its options file (the workflow) or a config file
    (by hand); one of the two is required."""
    from igs.errors import ConfigError
    from igs.options import stage_record

    if options_file is None and config_file is None:
        raise ConfigError(f"igs {stage}: give --options (the workflow's {stage}.json) or --config.")
    return stage_record(options_file, config_file, stage)["config"]
