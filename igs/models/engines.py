"""Survival models other than lifelines' Cox: XGBoost (``survival:cox``) and scikit-survival's
elastic-net Cox (Coxnet).

Neither supports delayed entry, so both model years of follow-up since the start with the age
at start as a feature. Absolute risk uses a Breslow baseline hazard estimated on the training
data from the model's relative hazards (XGBoost's ``predict`` is exp(margin) without a
baseline).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from igs.models.coxsolver import breslow_delayed_entry
from igs.models.dataset import Preprocessor, SurvivalData


@dataclass
class FollowupModel:
    """A model on the follow-up time scale: linear predictor plus Breslow baseline."""

    name: str
    columns: list[str]
    predictor: Any
    preprocessor: Preprocessor | None
    base_times: np.ndarray | None = None
    base_cumhaz: np.ndarray | None = None
    threads: int = 1

    def design(self, data: SurvivalData) -> pd.DataFrame:
        x = data.features[self.columns].assign(start_age=data.start)
        return self.preprocessor.transform(x) if self.preprocessor is not None else x

    def linear_predictor(self, data: SurvivalData) -> np.ndarray:
        x = self.design(data)
        if self.name == "xgboost":
            import xgboost as xgb

            return self.predictor.predict(
                xgb.DMatrix(x.to_numpy(float), nthread=self.threads), output_margin=True
            )
        return self.predictor.predict(x.to_numpy(float))

    def absolute_risk(self, data: SurvivalData, horizon: float) -> np.ndarray:
        idx = np.searchsorted(self.base_times, horizon, side="right") - 1
        h0 = self.base_cumhaz[idx] if idx >= 0 else 0.0
        return 1.0 - np.exp(-h0 * np.exp(self.linear_predictor(data)))


def fit_xgboost(
    data: SurvivalData, columns: list[str], *, seed: int = 42, threads: int = 1
) -> FollowupModel:
    """Boosted trees on histograms of the features (``hist``: linear in n per round), on
    ``threads`` threads: more threads than free cores make OpenMP's barriers spin (on a loaded
    2-core machine 2 threads took 10x the time of 1 at n = 35,000); the result does not depend
    on them."""
    import xgboost as xgb

    model = FollowupModel("xgboost", columns, None, None, threads=threads)
    x = model.design(data).to_numpy(float)
    label = np.where(data.event, data.followup, -data.followup)
    params = {"objective": "survival:cox", "eta": 0.05, "max_depth": 3, "subsample": 0.8,
              "colsample_bytree": 0.8, "min_child_weight": 5, "seed": seed, "tree_method": "hist",
              "nthread": threads}  # fmt: skip
    model.predictor = xgb.train(
        params, xgb.DMatrix(x, label=label, nthread=threads), num_boost_round=200
    )
    return _with_baseline(model, data)


def fit_coxnet(data: SurvivalData, columns: list[str], *, l1_ratio: float = 0.5) -> FollowupModel:
    """scikit-survival's elastic-net Cox; the penalty is chosen by 3-fold CV on the training data."""
    from sksurv.linear_model import CoxnetSurvivalAnalysis
    from sksurv.util import Surv

    from igs.models.metrics import harrell_c

    pre = Preprocessor.fit(data.features[columns].assign(start_age=data.start))
    model = FollowupModel("coxnet", columns, None, pre)
    x = model.design(data).to_numpy(float)
    y = Surv.from_arrays(event=data.event, time=data.followup)
    path = (
        CoxnetSurvivalAnalysis(l1_ratio=l1_ratio, n_alphas=20, alpha_min_ratio=0.01)
        .fit(x, y)
        .alphas_
    )
    grid = path[:: max(1, len(path) // 5)]
    folds = np.random.default_rng(1).integers(0, 3, len(x))
    scores = []
    for alpha in grid:
        cs = []
        for k in range(3):
            tr, te = folds != k, folds == k
            m = CoxnetSurvivalAnalysis(l1_ratio=l1_ratio, alphas=[alpha]).fit(x[tr], y[tr])
            cs.append(harrell_c(data.followup[te], data.event[te], m.predict(x[te])))
        scores.append(np.nanmean(cs))
    best = float(grid[int(np.nanargmax(scores))])
    model.predictor = CoxnetSurvivalAnalysis(l1_ratio=l1_ratio, alphas=[best]).fit(x, y)
    return _with_baseline(model, data)


def _with_baseline(model: FollowupModel, data: SurvivalData) -> FollowupModel:
    # follow-up starts at 0 for everyone: the delayed-entry estimator reduces to the plain one
    model.base_times, model.base_cumhaz = breslow_delayed_entry(
        np.zeros(len(data.followup)), data.followup, data.event, model.linear_predictor(data)
    )
    return model
