"""Fairness tables: per ancestry group, sex and age band, planted differences in the score's
effect and in baseline risk are found; C equals lifelines' within each group."""

from __future__ import annotations

import numpy as np
import pandas as pd

from igs.models import SurvivalData
from igs.models.fairness import fairness_table

BETA = {"A": 0.5, "B": 0.5, "C": 0.15}  # log HR per unit of the score (SD 1) by ancestry group
SHIFT_C = 0.7  # group C's extra log baseline hazard, which the risk model does not know


def planted(n: int = 20_000, seed: int = 2) -> tuple[SurvivalData, dict[float, np.ndarray]]:
    """Constant hazards in age after entry (40-70), follow-up up to 15 years; the 'model' risk is
    the true one without group C's shift."""
    rng = np.random.default_rng(seed)
    anc = rng.choice(np.array(["A", "B", "C"]), p=[0.6, 0.25, 0.15], size=n)
    male = rng.integers(0, 2, n).astype(float)
    prs = rng.standard_normal(n)
    pc1 = rng.standard_normal(n)
    beta = np.vectorize(BETA.get)(anc)
    lp_model = np.log(0.006) + beta * prs + 0.5 * male
    rate_true = np.exp(lp_model + SHIFT_C * (anc == "C"))
    start = rng.uniform(40, 70, n)
    t = rng.exponential(1 / rate_true)
    censor = rng.uniform(5, 15, n)
    event = t <= censor
    stop = start + np.minimum(t, censor)
    feats = pd.DataFrame({"sex_male": male, "prs": prs, "PC1": pc1})
    data = SurvivalData("CAD", np.arange(n), start, stop, event, np.zeros(n, bool), feats,
                        {"clinical": ["sex_male"], "prs": ["prs", "PC1"]}, anc)  # fmt: skip
    risk = {h: 1 - np.exp(-np.exp(lp_model) * h) for h in (5.0, 10.0)}
    return data, risk


def test_planted_group_differences_are_found():
    data, risk = planted()
    got = fairness_table(data, risk).set_index(["dimension", "group"])
    assert set(got.index.get_level_values(0)) == {"ancestry", "sex", "age_at_entry"}
    sd = data.features["prs"].std(ddof=1)
    for g, b in BETA.items():
        row = got.loc[("ancestry", g)]
        assert row["hr_low"] < np.exp(b * sd) < row["hr_high"], (g, row.to_dict())
    # the model knows no baseline shift for C: it under-predicts there, by about exp(0.7) in rate
    assert abs(got.loc[("ancestry", "A"), "observed_expected"] - 1) < 0.1
    assert got.loc[("ancestry", "C"), "observed_expected"] > 1.6
    assert 0.85 < got.loc[("ancestry", "A"), "calibration_slope"] < 1.15
    # the score discriminates less in C, where its effect is smaller
    assert got.loc[("ancestry", "C"), "harrell_c"] < got.loc[("ancestry", "A"), "harrell_c"]
    # the counts partition the test set within each dimension
    for dim in ("ancestry", "sex", "age_at_entry"):
        assert got.loc[dim, "n"].sum() == len(data.iid)
        assert got.loc[dim, "n_events"].sum() == data.event.sum()


def test_c_in_each_group_equals_lifelines():
    from lifelines.utils import concordance_index

    data, risk = planted(n=4000, seed=5)
    got = fairness_table(data, risk).set_index(["dimension", "group"])
    for g in ("A", "B"):
        m = data.ancestry == g
        expected = concordance_index(data.followup[m], -risk[10.0][m], data.event[m])
        assert abs(got.loc[("ancestry", g), "harrell_c"] - expected) < 1e-9


def test_small_groups_keep_counts_without_metrics():
    data, risk = planted(n=3000, seed=7)
    anc = data.ancestry.copy()
    anc[:12] = "D"  # a dozen people: too few events for any metric
    small = SurvivalData(data.endpoint, data.iid, data.start, data.stop, data.event,
                         data.competing, data.features, data.groups, anc)  # fmt: skip
    row = fairness_table(small, risk).set_index(["dimension", "group"]).loc[("ancestry", "D")]
    assert row["n"] == 12 and row[["harrell_c", "observed_expected", "hr"]].isna().all()
