"""The models stage's inputs read from the other stages' files, and a saved model applied to them."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from igs.io.tables import read_tsv
from igs.models.dataset import SurvivalData, assemble
from igs.models.options import ModelsOptions

PathLike = str | os.PathLike[str]


@dataclass(frozen=True)
class SurvivalFiles:
    """The files an endpoint's analysis table is joined from (all written by earlier stages)."""

    endpoint_table: Path  # pheno/{endpoint}.parquet
    covariates: Path  # features/covariates.parquet
    omics: Path  # features/omics_landmark.parquet
    scores: Path  # scores/scores_adjusted.tsv.gz
    pcs: Path  # qc/pcs.tsv


def load_survival_data(
    files: SurvivalFiles, endpoint: str, opts: ModelsOptions, *, only_included: bool = True
) -> SurvivalData:
    """The analysis table of one endpoint from its stage outputs."""
    pgs_id = opts.score_of(endpoint)
    return assemble(
        endpoint,
        pd.read_parquet(files.endpoint_table),
        pd.read_parquet(files.covariates),
        read_tsv(files.scores, dtypes={"IID": "string"}),
        read_tsv(files.pcs, dtypes={"IID": "string"}),
        pgs_id,
        omics=pd.read_parquet(files.omics),
        omics_statistics=opts.omics_statistics,
        n_pcs=opts.n_pcs,
        only_included=only_included,
    )


def apply_model(
    model_file: PathLike, files: SurvivalFiles, opts: ModelsOptions, horizon: float
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Absolute risks of a saved model on this biobank's data, and external-validation metrics."""
    from igs.models import metrics as M
    from igs.models.cox import CoxModel

    model = CoxModel.from_json(model_file)
    data = load_survival_data(files, model.endpoint, opts)
    risk = model.absolute_risk(data.features, data.start, horizon)
    cal = M.calibration(data.followup, data.event, risk, horizon, M.cloglog(risk))
    summary = {
        "model": str(model_file), "endpoint": model.endpoint, "model_set": model.model_set,
        "horizon": horizon, "n": len(risk), "events": int(data.event.sum()),
        "harrell_c": M.harrell_c(data.followup, data.event, risk),
        "observed_expected": cal["observed_expected"], "calibration_slope": cal["slope"],
    }  # fmt: skip
    return pd.DataFrame({"IID": data.iid, f"risk_{horizon:g}y": risk}), summary
