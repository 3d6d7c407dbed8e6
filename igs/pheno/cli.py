"""``igs pheno``: endpoints, covariates and landmark omics features from health records."""

from __future__ import annotations

from pathlib import Path

import click

from igs.cli_options import IN_FILE, options_options, out_option


@click.group()
def pheno() -> None:
    """Endpoints, covariates and landmark omics features from health records."""


@pheno.command("build")
@options_options("pheno", "`pheno` block and the biobank's `phenotypes`; needs --biobank")
@click.option("--biobank", help="Biobank name in the config (with --config).")
@click.option(
    "--genotype-samples",
    type=IN_FILE,
    help="A .fam/.psam (e.g. the QC'd genotypes): keep only these samples.",
)
@out_option("--out-dir", "The biobank's results folder (pheno/ and features/ are written there).")
def pheno_build(options_file: Path | None, config_file: Path | None, biobank: str | None,
                genotype_samples: Path | None, out_dir: Path) -> None:  # fmt: skip
    """Build pheno/{endpoint}.parquet, features/*.parquet and pheno/summary.json."""
    from igs.errors import ConfigError
    from igs.options import stage_record
    from igs.pheno.options import PhenoOptions
    from igs.pheno.run import build_from_options

    if options_file is None and biobank is None:
        raise ConfigError("igs pheno build: give --options, or --config with --biobank.")
    record = stage_record(options_file, config_file, "pheno", biobank)
    build_from_options(
        PhenoOptions.from_config(record["config"], record["biobank"]), out_dir, genotype_samples
    )
