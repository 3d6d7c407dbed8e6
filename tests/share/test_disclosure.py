"""Disclosure control: hand-made bundles whose small counts can be recovered by subtraction must
fail the checker, and the same bundles after protection must pass; outgoing files are scanned
for person IDs, dates and exact event ages."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from igs.share.bundle import merge_calibration_bins, protect_tables
from igs.share.disclosure import check_bundle, check_files

EFFECT_VALUES = ["hr", "log_hr", "se"]


def effects(rows: list[tuple[str, str, int, int]]) -> pd.DataFrame:
    """prs_effects.tsv rows (effect, group, n, n_events) of endpoint T2D, hr = 1.5."""
    return pd.DataFrame(
        [
            {
                "endpoint": "T2D",
                "effect": e,
                "group": g,
                "n": n,
                "n_events": k,
                "hr": 1.5,
                "log_hr": 0.405,
                "se": 0.1,
            }
            for e, g, n, k in rows
        ]
    )


# the case: totals minus the published percentile groups give the blanked 0-1% group
PERCENTILE = [("hr_per_sd", "all", 4695, 317), ("percentile_group", "0-1", 47, 1),
              ("percentile_group", "1-5", 188, 9), ("percentile_group", "5-95", 4225, 290),
              ("percentile_group", "95-100", 235, 17)]  # fmt: skip
COUNTS = pd.DataFrame({"endpoint": ["T2D"], "n_included": [4695], "n_events": [317],
                       "n_competing_deaths": [709], "excluded_event_before_start": [284]})  # fmt: skip


def only_primary(table: pd.DataFrame, cols: list[str], min_cell: int = 5) -> pd.DataFrame:
    """The old suppression: blank each small count and its row's values, nothing else."""
    table = table.astype(object).copy()
    for i in range(len(table)):
        if any(0 < table.at[i, c] < min_cell for c in cols):
            for c in [*cols, *[c for c in EFFECT_VALUES if c in table]]:
                table.at[i, c] = None
    return table


def test_subtraction_recovers_a_cell_that_only_primary_suppression_blanks():
    naive = {
        "counts.tsv": COUNTS,
        "prs_effects.tsv": only_primary(effects(PERCENTILE), ["n", "n_events"]),
    }
    found = check_bundle(naive, 5)
    recovered = [f.detail for f in found if f.kind == "recoverable_count"]
    # 317 - 9 - 290 - 17 = 1 event in the 0-1% group
    assert any("prs_effects.tsv row 2 n_events = 1 " in d for d in recovered), found


def test_complementary_suppression_leaves_nothing_recoverable():
    tables, touched = protect_tables(
        {"counts.tsv": COUNTS, "prs_effects.tsv": effects(PERCENTILE)}, 5,
        value_cols={"prs_effects.tsv": EFFECT_VALUES},
    )  # fmt: skip
    eff = tables["prs_effects.tsv"]
    # the small cell, and the smallest other non-zero event count of that sum (1-5%: 9 events)
    assert eff["n_events"].isna().tolist() == [False, True, True, False, False]
    assert eff.loc[1:2, "hr"].isna().all() and eff.loc[[0, 3, 4], "hr"].notna().all()
    assert eff["n"].notna().all()  # 47 people is not small; its events are
    assert touched["prs_effects.tsv"] == 2
    assert check_bundle(tables, 5) == []


def test_sex_split_and_people_without_event_are_counts_too():
    # female 3 events: all - male gives it back; 1-5% 40 people with 38 events leaves 2 without
    rows = [("hr_per_sd", "all", 1000, 100), ("hr_per_sd", "female", 500, 3),
            ("hr_per_sd", "male", 500, 97), ("percentile_group", "0-50", 960, 62),
            ("percentile_group", "50-100", 40, 38)]  # fmt: skip
    naive = {"prs_effects.tsv": only_primary(effects(rows), ["n", "n_events"])}
    kinds = {(f.kind, f.detail.split(" = ")[0]) for f in check_bundle(naive, 5)}
    assert ("recoverable_count", "prs_effects.tsv row 2 n_events") in kinds
    assert ("recoverable_count", "prs/4/no_event") in kinds
    tables, _ = protect_tables({"prs_effects.tsv": effects(rows)}, 5)
    assert check_bundle(tables, 5) == []
    eff = tables["prs_effects.tsv"]
    assert eff.loc[[1, 2], "n_events"].isna().all()  # female and its complement, male
    assert eff.loc[4, ["n", "n_events"]].isna().any()  # 40 - 38 = 2 is no longer published


def test_counts_rows_share_one_cohort():
    # CAD excludes 3 people; T2D's row gives the cohort size (4979), so 4979 - 4976 = 3
    counts = pd.DataFrame({"endpoint": ["CAD", "T2D"], "n_included": [4976, 4695],
                           "n_events": [404, 317], "n_competing_deaths": [707, 709],
                           "excluded_event_before_start": [3, 284]})  # fmt: skip
    naive = counts.astype(object)
    naive.at[0, "excluded_event_before_start"] = None
    found = check_bundle({"counts.tsv": naive}, 5)
    assert [f.kind for f in found] == ["recoverable_count"], found
    assert "excluded_event_before_start = 3" in found[0].detail
    tables, _ = protect_tables({"counts.tsv": counts}, 5)
    assert check_bundle(tables, 5) == []
    assert tables["counts.tsv"].loc[0, ["n_included", "excluded_event_before_start"]].isna().all()


def test_calibration_bins_imply_event_counts():
    calib = pd.DataFrame({"endpoint": "CAD", "model": "clinical/cox", "bin": [1, 2, 3, 4],
                          "n": [100, 100, 100, 100], "predicted": [0.01, 0.02, 0.04, 0.10],
                          "observed": [0.01, 0.03, 0.05, 0.12]})  # fmt: skip
    found = check_bundle({"calibration.tsv": calib}, 5)
    assert [f.detail for f in found] == [
        "row 1: observed x n implies 1 events",
        "row 2: observed x n implies 3 events",
    ]
    merged = merge_calibration_bins(calib, 5)
    assert check_bundle({"calibration.tsv": merged}, 5) == []
    # bins 1-3 hold 1 + 3 + 5 = 9 events; means weighted by n (here equal)
    assert merged["bin"].tolist() == ["1-3", "4"]
    assert merged["n"].tolist() == [300, 100]
    assert merged["observed"].tolist() == pytest.approx([0.03, 0.12])
    assert merged["predicted"].tolist() == pytest.approx([0.07 / 3, 0.10])


def test_value_left_beside_a_blanked_count():
    eff = effects(PERCENTILE).astype(object)
    eff.at[1, "n_events"] = None
    eff.at[2, "n_events"] = None  # complement present, but the HRs were left in
    found = check_bundle({"counts.tsv": COUNTS, "prs_effects.tsv": eff}, 5)
    assert sorted(f.detail for f in found if f.kind == "value_of_blank") == [
        "row 2 keeps values beside a blanked count",
        "row 3 keeps values beside a blanked count",
    ]


def test_files_with_ids_dates_and_exact_ages(tmp_path):
    ages = np.array([61.234567, 70.5, 55.123456789])
    leaky = tmp_path / "model.json"
    leaky.write_text(json.dumps({"baseline_times": [55.123456789, 61.234567], "id": "north_000017",
                                 "made": "2021-03-04"}))  # fmt: skip
    table = tmp_path / "t.tsv"
    table.write_text("group\tvalue\nA\t61.2346\nB\t61.23\nC\t70.5000001\n")  # %.6g and less
    clean = tmp_path / "coarse.json"
    clean.write_text(json.dumps({"baseline_times": [55.0, 60.0, 65.0], "c": 0.61234567}))
    found = check_files([leaky, table, clean], person_ids=["north_000017", "123"], ages=ages)
    assert {(f.file.rsplit("/", 1)[-1], f.kind) for f in found} == {
        ("model.json", "person_id"), ("model.json", "date"), ("model.json", "exact_age"),
        ("t.tsv", "exact_age"),
    }  # fmt: skip
    by = {(f.file.rsplit("/", 1)[-1], f.kind): f.detail for f in found}
    assert by[("model.json", "exact_age")].startswith("2 number(s)")
    assert by[("t.tsv", "exact_age")].startswith("2 number(s)")  # 61.2346 and 70.5000001


def test_coarse_baseline_by_hand():
    from igs.models.cox import coarse_baseline

    times = np.array([60.2, 60.5, 61.1, 61.9, 62.3, 63.0, 65.5, 70.1])
    events = np.array([1, 2, 1, 1, 1, 2, 1, 1])
    cumhaz = np.cumsum(events * 0.01)
    # (60, 61] holds 3 events, (61, 63] 5, the 2 after 63 join the step before: knots 60, 61, 71
    knots, h = coarse_baseline(times, cumhaz, events, min_events=3, grid=1.0)
    assert knots.tolist() == [60.0, 61.0, 71.0]
    assert h.tolist() == pytest.approx([0.0, 0.03, 0.10])
    knots, h = coarse_baseline(times, cumhaz, events, min_events=5, grid=2.0)
    assert knots.tolist() == [60.0, 62.0, 72.0]  # (60, 62] holds 5; 5 more up to 72
    assert h.tolist() == pytest.approx([0.0, 0.05, 0.10])


def test_saved_model_keeps_no_event_age(tmp_path):
    from igs.models.cox import CoxModel, fit_cox
    from igs.models.dataset import assemble
    from tests.conftest import survival_inputs

    endpoint, covariates, scores, pcs = survival_inputs(n=2000)
    endpoint["stop"] = endpoint["stop"] + 10  # exit ages 61 to 70, on the age scale
    data = assemble("CAD", endpoint, covariates, scores, pcs, "P")
    fitted = fit_cox(data, ["prs", "bmi"])
    coarse = fitted.coarsened(min_events=5, grid=1.0)
    coarse.to_json(tmp_path / "model.json")
    saved = json.loads((tmp_path / "model.json").read_text())
    assert "baseline_events" not in saved and saved["baseline_grid"] == {
        "grid": 1.0,
        "min_events": 5,
    }
    knots = np.array(saved["baseline_times"])
    assert np.array_equal(knots, np.round(knots))  # whole years only
    event_ages = data.stop[data.event.astype(bool)]
    per_step = np.histogram(event_ages, bins=knots)[0]
    assert per_step.min() >= 5 and per_step.sum() == len(event_ages)
    ages = np.r_[data.stop, data.start]
    assert check_files([tmp_path / "model.json"], ages=ages) == []
    fitted.to_json(tmp_path / "fine.json")  # the fitted baseline would disclose every event age
    [finding] = check_files([tmp_path / "fine.json"], ages=ages)
    assert finding.kind == "exact_age"
    # the cumulative hazard agrees at the knots and risks stay close; the file gives the same risks
    assert coarse.cumulative_hazard(knots) == pytest.approx(fitted.cumulative_hazard(knots))
    fine_risk = fitted.absolute_risk(data.features, data.start, 5.0)
    coarse_risk = coarse.absolute_risk(data.features, data.start, 5.0)
    assert np.abs(coarse_risk - fine_risk).max() < 0.02
    np.testing.assert_allclose(
        CoxModel.from_json(tmp_path / "model.json").absolute_risk(data.features, data.start, 5.0),
        coarse_risk,
    )
    # a version-1 artifact (step baseline, no baseline_grid) still loads and gives its risks
    old = json.loads((tmp_path / "fine.json").read_text()) | {"artifact_version": 1}
    del old["baseline_grid"]
    (tmp_path / "v1.json").write_text(json.dumps(old))
    np.testing.assert_allclose(
        CoxModel.from_json(tmp_path / "v1.json").absolute_risk(data.features, data.start, 5.0),
        fine_risk,
    )


def test_reference_population_rows_of_fairness_are_protected_like_ancestry():
    """fairness.tsv grouped by the reference panel's populations: AFR's 3 events are blanked
    with its metrics, and so is one more event count of that dimension (41 - 30 - 8 = 3 would
    give it back); the sex rows, all above min_cell, stay."""
    models = pd.DataFrame({"endpoint": ["CAD"], "model": ["clinical_prs/cox"], "n_test": [300],
                           "events_test": [41], "harrell_c": [0.7]})  # fmt: skip
    fair = pd.DataFrame({"endpoint": "CAD",
                         "dimension": ["reference_population"] * 3 + ["sex", "sex"],
                         "group": ["AFR", "EAS", "EUR", "female", "male"],
                         "n": [60, 40, 200, 150, 150], "n_events": [3, 8, 30, 20, 21],
                         "harrell_c": 0.7, "hr": 1.5, "log_hr": 0.405, "se": 0.1})  # fmt: skip
    naive = {"models.tsv": models, "fairness.tsv": only_primary(fair, ["n", "n_events"])}
    recovered = [f.detail for f in check_bundle(naive, 5) if f.kind == "recoverable_count"]
    assert any("fairness.tsv row 1 n_events = 3" in d for d in recovered), recovered
    tables, _ = protect_tables({"models.tsv": models, "fairness.tsv": fair}, 5)
    out = tables["fairness.tsv"]
    assert check_bundle(tables, 5) == []
    assert out.loc[0, ["n_events", "hr", "harrell_c"]].isna().all()
    assert out.loc[[1, 2], "n_events"].isna().sum() == 1  # the smallest complement: EAS
    assert pd.isna(out.loc[1, "n_events"])
    assert out.loc[[3, 4], "n_events"].notna().all()
