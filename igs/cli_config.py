"""``igs config``: validate a workflow config, write a stage's options file from one."""

from __future__ import annotations

from pathlib import Path

import click
import yaml

from igs.cli_options import out_option


@click.group()
def config() -> None:
    """Check the workflow configuration; write a stage's options file."""


@config.command("validate")
@click.argument("config_file", type=click.Path(path_type=Path))
@click.option("--no-file-checks", is_flag=True, help="Do not check that input files exist.")
@click.option("--show", is_flag=True, help="Print the resolved configuration (defaults filled in).")
def config_validate(config_file: Path, no_file_checks: bool, show: bool) -> None:
    """Validate CONFIG_FILE against the schema; list every problem with its key path."""
    from igs.config import read_config_yaml, resolve_config
    from igs.errors import ConfigError

    raw = read_config_yaml(config_file) if config_file.is_file() else None
    if raw is None:
        raise ConfigError(f"config file {config_file} not found or empty.")
    cfg = resolve_config(raw, source=str(config_file), check_files=not no_file_checks)
    click.echo(
        yaml.safe_dump(cfg, sort_keys=False)
        if show
        else f"{config_file}: OK ({len(cfg['biobanks'])} biobank(s))"
    )


@config.command("stage")
@click.argument("config_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--stage", required=True, help="qc, scores, pheno, models, share, export, provenance or report."
)
@click.option("--biobank", help="The biobank whose options these are (not for report).")
@out_option("--out", "The options JSON to write (what the workflow's config_stage rule writes).")
def config_stage(config_file: Path, stage: str, biobank: str | None, out: Path) -> None:
    """Write the options file of one stage (and biobank) from CONFIG_FILE, for running a command by hand."""
    from igs.config import get_biobank, load_config
    from igs.options import stage_config, write_stage_config

    cfg = load_config(config_file)
    if biobank is not None:
        get_biobank(cfg, biobank)
    write_stage_config(stage_config(cfg, stage, biobank), out)
