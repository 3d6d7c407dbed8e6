"""``igs provenance``: the provenance record of one biobank's results."""

from __future__ import annotations

import json
from pathlib import Path

import click

from igs.cli_options import options_options, out_option


@click.command("provenance")
@options_options("provenance", "whole config; needs --biobank")
@click.option("--biobank", help="Biobank name (with --config).")
@out_option("--out", "provenance.json to write.")
def provenance(
    options_file: Path | None, config_file: Path | None, biobank: str | None, out: Path
) -> None:
    """Write provenance.json: igs version and commit, dependency versions, config and input checksums."""
    from igs.errors import ConfigError
    from igs.io.atomic import atomic_path
    from igs.options import stage_record
    from igs.provenance import provenance as record_of

    if options_file is None and biobank is None:
        raise ConfigError("igs provenance: give --options, or --config with --biobank.")
    rec = stage_record(options_file, config_file, "provenance", biobank)
    record = record_of(rec["config"], rec["biobank"]["name"])
    with atomic_path(out) as tmp:
        tmp.write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")
