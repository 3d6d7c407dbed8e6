"""Sex- and age-specific score effects: planted in the simulator (truth.json), recovered by igs's
Cox fits within their CIs, equal to lifelines on the same rows, shared and pooled."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from igs.errors import IGSError
from igs.models import SurvivalData
from igs.models.prs_effects import (
    AGE_CENTRE,
    prs_effect_modifiers,
    split_by_year,
    within_ages,
)
from igs.simulate.phenotypes import DISEASES, PRS_AGE_CENTRE, simulate_health_records

PLANTED = {"CAD": {"prs_x_male": -0.25, "prs_x_age_decade": -0.20}}


def people(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    male = rng.random(n) < 0.5
    out = pd.DataFrame({"IID": [f"p{i}" for i in range(n)], "male": male, "reported_male": male})
    for d in DISEASES:
        z = rng.standard_normal(n)
        out[f"prs_z_{d.score}"] = (z - z.mean()) / z.std()
    out["prs_z_IGS_SIM_LDL"] = rng.standard_normal(n)
    return out


def cad_data(n: int, seed: int, modifiers: dict | None = PLANTED) -> tuple[SurvivalData, dict]:
    """CAD incident follow-up on the age scale straight from the simulated records and truth."""
    ppl = people(n, seed)
    clinical, _, _, truth, model, _ = simulate_health_records(
        ppl, np.random.default_rng(seed + 1), prs_modifiers=modifiers
    )
    birth = pd.to_datetime(clinical["birth_date"])
    years = lambda col: ((pd.to_datetime(clinical[col]) - birth).dt.days / 365.25).to_numpy()  # noqa: E731
    entry, end = years("entry_date"), years("end_of_followup")
    onset = truth["onset_age_CAD"].to_numpy()
    keep = onset > entry  # prevalent cases leave the analysis
    event = onset <= end
    stop = np.where(event, onset, end)
    died = (clinical["death_date"] != "").to_numpy() & ~event
    # the planted hazard's other covariates ride along as "PCs" (adjusted for like PCs), so the
    # fitted HRs are the planted conditional ones, not marginal ones attenuated by omission
    bmi = clinical["bmi"].fillna(27.0)
    sbp = clinical["sbp"].fillna(130.0)
    feats = pd.DataFrame(
        {"sex_male": ppl["male"].astype(float), "prs": ppl["prs_z_IGS_SIM_CAD"],
         "PC1": ((bmi - 27.0) / 4.5).to_numpy(), "PC2": ((sbp - 130.0) / 15.0).to_numpy(),
         "PC3": (clinical["smoking"] == "current").astype(float).to_numpy(),
         "PC4": truth["omics_u_CAD"].to_numpy()}
    )[keep].reset_index(drop=True)  # fmt: skip
    groups = {"prs": ["prs", "PC1", "PC2", "PC3", "PC4"], "clinical": ["sex_male"]}
    data = SurvivalData("CAD", ppl["IID"].to_numpy()[keep], entry[keep], stop[keep], event[keep],
                        died[keep], feats, groups)  # fmt: skip
    return data, model


def test_default_draws_are_unchanged_and_truth_records_the_modifiers():
    ppl = people(3000, 1)
    plain = simulate_health_records(ppl, np.random.default_rng(2))
    zero = simulate_health_records(
        ppl, np.random.default_rng(2), prs_modifiers={"CAD": {"prs_x_male": 0.0}}
    )
    for a, b in zip(plain[:4], zero[:4], strict=True):
        pd.testing.assert_frame_equal(a, b)
    _, _, _, _, model, _ = simulate_health_records(
        ppl, np.random.default_rng(2), prs_modifiers=PLANTED
    )
    assert model["diseases"]["CAD"]["prs_x_male"] == -0.25
    assert model["diseases"]["CAD"]["prs_x_age_decade"] == -0.20
    assert model["diseases"]["T2D"]["prs_x_male"] == 0.0
    assert model["prs_age_centre"] == PRS_AGE_CENTRE == AGE_CENTRE


def test_simulator_rejects_unknown_modifiers():
    ppl = people(200, 1)
    with pytest.raises(IGSError, match=re.escape("prs_modifiers: unknown disease(s)")):
        simulate_health_records(ppl, np.random.default_rng(2), prs_modifiers={"XYZ": {}})
    with pytest.raises(IGSError, match=re.escape("prs_modifiers[CAD]: unknown key(s)")):
        simulate_health_records(ppl, np.random.default_rng(2), prs_modifiers={"CAD": {"age": 1}})


def test_onset_ages_follow_the_modified_hazard():
    """Draws with a shape crossing zero follow the closed-form cumulative hazard (the empirical
    survival at each age equals exp(-H(a)) within binomial error)."""
    from dataclasses import replace

    from igs.simulate.phenotypes import onset_ages

    d = replace(DISEASES[0], log_hr={"prs_sd": 0.5}, prs_x_age_decade=-1.0)
    n = 200_000
    rng = np.random.default_rng(0)
    for prs in (-2.0, 0.0, 2.0):  # shapes 0.28, 0.08, -0.12
        x = {"prs_sd": np.full(n, prs), "male": np.zeros(n)}
        age = onset_ages(d, x, rng.exponential(size=n))
        for a in (50.0, 70.0, 90.0, 150.0):
            # H(a) = integral of rate * exp(gamma t + b prs (t - 60) / 10)
            t = np.linspace(0, a, 20001)
            h = d.baseline_rate * np.exp(
                d.baseline_shape * t + prs * (0.5 + d.prs_x_age_decade * (t - 60) / 10)
            )
            s = np.exp(-np.trapezoid(h, t))
            assert abs((age > a).mean() - s) < 4 * np.sqrt(s * (1 - s) / n) + 1e-4, (prs, a)


def test_planted_sex_and_age_interactions_are_recovered_within_their_cis():
    data, model = cad_data(40_000, 11)
    cad = model["diseases"]["CAD"]
    got = prs_effect_modifiers(data).set_index("group")
    for term in ("prs_x_male", "prs_x_age_decade"):
        row = got.loc[term]
        assert row["hr_low"] < np.exp(cad[term]) < row["hr_high"], (term, row.to_dict())
        assert row["p"] < 0.05, (term, row.to_dict())  # the planted modifier is detected
    # within an age band the common log HR per SD is the planted one averaged over the band's
    # events (the Cox score weights each event alike): prs_sd + prs_x_male * male
    # + prs_x_age_decade * (age - 60) / 10 at each event's sex and age
    male = data.features["sex_male"].to_numpy()
    for band, lo, hi in (("age_50-60", 50, 60), ("age_60-70", 60, 70), ("age_70plus", 70, 200)):
        at = data.event & (data.stop > lo) & (data.stop <= hi)
        planted = cad["log_hr"]["prs_sd"] + cad["prs_x_male"] * male[at]
        planted += cad["prs_x_age_decade"] * (data.stop[at] - PRS_AGE_CENTRE) / 10
        row = got.loc[band]
        assert abs(row["log_hr"] - planted.mean()) < 1.96 * row["se"], (
            band,
            planted.mean(),
            row.to_dict(),
        )
    bands = got[got["effect"] == "hr_per_sd_by_age"]
    assert bands["log_hr"].is_monotonic_decreasing  # the effect shrinks with age


def test_no_interaction_planted_gives_none_detected():
    data, _ = cad_data(20_000, 5, modifiers=None)
    got = prs_effect_modifiers(data).set_index("group")
    for term in ("prs_x_male", "prs_x_age_decade"):
        assert got.loc[term, "hr_low"] < 1 < got.loc[term, "hr_high"], got.loc[term].to_dict()


def _lifelines(df: pd.DataFrame, term: str) -> pd.Series:
    from lifelines import CoxPHFitter

    cph = CoxPHFitter()
    cph.fit(df, duration_col="stop", event_col="event", entry_col="start",
            fit_options={"precision": 1e-10})  # fmt: skip
    s = cph.summary.loc[term]
    return pd.Series({"log_hr": s["coef"], "se": s["se(coef)"], "p": s["p"]})


def test_modifier_fits_equal_lifelines_on_the_same_rows():
    data, _ = cad_data(4000, 3)
    got = prs_effect_modifiers(data).set_index("group")
    prs = data.features["prs"]
    base = pd.DataFrame(
        {"start": data.start, "stop": data.stop, "event": data.event.astype(int),
         "prs_sd": ((prs - prs.mean()) / prs.std(ddof=1)).to_numpy(),
         "sex_male": data.features["sex_male"].to_numpy()}
    ).join(data.features[["PC1", "PC2", "PC3", "PC4"]])  # fmt: skip
    cols = ["log_hr", "se", "p"]
    expected = _lifelines(base.assign(prs_x_male=base["prs_sd"] * base["sex_male"]), "prs_x_male")
    np.testing.assert_allclose(got.loc["prs_x_male", cols].astype(float), expected[cols], rtol=1e-5)
    pieces = split_by_year(base)
    pieces["prs_x_age_decade"] = pieces["prs_sd"] * (pieces["age_mid"] - 60) / 10
    expected = _lifelines(pieces.drop(columns="age_mid"), "prs_x_age_decade")
    np.testing.assert_allclose(
        got.loc["prs_x_age_decade", cols].astype(float), expected[cols], rtol=1e-5
    )
    band = within_ages(base, 60.0, 70.0)
    expected = _lifelines(band, "prs_sd")
    np.testing.assert_allclose(got.loc["age_60-70", cols].astype(float), expected[cols], rtol=1e-5)


def test_splitting_keeps_follow_up_and_events():
    df = pd.DataFrame(
        {"start": [40.2, 55.0, 61.5], "stop": [43.0, 55.5, 70.25], "event": [1, 0, 1]}
    )
    pieces = split_by_year(df)
    assert pieces.groupby(pieces.index.map(lambda i: 0))["event"].sum().item() == 2
    np.testing.assert_allclose(
        (pieces["stop"] - pieces["start"]).sum(), (df["stop"] - df["start"]).sum()
    )
    assert pieces["start"].tolist()[:3] == [40.2, 41.0, 42.0]
    assert (pieces["stop"] - pieces["start"] > 0).all() and len(pieces) == 3 + 1 + 10
    assert pieces.loc[pieces["stop"] == 70.25, "event"].tolist() == [1]
    band = within_ages(df, 50.0, 62.0)
    assert band[["start", "stop", "event"]].values.tolist() == [[55.0, 55.5, 0], [61.5, 62.0, 0]]


def test_interaction_counts_are_suppressed_with_the_overall_ones():
    """An interaction row repeats the overall n and n_events: when suppression blanks those (a
    small male group's complement), the interaction's copy must go too, and the checker agrees."""
    from igs.share.bundle import protect_tables
    from igs.share.disclosure import bundle_constraints, check_bundle

    rows = [("hr_per_sd", "all", 1000, 100), ("hr_per_sd", "female", 500, 3),
            ("hr_per_sd", "male", 500, 97), ("hr_per_sd_by_age", "age_50-60", 700, 2),
            ("hr_per_sd_by_age", "age_60-70", 800, 98), ("prs_interaction", "prs_x_male", 1000, 100),
            ("prs_interaction", "prs_x_age_decade", 1000, 100)]  # fmt: skip
    eff = pd.DataFrame([{"endpoint": "CAD", "effect": e, "group": g, "n": n, "n_events": k,
                         "hr": 0.8, "log_hr": -0.22, "se": 0.1} for e, g, n, k in rows])  # fmt: skip
    tables, _ = protect_tables({"prs_effects.tsv": eff}, 5)
    out = tables["prs_effects.tsv"].set_index("group")
    assert pd.isna(out.loc["age_50-60", "n_events"]) and pd.isna(out.loc["age_50-60", "hr"])
    assert out.loc["age_60-70", "n_events"] == 98  # bands overlap in people: no sum to protect
    for g in ("prs_x_male", "prs_x_age_decade"):  # each equal to "all" or blanked with it
        for col in ("n", "n_events"):
            a, b = out.loc["all", col], out.loc[g, col]
            assert (pd.isna(a) and pd.isna(b)) or a == b
    assert check_bundle(tables, 5) == []
    # the copies are tied to the overall counts, so whatever suppression blanks in "all" (say as
    # the complement of a small cell) it blanks in each interaction row as well
    ties = {
        frozenset(k for k, _ in c)
        for c in bundle_constraints({"prs_effects.tsv": eff})
        if len(c) == 2
    }
    for row in (5, 6):
        for col in ("n", "n_events"):
            assert frozenset({("prs_effects.tsv", 0, col), ("prs_effects.tsv", row, col)}) in ties


def test_meta_pools_age_bands_and_interactions_by_inverse_variance():
    from igs.share.meta import gather_estimates, meta_analyse

    def bundle(log_ratio: float, se: float) -> dict:
        eff = pd.DataFrame({"endpoint": ["CAD"] * 3, "effect": ["hr_per_sd", "hr_per_sd_by_age", "prs_interaction"],
                            "group": ["all", "age_60-70", "prs_x_male"], "log_hr": [0.4, 0.3, log_ratio],
                            "se": [0.05, 0.08, se]})  # fmt: skip
        models = pd.DataFrame(
            columns=["endpoint", "model", "harrell_c", "harrell_c_low", "harrell_c_high"]
        )
        return {"prs_effects.tsv": eff, "models.tsv": models}

    est = gather_estimates({"a": bundle(-0.2, 0.1), "b": bundle(-0.4, 0.2)})
    assert set(est["quantity"]) == {
        "log_hr_per_sd:all",
        "log_hr_per_sd:age_60-70",
        "log_hr_ratio:prs_x_male",
    }
    pooled, _ = meta_analyse(est)
    row = pooled.set_index("quantity").loc["log_hr_ratio:prs_x_male"]
    assert row["fixed"] == pytest.approx((100 * -0.2 + 25 * -0.4) / 125)  # weights 1 / se^2
    assert row["k"] == 2


def test_bundle_carries_the_modifiers_through_suppression(tmp_path):
    from igs.share.bundle import build_bundle
    from tests.conftest import HR_VALUES as values
    from tests.conftest import bundle_inputs

    files, ev = bundle_inputs(tmp_path)
    pd.DataFrame([{"effect": "hr_per_sd_by_age", "group": "age_under50", "n": 300, "n_events": 3, **values},
                  {"effect": "hr_per_sd_by_age", "group": "age_50-60", "n": 900, "n_events": 97, **values},
                  {"effect": "prs_interaction", "group": "prs_x_male", "n": 1000, "n_events": 100, **values}]).to_csv(
        ev / "prs_modifiers.tsv", sep="\t", index=False)  # fmt: skip
    eff = build_bundle(files, min_cell=5)["prs_effects.tsv"].set_index("group")
    assert pd.isna(eff.loc["age_under50", "n_events"]) and pd.isna(eff.loc["age_under50", "hr"])
    assert eff.loc["age_50-60", "n_events"] == 97 and eff.loc["prs_x_male", "hr"] == 1.5
    assert eff.loc["prs_x_male", "effect"] == "prs_interaction"


def test_report_shows_pooled_interactions(tmp_path):
    from igs.report.html import meta_section
    from igs.share.meta import gather_estimates, meta_analyse

    eff = pd.DataFrame({"endpoint": ["CAD"] * 2, "effect": ["hr_per_sd", "prs_interaction"],
                        "group": ["all", "prs_x_age_decade"], "log_hr": [0.4, -0.2], "se": [0.05, 0.02]})  # fmt: skip
    models = pd.DataFrame(
        columns=["endpoint", "model", "harrell_c", "harrell_c_low", "harrell_c_high"]
    )
    pooled, _ = meta_analyse(
        gather_estimates({"a": {"prs_effects.tsv": eff, "models.tsv": models}})
    )
    pooled.to_csv(tmp_path / "pooled.tsv", sep="\t", index=False)
    page = meta_section(tmp_path)
    assert "log_hr_ratio:prs_x_age_decade" in page and f"{np.exp(-0.2):.3g}" in page
