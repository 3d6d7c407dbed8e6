"""``igs inputs``: validate a biobank's input files before any analysis uses them."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import click

from igs.cli_options import csv_strings, genotype_options, out_option
from igs.io.atomic import atomic_path

log = logging.getLogger("igs")


@click.group()
def inputs() -> None:
    """Validate a biobank's input files."""


@inputs.command("check")
@genotype_options(("bed", "pgen", "vcf", "bgen"))
@click.option(
    "--sample", help="BGEN only: its .sample file, may contain {chrom} (default: beside it)."
)
@click.option(
    "--chromosomes",
    default="",
    help="With {chrom} in --genotypes: comma-separated chromosomes whose files must exist "
    "(default: every file that matches).",
)
@out_option("--out", "Summary JSON to write.")
def inputs_check(prefix: str, fmt: str, sample: str | None, chromosomes: str, out: Path) -> None:
    """Validate genotypes (a PLINK fileset, VCF or BGEN, one per chromosome when --genotypes
    holds {chrom}): every file opens, chromosome files hold the same samples, no variant is
    missing in everyone; then summarise them."""
    from igs.inputs import summarise_genotypes

    summary = summarise_genotypes(prefix, fmt, sample=sample,  # type: ignore[arg-type]
                                  chromosomes=list(csv_strings(chromosomes)) or None)  # fmt: skip
    with atomic_path(out) as tmp:
        tmp.write_text(json.dumps(summary, indent=2) + "\n")
    log.info("%s: %d samples x %d variants in %d file(s), call rate %.4f", prefix,
             summary["n_samples"], summary["n_variants"], len(summary["files"]),
             summary["overall_call_rate"])  # fmt: skip
