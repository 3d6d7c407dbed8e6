"""Fairness tables: per ancestry group, sex and age band, planted differences in the score's
effect and in baseline risk are found; C equals lifelines' within each group."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

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


def test_bundle_suppresses_small_groups_and_their_complements():
    """A fairness group with 3 events is blanked with its metrics; the groups of a dimension sum
    to the model's test counts, so one more group is blanked too, and the checker finds nothing
    recoverable; without that complement it would."""
    from igs.share.bundle import protect_tables
    from igs.share.disclosure import check_bundle

    models = pd.DataFrame({"endpoint": ["CAD"], "model": ["clinical/cox"], "n_train": [700],
                           "n_test": [300], "events_test": [40], "harrell_c": [0.7]})  # fmt: skip
    rows = [("ancestry", "A", 200, 30), ("ancestry", "B", 70, 7), ("ancestry", "C", 30, 3),
            ("sex", "female", 150, 15), ("sex", "male", 150, 25)]  # fmt: skip
    fair = pd.DataFrame([{"endpoint": "CAD", "dimension": d, "group": g, "n": n, "n_events": k,
                          "harrell_c": 0.7, "observed_expected": 1.0, "calibration_slope": 1.0,
                          "hr": 1.5, "hr_low": 1.2, "hr_high": 1.9, "log_hr": 0.4, "se": 0.1}
                         for d, g, n, k in rows])  # fmt: skip
    naive = fair.astype(object).copy()
    naive.loc[2, ["n_events", "harrell_c", "hr", "log_hr", "se"]] = None
    found = check_bundle({"models.tsv": models, "fairness.tsv": naive}, 5)
    assert any(f.kind == "recoverable_count" and "fairness.tsv row 3 n_events = 3" in f.detail
               for f in found), found  # fmt: skip
    tables, touched = protect_tables({"models.tsv": models, "fairness.tsv": fair}, 5)
    out = tables["fairness.tsv"]
    assert pd.isna(out.loc[2, "n_events"]) and pd.isna(out.loc[2, "harrell_c"])
    assert out.loc[[0, 1], "n_events"].isna().sum() == 1  # the complement within ancestry
    assert out.loc[[3, 4], "n_events"].notna().all()  # sexes are not small
    assert check_bundle(tables, 5) == [] and touched["fairness.tsv"] == 2


def test_meta_pools_fairness_hrs():
    from igs.share.meta import gather_estimates, meta_analyse

    def bundle(log_hr: float, se: float) -> dict:
        fair = pd.DataFrame({"endpoint": ["CAD", "CAD"], "dimension": ["ancestry", "sex"],
                             "group": ["A", "female"], "log_hr": [log_hr, None], "se": [se, None]})  # fmt: skip
        models = pd.DataFrame(
            columns=["endpoint", "model", "harrell_c", "harrell_c_low", "harrell_c_high"]
        )
        eff = pd.DataFrame(columns=["endpoint", "effect", "group", "log_hr", "se"])
        return {"prs_effects.tsv": eff, "models.tsv": models, "fairness.tsv": fair}

    pooled, _ = meta_analyse(gather_estimates({"a": bundle(0.2, 0.1), "b": bundle(0.7, 0.2)}))
    row = pooled.set_index("quantity").loc["fairness_log_hr_per_sd:ancestry:A"]
    assert row["fixed"] == pytest.approx((100 * 0.2 + 25 * 0.7) / 125) and row["k"] == 2
    assert len(pooled) == 1  # the blanked female row is not pooled


def test_reference_population_is_the_ancestry_group():
    """With a reference panel the groups are the planted most similar populations (dimension
    reference_population), not the biobank's own clusters; counts are hand-counted."""
    from igs.models.dataset import assemble
    from tests.conftest import survival_inputs

    endpoint, covariates, scores, pcs = survival_inputs(n=300, seed=4)
    pops = np.array(["EUR"] * 200 + ["AFR"] * 70 + ["EAS"] * 30)
    own = np.where(np.arange(300) % 2 == 0, "cluster1", "cluster2")  # unrelated to pops
    with_ref = scores.assign(ancestry_group=own, most_similar_population=pops,
                             most_similar_population_probability=0.9)  # fmt: skip
    data = assemble("CAD", endpoint, covariates, with_ref, pcs, "P")
    assert data.ancestry_dimension == "reference_population"
    risk = {5.0: np.full(300, 0.1), 10.0: np.full(300, 0.2)}
    got = fairness_table(data, risk, age_scale=False).set_index(["dimension", "group"])
    assert set(got.index.get_level_values(0)) == {"reference_population", "sex"}
    events = endpoint["event"].to_numpy()
    for pop, lo, hi in (("EUR", 0, 200), ("AFR", 200, 270), ("EAS", 270, 300)):
        row = got.loc[("reference_population", pop)]
        assert row["n"] == hi - lo and row["n_events"] == events[lo:hi].sum()
    # a subset keeps the dimension; without the reference column the biobank's clusters are used
    assert data.subset(np.arange(10)).ancestry_dimension == "reference_population"
    own_data = assemble("CAD", endpoint, covariates, scores.assign(ancestry_group=own), pcs, "P")
    got = fairness_table(own_data, risk, age_scale=False).set_index(["dimension", "group"])
    assert got.loc[("ancestry", "cluster1"), "n"] == 150
