"""``igs models``: evaluate the integrative survival models, apply a saved one elsewhere."""

from __future__ import annotations

import json
from pathlib import Path

import click

from igs.cli_options import IN_FILE, options_options, out_option, stage_options_config

_BLOCKS = "`pheno`, `models`, `scores` blocks and `seed`"


def survival_inputs(f):  # type: ignore[no-untyped-def]
    """The five stage outputs an endpoint's analysis table is joined from."""
    for name, help in reversed([
        ("--endpoint-table", "pheno/{endpoint}.parquet"), ("--covariates", "features/covariates.parquet"),
        ("--omics", "features/omics_landmark.parquet"), ("--scores", "scores/scores_adjusted.tsv.gz"),
        ("--pcs", "qc/pcs.tsv"),
    ]):  # fmt: skip
        f = click.option(name, type=IN_FILE, required=True, help=f"The biobank's {help}.")(f)
    return f


def survival_files(**kw: Path):  # type: ignore[no-untyped-def]
    from igs.models.load import SurvivalFiles

    return SurvivalFiles(
        kw["endpoint_table"], kw["covariates"], kw["omics"], kw["scores"], kw["pcs"]
    )


def models_options(options_file: Path | None, config_file: Path | None, stage: str = "models"):  # type: ignore[no-untyped-def]
    from igs.models.options import ModelsOptions

    return ModelsOptions.from_config(stage_options_config(options_file, config_file, stage))


@click.group()
def models() -> None:
    """Integrative survival models: fit, evaluate, apply elsewhere."""


@models.command("evaluate")
@options_options("models", _BLOCKS)
@click.option("--endpoint", required=True)
@survival_inputs
@click.option(
    "--truth",
    type=IN_FILE,
    default=None,
    help="A simulated cohort's truth_samples.tsv.gz: adds the C of the true risk (the oracle).",
)
@out_option("--out-dir", "evaluate/{endpoint} folder.")
@click.option(
    "--threads",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Threads for XGBoost and BLAS (the results do not depend on them beyond float rounding).",
)
def models_evaluate(
    options_file: Path | None, config_file: Path | None, endpoint: str, out_dir: Path,
    threads: int, truth: Path | None, **files: Path,
) -> None:  # fmt: skip
    """Fit the model sets, compare them on held-out data and cross-validation, write tables and plots."""
    from threadpoolctl import threadpool_limits

    from igs.models import evaluate_endpoint, write_evaluation
    from igs.models.load import load_survival_data
    from igs.models.oracle import read_truth

    opts = models_options(options_file, config_file)
    # BLAS gets the job's threads, not every core of a shared node (OpenBLAS's default)
    with threadpool_limits(threads, user_api="blas"):
        result = evaluate_endpoint(
            load_survival_data(survival_files(**files), endpoint, opts),
            opts.settings,
            threads=threads,
            truth=None if truth is None else read_truth(truth, endpoint),
        )
    # model.json leaves the biobank: no exact event ages in its baseline
    result["model"] = result["model"].coarsened(opts.min_cell, opts.baseline_grid_years)
    write_evaluation(result, out_dir)
    from igs.models.recalibration import write_recalibration

    write_recalibration(out_dir, dict(opts.recalibration_tables), screening_age=opts.screening_age,
                        window=opts.screening_window,
                        n_draws=opts.n_draws, seed=opts.settings.seed)  # fmt: skip


@models.command("apply")
@click.option(
    "--model",
    "model_file",
    type=IN_FILE,
    required=True,
    help="model.json written by `igs models evaluate` (possibly at another biobank).",
)
@options_options("models", _BLOCKS)
@survival_inputs
@click.option("--horizon", type=float, default=10.0, show_default=True)
@out_option("--out", "Per-person risks (TSV).")
@out_option("--metrics", "External-validation metrics (JSON).")
def models_apply(model_file: Path, options_file: Path | None, config_file: Path | None, horizon: float,
                 out: Path, metrics: Path, **files: Path) -> None:  # fmt: skip
    """Apply a saved model to this biobank's data: absolute risks and external-validation metrics."""
    from igs.io.atomic import atomic_path
    from igs.models.load import apply_model

    risks, summary = apply_model(
        model_file, survival_files(**files), models_options(options_file, config_file), horizon
    )
    with atomic_path(out) as tmp:
        risks.to_csv(tmp, sep="\t", index=False)
    with atomic_path(metrics) as tmp:
        tmp.write_text(json.dumps(summary, indent=2) + "\n")
