"""``igs share``: a biobank's aggregate-only bundle, and the meta-analysis over bundles."""

from __future__ import annotations

from pathlib import Path

import click

from igs.cli_options import IN_DIR, IN_FILE, options_options, out_option


@click.group()
def share() -> None:
    """Aggregate-only results that may leave the biobank."""


@share.command("bundle")
@options_options("share", "`share` and `pheno` blocks")
@click.option("--biobank", required=True)
@click.option("--pheno-summary", type=IN_FILE, required=True, help="pheno/summary.json.")
@click.option("--match-summary", type=IN_FILE, required=True, help="scores/match_summary.tsv.")
@click.option("--provenance", type=IN_FILE, help="provenance.json, copied into the bundle.")
@out_option("--out-dir", "The share/ folder.")
@click.argument("evaluations", nargs=-1, type=IN_DIR)
def share_bundle(options_file: Path | None, config_file: Path | None, biobank: str, pheno_summary: Path,
                 match_summary: Path, evaluations: tuple[Path, ...], provenance: Path | None, out_dir: Path) -> None:  # fmt: skip
    """Write the share bundle: counts, model metrics, score effects, calibration, match rates,
    and the biobank's provenance.json, all listed in the manifest. EVALUATIONS are the
    biobank's evaluate/{endpoint} folders."""
    from igs.options import stage_record
    from igs.share.bundle import BundleFiles, build_bundle, write_bundle
    from igs.share.options import ShareOptions

    opts = ShareOptions.from_config(stage_record(options_file, config_file, "share")["config"])
    files = BundleFiles(pheno_summary, match_summary, {e.name: e for e in evaluations}, provenance)
    write_bundle(build_bundle(files, opts.min_cell), out_dir, biobank, opts.min_cell)


@share.command("meta")
@click.argument("bundles", nargs=-1, required=True, type=IN_DIR)
@out_option(
    "--out-dir", "Folder for estimates.tsv, pooled.tsv, leave_one_out.tsv and forest plots."
)
def share_meta(bundles: tuple[Path, ...], out_dir: Path) -> None:
    """Meta-analyse share BUNDLES (from any number of biobanks): pooled.tsv, leave_one_out.tsv, forest plots."""
    from igs.share.write import write_meta

    write_meta(list(bundles), out_dir)
