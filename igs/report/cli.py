"""``igs report``: one self-contained HTML report of the whole run."""

from __future__ import annotations

from pathlib import Path

import click

from igs.cli_options import options_options, out_option, stage_options_config


@click.command("report")
@options_options("report", "`results_dir`, `biobanks`, `pheno` and `federated` blocks")
@out_option("--out", "report.html to write.")
def report(options_file: Path | None, config_file: Path | None, out: Path) -> None:
    """Write one self-contained HTML report of the whole run (results found by igs.paths)."""
    from igs.io.atomic import atomic_path
    from igs.report.html import build_report

    cfg = stage_options_config(options_file, config_file, "report")
    text = build_report(
        Path(cfg["results_dir"]),
        cfg["biobanks"],
        [e["name"] for e in cfg["pheno"]["endpoints"]],
        federated_model_set=cfg.get("federated", {}).get("model_set", "clinical_prs"),
    )
    with atomic_path(out) as tmp:
        tmp.write_text(text)
