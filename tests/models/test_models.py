"""Survival models and metrics: R's published Cox fit on rossi, lifelines and scikit-survival as
oracles, planted effects recovered, and bad inputs."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from igs.errors import IGSError
from igs.models import (
    CoxModel,
    EvaluationSettings,
    SurvivalData,
    evaluate_endpoint,
    fit_cox,
    write_evaluation,
)
from igs.models import metrics as M
from igs.models.coxsolver import breslow_delayed_entry, cox_fit
from igs.models.prs_effects import hr_per_sd, percentile_hrs
from tests.conftest import planted

ROSSI_R = {"fin": -0.3794222, "age": -0.0574377, "race": 0.3138998, "wexp": -0.1497957,
           "mar": -0.4337039, "paro": -0.0848711, "prio": 0.0914971}  # fmt: skip


def rossi() -> SurvivalData:
    from lifelines.datasets import load_rossi

    r = load_rossi()
    n = len(r)
    return SurvivalData("rossi", np.arange(n), np.zeros(n), r["week"].to_numpy(float),
                        r["arrest"].to_numpy(bool), np.zeros(n, bool), r[list(ROSSI_R)].astype(float))  # fmt: skip


@pytest.mark.parametrize("engine", ["igs", "lifelines"])
def test_cox_on_rossi_equals_r(engine):
    model = fit_cox(rossi(), list(ROSSI_R), engine=engine)
    per_unit = np.array(model.coef) / np.array(model.preprocessor.scales)
    np.testing.assert_allclose(per_unit, list(ROSSI_R.values()), atol=1e-6)


def test_delayed_entry_fit_equals_lifelines_and_recovers_planted_effects():
    from lifelines import CoxPHFitter

    data, log_hr = planted(n=1500)
    cols = ["sex_male", "bmi", "prs", "omics"]
    df = data.features[cols].assign(start=data.start, stop=data.stop, e=data.event.astype(int))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cph = CoxPHFitter().fit(
            df, "stop", "e", entry_col="start", fit_options={"precision": 1e-10}
        )
    ours = cox_fit(data.features[cols].to_numpy(), data.start, data.stop, data.event)
    # lifelines' delayed-entry path stops ~1e-6 short of the optimum our solver reaches
    np.testing.assert_allclose(ours, cph.params_[cols].to_numpy(), atol=1e-5)
    low, high = cph.confidence_intervals_.iloc[:, 0], cph.confidence_intervals_.iloc[:, 1]
    for k in cols:
        assert low[k] < log_hr[k] < high[k], k


def test_penalised_fit_reaches_the_optimum_lifelines_stops_short_of():
    from lifelines import CoxPHFitter

    data = rossi()
    z = (data.features - data.features.mean()) / data.features.std(ddof=0)
    ours = cox_fit(z.to_numpy(), data.start, data.stop, data.event, penalizer=0.1)
    theirs = (
        CoxPHFitter(penalizer=0.1)
        .fit(z.assign(week=data.stop, arrest=data.event.astype(int)), "week", "arrest")
        .params_
    )
    np.testing.assert_allclose(ours, theirs.to_numpy(), atol=1e-3)
    # ours is the stationary point of lifelines' penalised likelihood: nudging any coefficient lowers it
    from igs.models.coxsolver import penalised_loglik

    args = (z.to_numpy(), data.start, data.stop, data.event)
    best, gradient, _ = penalised_loglik(*args, ours, 0.1)
    assert best >= penalised_loglik(*args, theirs.to_numpy(), 0.1)[0]
    assert np.abs(gradient).max() < 1e-8


def _efron_by_definition(x, start, stop, event, beta):
    """Log partial likelihood, gradient and Hessian looped over event times, straight from
    Efron's formula (risk set: start < t <= stop)."""
    r, p = np.exp(x @ beta), x.shape[1]
    ll, g, h = 0.0, np.zeros(p), np.zeros((p, p))
    for t in np.unique(stop[event]):
        risk = (start < t) & (t <= stop)
        tied = event & (stop == t)
        d = tied.sum()
        rs, rt = r[risk], r[tied]
        xs, xt = x[risk], x[tied]
        ll += (xt @ beta).sum()
        g += xt.sum(axis=0)
        for share in np.arange(d) / d:
            a0 = rs.sum() - share * rt.sum()
            a1 = rs @ xs - share * (rt @ xt)
            a2 = (xs * rs[:, None]).T @ xs - share * (xt * rt[:, None]).T @ xt
            ll -= np.log(a0)
            g -= a1 / a0
            h -= a2 / a0 - np.outer(a1, a1) / a0**2
    return ll, g, h


@pytest.mark.parametrize("seed", range(4))
def test_cox_derivatives_equal_efron_by_definition(seed):
    from igs.models.coxsolver import penalised_loglik

    rng = np.random.default_rng(seed)
    n, p = 120, 3
    x = rng.normal(size=(n, p))
    start = np.round(rng.uniform(0, 5, n)) * (rng.random(n) < 0.5)  # half enter late
    stop = start + np.round(rng.exponential(4, n)) + 1  # whole numbers: many tied times
    event = rng.random(n) < 0.6
    beta = rng.normal(scale=0.3, size=p)
    ours = penalised_loglik(x, start, stop, event, beta)
    for got, expected in zip(ours, _efron_by_definition(x, start, stop, event, beta), strict=True):
        np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-10)


def test_delayed_entry_fit_equals_lifelines_with_ties_to_1e6():
    from lifelines import CoxPHFitter

    rng = np.random.default_rng(11)
    n = 600
    x = pd.DataFrame(rng.normal(size=(n, 3)), columns=["a", "b", "c"])
    start = np.round(rng.uniform(40, 60, n))
    stop = start + np.round(rng.exponential(8, n) * np.exp(-0.4 * x["a"].to_numpy())) + 1
    event = rng.random(n) < 0.5
    df = x.assign(start=start, stop=stop, e=event.astype(int))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cph = CoxPHFitter().fit(
            df, "stop", "e", entry_col="start", fit_options={"precision": 1e-12, "max_steps": 200}
        )
    ours = cox_fit(x.to_numpy(), start, stop, event)
    np.testing.assert_allclose(ours, cph.params_[["a", "b", "c"]].to_numpy(), atol=1e-6)


def test_rounding_noise_in_the_loglik_does_not_stall_the_fit(monkeypatch):
    """With 10^5 people the log-likelihood of a last, tiny step can come out a few ulps (1e-11)
    lower; that is no overshoot (it once halved the step until max_iter)."""
    from igs.models import coxsolver

    data = rossi()
    x = data.features.to_numpy()
    exact = cox_fit(x, data.start, data.stop, data.event)
    loglik, previous = coxsolver._loglik, [np.full(x.shape[1], np.inf)]

    def noisy(x, sets, beta, penalizer, *xt):
        ll, g, h = loglik(x, sets, beta, penalizer, *xt)
        moved = np.max(np.abs(beta - previous[0]))
        previous[0] = beta
        return ll - (1e-11 if 0 < moved < 1e-6 else 0.0), g, h

    monkeypatch.setattr(coxsolver, "_loglik", noisy)
    np.testing.assert_allclose(cox_fit(x, data.start, data.stop, data.event), exact, atol=1e-9)


def test_breslow_with_delayed_entry_by_hand():
    start = np.array([0.0, 0.0, 2.0, 3.5])
    stop = np.array([1.0, 3.0, 4.0, 5.0])
    event = np.array([True, True, True, False])
    times, h = breslow_delayed_entry(start, stop, event, np.zeros(4))
    # at risk: t=1: {0,1}; t=3: {1,2} (3 enters at 3.5); t=4: {2,3}
    np.testing.assert_allclose(times, [1, 3, 4])
    np.testing.assert_allclose(h, np.cumsum([1 / 2, 1 / 2, 1 / 2]))


def test_harrell_c_equals_lifelines_and_sksurv():
    from lifelines.utils import concordance_index
    from sksurv.metrics import concordance_index_censored

    rng = np.random.default_rng(0)
    t = np.round(rng.exponential(5, 800), 1)  # tied times
    e = rng.random(800) < 0.6
    risk = np.round(rng.normal(size=800) - 0.1 * t, 1)  # tied risks
    ours = M.harrell_c(t, e, risk)
    assert ours == pytest.approx(concordance_index(t, -risk, e), abs=1e-12)
    assert ours == pytest.approx(concordance_index_censored(e, t, risk)[0], abs=1e-12)


def _survival_sample(rng, n: int, decimals: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Times and risks rounded to ``decimals`` (0 or 1: many ties in both), ~60% events."""
    t = np.round(rng.exponential(5, n), decimals) + 0.5
    e = rng.random(n) < 0.6
    risk = np.round(rng.normal(size=n) - 0.1 * t, decimals)
    return t, e, risk


@pytest.mark.parametrize("seed", range(12))
def test_sorted_concordance_equals_lifelines_and_sksurv_with_ties(seed):
    from lifelines.utils import concordance_index
    from sksurv.metrics import concordance_index_censored, concordance_index_ipcw
    from sksurv.util import Surv

    rng = np.random.default_rng(seed)
    n = int(rng.integers(5, 400))
    t, e, risk = _survival_sample(rng, n, decimals=seed % 2)
    e[0] = True
    ours = M.harrell_c(t, e, risk)
    assert ours == pytest.approx(concordance_index(t, -risk, e), abs=1e-12)
    assert ours == pytest.approx(concordance_index_censored(e, t, risk)[0], abs=1e-12)
    # Uno's C: censoring weights from separate training data, truncated at tau
    tt, te, _ = _survival_sample(rng, 500, decimals=1)
    tau = float(rng.uniform(2, 8))
    capped = min(tau, t[e].max() - 1e-9, tt.max() - 1e-9)
    expected = concordance_index_ipcw(
        Surv.from_arrays(te, tt), Surv.from_arrays(e, t), risk, capped
    )
    assert M.uno_c(tt, te, t, e, risk, tau) == pytest.approx(expected[0], abs=1e-12)


def test_censoring_survival_equals_sksurv():
    from sksurv.nonparametric import CensoringDistributionEstimator
    from sksurv.util import Surv

    t, e, _ = _survival_sample(np.random.default_rng(7), 300, decimals=0)
    at = np.r_[t[:50], 0.1, 3.3, t.max()]
    expected = CensoringDistributionEstimator().fit(Surv.from_arrays(e, t)).predict_proba(at)
    np.testing.assert_allclose(M.censoring_survival(t, e, at), expected, atol=1e-14)


def test_prefix_counts_equal_brute_force():
    from igs.models.metrics import _prefix_counts

    rng = np.random.default_rng(5)
    for n in (1, 2, 7, 64, 65, 300):
        y = rng.permutation(n)
        prefix, below = rng.integers(0, n + 1, 200), rng.integers(0, n + 1, 200)
        brute = [(y[:a] < b).sum() for a, b in zip(prefix, below, strict=True)]
        np.testing.assert_array_equal(_prefix_counts(y, prefix, below), brute)


def test_concordance_without_comparable_pairs_is_nan():
    assert np.isnan(M.harrell_c(np.array([1.0, 2.0]), np.array([False, False]), np.zeros(2)))
    assert np.isnan(M.harrell_c(np.array([2.0, 2.0]), np.array([True, True]), np.zeros(2)))
    # by hand: events at 1 (risk 3) and 2 (risk 1); censored at 2 (risk 2), 3 (risk 1)
    # pairs (1,2e) conc, (1,2c) conc, (1,3) conc, (2e,2c) disc, (2e,3) tie -> 3.5 / 5
    t, e, r = (
        np.array([1.0, 2, 2, 3]),
        np.array([True, True, False, False]),
        np.array([3.0, 1, 2, 1]),
    )
    assert M.harrell_c(t, e, r) == pytest.approx(3.5 / 5, abs=1e-15)


def test_evaluation_on_planted_data(tmp_path):
    data, log_hr = planted()
    settings = EvaluationSettings(n_bootstrap=30, n_folds=3, penalizers=(0.0, 0.01))
    result = evaluate_endpoint(data, settings)
    comp = result["comparison"].set_index("model")
    full, base = comp.loc["clinical_prs_omics/cox"], comp.loc["clinical/cox"]
    assert full["harrell_c"] > base["harrell_c"] + 0.03 and full["delta_c_low"] > 0
    assert full["nri"] > 0 and full["auc_10y"] > base["auc_10y"]
    assert 0.8 < full["calibration_slope"] < 1.25 and 0.8 < full["observed_expected"] < 1.25
    assert comp.loc["clinical_prs_omics/lifelines", "harrell_c"] == pytest.approx(
        full["harrell_c"], abs=1e-3
    )
    assert set(comp.index) >= {"clinical_prs_omics/xgboost", "clinical_prs_omics/coxnet"}
    assert comp["cv_harrell_c_mean"].notna().sum() == 4
    hr = result["hr_per_sd"].set_index("group")
    sd = data.features["prs"].std(ddof=1)
    assert hr.loc["all", "hr_low"] < np.exp(log_hr["prs"] * sd) < hr.loc["all", "hr_high"]
    groups = result["percentile_hr"].set_index("group")
    assert groups.loc["95-99", "hr"] > 1.5 > 0.67 > groups.loc["1-5", "hr"]
    ci = result["cumulative_incidence"].pivot(
        index="age", columns="group", values="cumulative_incidence"
    )
    assert ci.loc[80, "top 10%"] > ci.loc[80, "40-60%"] > ci.loc[80, "bottom 10%"]
    # the planted effect is the same for both sexes and at every age: no interaction found
    mods = result["prs_modifiers"].set_index("group")
    for term in ("prs_x_male", "prs_x_age_decade"):
        assert mods.loc[term, "hr_low"] < 1 < mods.loc[term, "hr_high"], mods.loc[term]

    paths = write_evaluation(result, tmp_path)
    assert (tmp_path / "prs_modifiers.tsv").is_file()
    assert all(p.is_file() and p.stat().st_size > 0 for p in paths)
    model = CoxModel.from_json(tmp_path / "model.json")
    np.testing.assert_allclose(
        model.absolute_risk(data.features, data.start, 10),
        result["model"].absolute_risk(data.features, data.start, 10),
    )


def test_no_events_and_too_few_per_fold():
    data, _ = planted(n=400)
    none = SurvivalData(
        "CAD",
        data.iid,
        data.start,
        data.stop,
        np.zeros(400, bool),
        data.competing,
        data.features,
        data.groups,
    )
    with pytest.raises(IGSError, match=r"CAD: 0 event\(s\) .* are needed to fit a survival model"):
        evaluate_endpoint(none)
    few = data.event.copy()
    few[np.flatnonzero(few)[25:]] = False
    some = SurvivalData(
        "CAD", data.iid, data.start, data.stop, few, data.competing, data.features, data.groups
    )
    with pytest.raises(IGSError, match="CAD: too few events per fold"):
        evaluate_endpoint(some, EvaluationSettings(n_folds=10))


def test_constant_and_separating_features():
    data, _ = planted(n=1500)
    const = data.features.assign(bmi=27.0)
    flat = SurvivalData(
        "T2D", data.iid, data.start, data.stop, data.event, data.competing, const, data.groups
    )
    from igs.models.cox import usable_columns

    with pytest.warns(UserWarning, match="T2D: constant or empty feature.*bmi"):
        assert "bmi" not in usable_columns(flat, ["sex_male", "bmi", "prs"])
    leak = data.features.assign(leak=data.event.astype(float))
    sep = SurvivalData(
        "T2D", data.iid, data.start, data.stop, data.event, data.competing, leak, data.groups
    )
    with pytest.raises(IGSError, match=r"T2D.*separate events perfectly"):
        fit_cox(sep, ["prs", "leak"])


def test_prs_summaries_need_their_columns():
    data, _ = planted(n=1200)
    assert list(hr_per_sd(data)["group"]) == ["all", "female", "male"]
    assert percentile_hrs(data)["n"].sum() == 1200


def _lifelines_summary(df: pd.DataFrame, terms: list[str]) -> pd.DataFrame:
    from lifelines import CoxPHFitter

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cph = CoxPHFitter().fit(
            df, "stop", "event", entry_col="start", fit_options={"precision": 1e-12}
        )
    s = cph.summary.loc[terms]
    return pd.DataFrame(
        {"log_hr": s["coef"], "se": s["se(coef)"], "hr_low": s["exp(coef) lower 95%"],
         "hr_high": s["exp(coef) upper 95%"], "p": s["p"]}
    )  # fmt: skip


def test_prs_effects_equal_lifelines_delayed_entry_fits():
    from igs.models.prs_effects import REFERENCE_GROUP, percentile_groups

    data, _ = planted(n=2500, seed=8)
    prs = data.features["prs"]
    base = pd.DataFrame(
        {"start": data.start, "stop": data.stop, "event": data.event.astype(int),
         "prs_sd": ((prs - prs.mean()) / prs.std(ddof=1)).to_numpy(),
         "sex_male": data.features["sex_male"], "PC1": data.features["PC1"]}
    )  # fmt: skip
    cols = ["log_hr", "se", "hr_low", "hr_high", "p"]
    ours = hr_per_sd(data).set_index("group")
    expected = _lifelines_summary(base, ["prs_sd"])
    np.testing.assert_allclose(ours.loc[["all"], cols], expected[cols], rtol=1e-6, atol=1e-9)
    male = base[base["sex_male"] == 1].drop(columns="sex_male")
    expected = _lifelines_summary(male, ["prs_sd"])
    np.testing.assert_allclose(ours.loc[["male"], cols], expected[cols], rtol=1e-6, atol=1e-9)
    # percentile groups against 40-60%
    group = percentile_groups(prs)
    dummies = pd.get_dummies(group).drop(columns=REFERENCE_GROUP).astype(float)
    with_groups = pd.concat([base.drop(columns="prs_sd"), dummies.add_prefix("g_")], axis=1)
    expected = _lifelines_summary(with_groups, list(dummies.add_prefix("g_").columns))
    ours = percentile_hrs(data).set_index("group").loc[dummies.columns]
    fitted = (ours["n_events"] > 0).to_numpy()  # lifelines' log HR runs off to about -15 otherwise
    assert fitted.sum() >= 9 and ours.loc[~fitted, "hr"].isna().all()
    np.testing.assert_allclose(ours.loc[fitted, cols], expected.loc[fitted, cols], rtol=1e-6)


def test_prs_effects_name_a_fit_that_does_not_converge():
    data, _ = planted(n=800)
    leak = data.features.assign(PC1=data.event.astype(float) * 50)
    sep = SurvivalData(
        "T2D", data.iid, data.start, data.stop, data.event, data.competing, leak, data.groups
    )
    with pytest.raises(IGSError, match=r"T2D: HR per SD \(all\): .*Check the score and PC columns"):
        hr_per_sd(sep)


def test_aalen_johansen_equals_lifelines_without_truncation():
    from lifelines import AalenJohansenFitter

    from igs.models.prs_effects import aalen_johansen

    rng = np.random.default_rng(4)
    stop = rng.exponential(10, 500) + 0.01  # no ties: lifelines jitters tied times
    status = rng.choice([0, 1, 2], 500, p=[0.5, 0.3, 0.2])
    ages = np.array([1.0, 5.0, 10.0, 20.0])
    ajf = AalenJohansenFitter(calculate_variance=False).fit(stop, status, event_of_interest=1)
    cif = ajf.cumulative_density_.iloc[:, 0]
    expected = cif.reindex(cif.index.union(ages)).ffill().loc[ages].to_numpy()
    np.testing.assert_allclose(
        aalen_johansen(np.zeros(500), stop, status, ages, min_at_risk=1), expected, atol=1e-9
    )


@pytest.mark.parametrize("fraction", [0.2, 0.3, 0.5])
def test_held_out_share_is_the_configured_fraction(fraction):
    from igs.models.evaluate import stratified_test_split

    event = np.r_[np.ones(137, bool), np.zeros(1863, bool)]
    is_test = stratified_test_split(event, fraction, seed=1)
    assert is_test[event].sum() == round(fraction * 137)
    assert is_test[~event].sum() == round(fraction * 1863)
    assert (is_test == stratified_test_split(event, fraction, seed=1)).all()


def test_bootstrap_concordance_equals_harrell_and_uno_of_each_resample():
    t, e, risk = _survival_sample(np.random.default_rng(9), 400, decimals=0)
    tt, te, _ = _survival_sample(np.random.default_rng(10), 500, decimals=1)
    harrell = M.BootstrapConcordance(t, e, risk)
    uno = M.BootstrapConcordance(t, e, risk, train=(tt, te), tau=6.0)
    rng = np.random.default_rng(3)
    for _ in range(20):
        i = rng.integers(0, 400, 400)
        assert harrell(i) == pytest.approx(M.harrell_c(t[i], e[i], risk[i]), abs=1e-12)
        assert uno(i) == pytest.approx(M.uno_c(tt, te, t[i], e[i], risk[i], 6.0), abs=1e-12)
    # a resample whose latest events fall before tau truncates there, as uno_c does
    early = np.flatnonzero(t < 3)
    assert uno(early) == pytest.approx(M.uno_c(tt, te, t[early], e[early], risk[early], 6.0))
