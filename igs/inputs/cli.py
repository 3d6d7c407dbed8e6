"""``igs inputs``: validate a biobank's input files before any analysis uses them."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import click

from igs.cli_options import genotype_options, out_option
from igs.io.atomic import atomic_path

log = logging.getLogger("igs")


@click.group()
def inputs() -> None:
    """Validate a biobank's input files."""


@inputs.command("check")
@genotype_options()
@out_option("--out", "Summary JSON to write.")
def inputs_check(prefix: str, fmt: str, out: Path) -> None:
    """Validate a PLINK fileset (magic, sizes, duplicate IDs, empty variants) and summarise it."""
    from igs.inputs import summarise_genotypes

    summary = summarise_genotypes(prefix, fmt)  # type: ignore[arg-type]
    with atomic_path(out) as tmp:
        tmp.write_text(json.dumps(summary, indent=2) + "\n")
    log.info("%s: %d samples x %d variants, call rate %.4f", prefix, summary["n_samples"],
             summary["n_variants"], summary["overall_call_rate"])  # fmt: skip
