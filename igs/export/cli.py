"""``igs export``: per-person results for clinicians (CSV and FHIR R4 RiskAssessment)."""

from __future__ import annotations

import logging
from pathlib import Path

import click

from igs.cli_options import IN_FILE, options_options, out_option
from igs.models.cli import survival_files, survival_inputs

log = logging.getLogger("igs")


@click.group()
def export() -> None:
    """Per-person results for clinicians."""


@export.command("clinician")
@options_options("export", "`export`, `pheno`, `models` and `scores` blocks")
@click.option("--endpoint", required=True)
@click.option("--biobank", help="With --config: the biobank whose recalibration.country applies.")
@click.option(
    "--model", "model_file", type=IN_FILE, required=True, help="evaluate/{endpoint}/model.json."
)
@survival_inputs
@click.option("--match-summary", type=IN_FILE, required=True, help="scores/match_summary.tsv.")
@click.option("--provenance", type=IN_FILE, help="provenance.json, copied beside the export.")
@click.option("--scoring-file", "scoring_files", type=IN_FILE, multiple=True,
              help="Scoring file(s); the endpoint's score's header fills the model card.")  # fmt: skip
@out_option(
    "--out-dir",
    "The export/ folder: {endpoint}_risk.csv, {endpoint}_provenance.json, fhir/{endpoint}/.",
)
def export_clinician(options_file: Path | None, config_file: Path | None, endpoint: str, biobank: str | None, model_file: Path,
                     match_summary: Path, provenance: Path | None, scoring_files: tuple[Path, ...],
                     out_dir: Path, **files: Path) -> None:  # fmt: skip
    """Write {endpoint}_risk.csv and one FHIR R4 RiskAssessment per person (fhir/{endpoint}/)."""
    from igs.export.clinician import write_clinician_export
    from igs.export.options import ExportOptions
    from igs.export.write import export_table
    from igs.options import stage_record

    record = stage_record(options_file, config_file, "export", biobank)
    opts = ExportOptions.from_config(record["config"], record.get("biobank"))
    table, model, pgs_id = export_table(
        endpoint, model_file, survival_files(**files), match_summary, opts
    )
    write_clinician_export(table, model, [pgs_id], out_dir, endpoint, provenance)
    from igs.export.write import export_model_card

    export_model_card(endpoint, pgs_id, model, model_file, match_summary, scoring_files, opts,
                      out_dir / f"{endpoint}_model_card.json",
                      str(table["normalisation"].iloc[0]) if len(table) else "")  # fmt: skip
    log.info(
        "%s: %d people exported (%d flagged prevalent)",
        endpoint,
        len(table),
        int(table["flag_prevalent"].sum()),
    )
