"""The models stage's shortcuts for biobank sizes give what the slow way gives (issue #17 item 1):
the penalty path (one scaling and sort per fold, warm-started Newton runs) reaches lifelines'
fit and each penalty's optimum, and fails where a single fit fails; numpy's imputation and
scaling equal pandas'; the calibration slope equals lifelines'; XGBoost's model does not depend
on its threads; the lifelines cross-check is left out above ``lifelines_check_max_n``."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from igs.errors import IGSError
from igs.models import EvaluationSettings, SurvivalData, evaluate_endpoint
from igs.models import metrics as M
from igs.models.cox import fit_cox_path
from igs.models.coxsolver import penalised_loglik
from igs.models.dataset import Preprocessor
from igs.models.engines import fit_xgboost
from tests.conftest import planted

COLUMNS = ["sex_male", "bmi", "prs", "PC1", "omics", "noise"]


def test_penalty_path_reaches_lifelines_and_each_optimum():
    from lifelines import CoxPHFitter

    data, _ = planted(n=1500, seed=11)
    path = fit_cox_path(data, COLUMNS, (0.0, 0.01, 0.1))
    z = (data.features[COLUMNS] - data.features[COLUMNS].mean()) / data.features[COLUMNS].std(
        ddof=0
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = CoxPHFitter().fit(
            z.assign(start=data.start, stop=data.stop, event=data.event.astype(int)),
            "stop", "event", entry_col="start", fit_options={"precision": 1e-10},
        ).params_[COLUMNS]  # fmt: skip
    np.testing.assert_allclose(path[0].coef, theirs.to_numpy(), atol=1e-6)
    for model, penalizer in zip(path, (0.0, 0.01, 0.1), strict=True):
        assert model.penalizer == penalizer
        _, gradient, _ = penalised_loglik(
            z.to_numpy(), data.start, data.stop, data.event, np.asarray(model.coef), penalizer
        )
        assert np.abs(gradient).max() < 1e-6, penalizer  # a stationary point: the optimum
    # the penalty shrinks the coefficients
    norms = [np.linalg.norm(m.coef) for m in path]
    assert norms[0] > norms[1] > norms[2]


def test_penalty_path_fails_where_a_single_fit_fails():
    data, _ = planted(n=500, seed=5)
    first = np.sort(data.stop[data.event])[5]
    rare = (data.event & (data.stop < first)).astype(float)  # separates the five first cases
    data = SurvivalData(data.endpoint, data.iid, data.start, data.stop, data.event,
                        data.competing, data.features.assign(rare=rare), data.groups)  # fmt: skip
    failed, fitted = fit_cox_path(data, ["sex_male", "bmi", "rare", "prs"], (0.0, 0.1))
    assert isinstance(failed, (IGSError, np.linalg.LinAlgError))
    assert np.all(np.isfinite(fitted.coef)) and fitted.penalizer == 0.1
    too_few = data.subset(np.flatnonzero(~data.event | (data.stop < first)))
    assert all(
        isinstance(r, IGSError) and "at least 10" in str(r)
        for r in fit_cox_path(too_few, ["prs"], (0.0, 0.1))
    )


def test_imputation_and_scaling_equal_pandas():
    rng = np.random.default_rng(4)
    x = pd.DataFrame({"a": rng.normal(size=50), "b": rng.integers(0, 5, 50),
                      "c": np.full(50, 2.0), "d": np.nan})  # fmt: skip
    x.loc[::7, "a"] = np.nan
    pre = Preprocessor.fit(x)
    med = x.median()
    filled = x.fillna(med)
    sd = filled.std(ddof=0)
    np.testing.assert_allclose(pre.medians, med.to_numpy(), rtol=1e-15)
    np.testing.assert_allclose(pre.means, filled.mean().to_numpy(), rtol=1e-14)
    np.testing.assert_allclose(pre.scales, sd.where(sd > 0, 1.0).to_numpy(), rtol=1e-14)
    new = x.sample(frac=1.0, random_state=1)
    expected = (new.fillna(med) - filled.mean()) / sd.where(sd > 0, 1.0)
    got = pre.transform(new)
    assert list(got.index) == list(new.index)
    np.testing.assert_allclose(got.to_numpy(), expected.to_numpy(), rtol=1e-13)


def test_calibration_slope_equals_lifelines():
    from lifelines import CoxPHFitter

    rng = np.random.default_rng(8)
    lp = rng.normal(size=2000)
    t = np.round(rng.exponential(10 * np.exp(-0.8 * lp)), 1) + 0.1
    e = rng.random(2000) < 0.7
    capped = pd.DataFrame({"t": np.minimum(t, 5.0), "e": (e & (t <= 5.0)).astype(int), "lp": lp})
    theirs = CoxPHFitter().fit(capped, "t", "e").params_["lp"]
    assert M.calibration_slope(t, e, lp, 5.0) == pytest.approx(theirs, abs=1e-6)
    assert np.isnan(M.calibration_slope(t, e, np.zeros(2000), 5.0))


def test_xgboost_model_does_not_depend_on_its_threads():
    data, _ = planted(n=600, seed=2)
    one, two = (fit_xgboost(data, COLUMNS, threads=k) for k in (1, 2))
    np.testing.assert_array_equal(one.linear_predictor(data), two.linear_predictor(data))
    np.testing.assert_array_equal(one.base_cumhaz, two.base_cumhaz)


def test_lifelines_cross_check_only_up_to_its_limit():
    data, _ = planted(n=1500, seed=7)
    settings = EvaluationSettings(
        n_bootstrap=10, n_folds=3, penalizers=(0.0,), lifelines_check_max_n=1000
    )
    models = set(evaluate_endpoint(data, settings)["comparison"]["model"])
    assert "clinical_prs_omics/lifelines" not in models  # 1,050 training people > 1,000
    assert {"clinical/cox", "clinical_prs_omics/cox", "clinical_prs_omics/xgboost"} <= models
