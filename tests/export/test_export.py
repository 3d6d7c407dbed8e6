"""Clinician export helpers: risk categories, ancestry outliers, risk intervals, FHIR validity."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from igs.export.clinician import ancestry_outlier, risk_category
from igs.models import fit_cox
from tests.conftest import planted


def test_risk_category_edges():
    got = risk_category(
        np.array([0.01, 0.05, 0.099, 0.1, 0.5, np.nan]), (0.05, 0.1), ("low", "mid", "high")
    )
    assert got.tolist() == ["low", "mid", "mid", "high", "high", ""]


def test_ancestry_outlier_flags_only_distant_people():
    rng = np.random.default_rng(0)
    ref = rng.normal(size=(5000, 4))
    people = np.vstack([ref[:100], [[8.0, 0, 0, 0]]])
    flags = ancestry_outlier(people, ref)
    assert flags[-1] and flags[:100].sum() <= 1
    # one PC: the squared z-score against the chi-square(1) quantile (3.29^2 at 0.999)
    one = ancestry_outlier(np.array([[0.0], [3.2], [3.4]]), np.array([[-1.0], [1.0]] * 500))
    assert one.tolist() == [False, False, True]


def test_risk_interval_brackets_the_risk_and_narrows_with_data():
    small, _ = planted(n=800)
    large, _ = planted(n=4000)
    widths = []
    for data in (small, large):
        model = fit_cox(data, ["sex_male", "bmi", "prs", "omics"])
        risk = model.absolute_risk(data.features, data.start, 10)
        low, high = model.risk_interval(data.features, data.start, 10)
        assert (low <= risk).all() and (risk <= high).all()
        widths.append(float(np.median(high - low)))
    assert widths[1] < widths[0]


def test_malformed_fhir_is_rejected():
    from fhir.resources.R4B.riskassessment import RiskAssessment

    with pytest.raises(ValueError):
        RiskAssessment.model_validate({"resourceType": "RiskAssessment", "status": "final",
                                       "prediction": [{"probabilityDecimal": "high"}]})  # fmt: skip


def population_risk(rates: pd.DataFrame, sex: str, start: float, horizon: float) -> float:
    """A person's risk within ``horizon`` years from ``start`` in the population table's own
    rates (per 100,000, constant in each band) with death competing, by scipy quadrature."""
    from scipy.integrate import quad

    t = rates[rates["sex"] == sex]
    inc = t[t["measure"] == "incidence"].sort_values("age_start")
    mort = t[t["measure"] == "mortality"].sort_values("age_start")
    edges = np.r_[inc["age_start"].to_numpy(float), inc["age_end"].to_numpy(float)[-1]]
    h, m = inc["rate"].to_numpy() / 1e5, mort["rate"].to_numpy() / 1e5

    def band(a: float) -> int:
        return int(np.searchsorted(edges, a, side="right")) - 1

    def cumulative(a: float) -> float:
        return quad(lambda u: h[band(u)] + m[band(u)], start, a, points=list(edges), limit=200)[0]

    return quad(lambda a: h[band(a)] * np.exp(-cumulative(a)), start, start + horizon,
                points=[e for e in edges if start < e < start + horizon], limit=200)[0]  # fmt: skip


def test_export_rows_and_fhir_carry_the_recalibrated_risk(tmp_path):
    """A biobank's recalibration.country reaches the export: with a score HR of 1 for women each
    woman's recalibrated risk is the population's own (quadrature of the table's rates, 1e-6),
    whatever her score; men (HR 1.5 per SD) rise with the score; the interval brackets the
    risk; the CSV and the FHIR RiskAssessment (a second prediction) name the country."""
    import json
    from dataclasses import replace
    from pathlib import Path

    import igs
    from igs.config import resolve_config
    from igs.export.clinician import clinician_table, write_clinician_export
    from igs.export.options import ExportOptions
    from igs.export.write import recalibrated_risks
    from igs.options import stage_config

    table = str(Path(igs.__file__).parent / "resources/recalibration/synthetic_gbd.tsv")
    cfg = resolve_config({"biobanks": [{"name": "x", "genotypes": {"path": "g", "format": "bed"},
                                        "phenotypes": {"source": "table", "clinical": "c.tsv"},
                                        "recalibration": {"country": "Southland"}}],
                          "models": {"recalibration": {"tables": {"Southland": table}}}},
                         check_files=False)  # fmt: skip
    record = stage_config(cfg, "export", "x")
    opts = ExportOptions.from_config(record["config"], record["biobank"])
    assert opts.country == "Southland" and opts.recalibration_table == table
    data, _ = planted(n=400)
    model = fit_cox(data, ["sex_male", "bmi", "prs"], model_set="clinical_prs")
    model.to_json(tmp_path / "model.json")
    pd.DataFrame({"group": ["all", "female", "male"], "log_hr": [0.2, 0.0, np.log(1.5)],
                  "se": [0.05, 0.0, 0.05]}).to_csv(tmp_path / "hr_per_sd.tsv", sep="\t", index=False)  # fmt: skip
    people = data.subset(np.arange(8))
    # (two PCs: ancestry_outlier needs a covariance matrix)
    people = replace(people, features=people.features.assign(PC2=np.linspace(-1, 1, 8)),
                     groups={**people.groups, "prs": ["prs", "PC1", "PC2"]})  # fmt: skip
    scores = pd.DataFrame({"IID": people.iid, "pgs_id": "P1", "SUM": 0.0, "percentile": 50.0,
                           "Z_norm2": np.linspace(-2, 2, 8)})  # fmt: skip
    out = clinician_table(
        people, np.full(8, ""), scores, model, tmp_path / "model.json", pgs_id="P1",
        match_rate=1.0, horizon=10.0, thresholds=(0.05, 0.1), labels=("low", "mid", "high"),
        recalibrated=recalibrated_risks(model, tmp_path / "model.json", opts),
    )  # fmt: skip
    rates = pd.read_csv(table, sep="\t")
    rates = rates[rates["location"] == "Southland"]
    women = people.features["sex_male"].to_numpy() == 0
    assert 0 < women.sum() < 8
    want = [population_risk(rates, "female", s, 10.0) for s in people.start[women]]
    np.testing.assert_allclose(out.loc[women, "risk_recalibrated"], want, atol=1e-6, rtol=0)
    men = out[~women].assign(start=people.start[~women]).sort_values("prs_z")
    ratio = men["risk_recalibrated"] / [
        population_risk(rates, "male", a, 10.0) for a in men["start"]
    ]
    assert len(men) > 1 and (np.diff(ratio) > 0).all()  # HR 1.5 per SD: above the population's
    assert ratio.iloc[-1] > 1 > ratio.iloc[0]
    assert (out["risk_recalibrated_low"] <= out["risk_recalibrated"]).all()
    assert (out["risk_recalibrated"] <= out["risk_recalibrated_high"]).all()
    assert set(out["recalibration_country"]) == {"Southland"}
    write_clinician_export(out, model, ["P1"], tmp_path / "export", "CAD")
    csv = pd.read_csv(tmp_path / "export" / "CAD_risk.csv")
    np.testing.assert_allclose(csv["risk_recalibrated"], out["risk_recalibrated"], rtol=1e-5)
    fhir = sorted((tmp_path / "export" / "fhir" / "CAD").glob("*.json"))
    res = json.loads(fhir[0].read_text())
    iid = res["subject"]["identifier"]["value"]
    row = out.set_index("IID").loc[iid]
    base, recal = res["prediction"]
    assert base["probabilityDecimal"] == pytest.approx(row["risk"], abs=1e-6)
    assert recal["probabilityDecimal"] == pytest.approx(row["risk_recalibrated"], abs=1e-6)
    assert "Southland" in recal["outcome"]["text"] and "95% interval" in recal["rationale"]


def test_recalibration_country_must_be_a_configured_location():
    from igs.config import resolve_config
    from igs.errors import ConfigError

    bb = {"name": "x", "genotypes": {"path": "g", "format": "bed"},
          "phenotypes": {"source": "table", "clinical": "c.tsv"},
          "recalibration": {"country": "Atlantis"}}  # fmt: skip
    for tables, names in (({}, "none given"), ({"Northland": "t.tsv"}, "Northland")):
        with pytest.raises(
            ConfigError, match=f"is not a location of models.recalibration.tables \\({names}"
        ):
            resolve_config({"biobanks": [bb], "models": {"recalibration": {"tables": tables}}},
                           check_files=False)  # fmt: skip


def test_export_carries_the_reference_population_and_flags_unvalidated_ones(tmp_path):
    """Planted populations: EUR (200 people, 40 events), AFR (70, 10), EAS (30, 3). With
    share.min_cell 5 the fairness table validates EUR and AFR only; the export carries each
    person's population, probability, Z and percentile within it, and flags EAS, a probability
    below export.min_population_probability (0.6 here) and an unknown population; the CSV and
    the FHIR note carry them."""
    import json

    from igs.config import resolve_config
    from igs.export.clinician import clinician_table, write_clinician_export
    from igs.export.options import ExportOptions
    from igs.export.write import evaluation_populations
    from igs.models.dataset import assemble
    from igs.models.fairness import fairness_table
    from igs.options import stage_config
    from tests.conftest import survival_inputs

    cfg = resolve_config({"biobanks": [{"name": "x", "genotypes": {"path": "g", "format": "bed"},
                                        "phenotypes": {"source": "table", "clinical": "c.tsv"}}],
                          "export": {"min_population_probability": 0.6}}, check_files=False)  # fmt: skip
    opts = ExportOptions.from_config(stage_config(cfg, "export", "x")["config"])
    assert (opts.min_population_probability, opts.min_cell) == (0.6, 5)

    endpoint, covariates, scores, pcs = survival_inputs(n=300, seed=4)
    pops = np.array(["EUR"] * 200 + ["AFR"] * 70 + ["EAS"] * 30, dtype=object)
    events = np.zeros(300, bool)
    events[:40] = events[200:210] = events[270:273] = True
    endpoint = endpoint.assign(event=events)
    prob = np.full(300, 0.9)
    prob[1] = 0.55  # EUR, but below 0.6
    pops[2] = None  # the classifier gave no population
    scores = scores.assign(SUM=0.0, percentile=50.0, most_similar_population=pops,
                           most_similar_population_probability=prob,
                           Z_most_similar_population=np.linspace(-3, 3, 300),
                           percentile_most_similar_population=np.linspace(0, 100, 300))  # fmt: skip
    data = assemble("CAD", endpoint, covariates, scores, pcs, "P", n_pcs=2)
    risk = {5.0: np.full(300, 0.05), 10.0: np.full(300, 0.1)}
    ev = tmp_path / "evaluate"
    ev.mkdir()
    fairness_table(data, risk, age_scale=False).to_csv(ev / "fairness.tsv", sep="\t", index=False)
    planted_data, _ = planted(n=400)
    model = fit_cox(planted_data, ["sex_male", "bmi", "prs"], model_set="clinical_prs")
    model.to_json(ev / "model.json")
    validated = evaluation_populations(ev / "model.json", opts.min_cell)
    assert validated == ("AFR", "EUR")  # EAS: 3 events < 5; the unknown person has 0
    assert evaluation_populations(tmp_path / "model.json", 5) == ()  # no fairness.tsv there

    out = clinician_table(
        data, np.full(300, ""), scores, model, ev / "model.json", pgs_id="P", match_rate=1.0,
        horizon=10.0, thresholds=(0.05, 0.1), labels=("low", "mid", "high"),
        validated=validated, min_population_probability=opts.min_population_probability,
    )  # fmt: skip
    want = np.zeros(300, bool)
    want[[1, 2]] = True
    want[270:] = True
    np.testing.assert_array_equal(out["flag_population_not_validated"], want)
    assert out["most_similar_population"].tolist()[:3] == ["EUR", "EUR", ""]
    np.testing.assert_allclose(
        out["prs_percentile_most_similar_population"], np.linspace(0, 100, 300)
    )
    np.testing.assert_allclose(out["prs_z_most_similar_population"], np.linspace(-3, 3, 300))
    assert out["most_similar_population_probability"].iloc[1] == 0.55

    write_clinician_export(out.iloc[[0, 1, 280]], model, ["P"], tmp_path / "export", "CAD")
    csv = pd.read_csv(tmp_path / "export" / "CAD_risk.csv", keep_default_na=False)
    assert csv["most_similar_population"].tolist() == ["EUR", "EUR", "EAS"]
    assert csv["flag_population_not_validated"].tolist() == [False, True, True]
    files = sorted((tmp_path / "export" / "fhir" / "CAD").glob("*.json"))
    assert len(files) == 3
    for f in files:
        res = json.loads(f.read_text())
        row = out.set_index("IID").loc[res["subject"]["identifier"]["value"]]
        note = res["note"][0]["text"]
        pct = row["prs_percentile_most_similar_population"]
        assert f"population: {row['most_similar_population']} (probability" in note
        assert f"PRS percentile {pct:.1f} within {row['most_similar_population']}" in note
        flagged = "population_not_validated" in res["prediction"][0]["rationale"]
        assert flagged == row["flag_population_not_validated"]


def test_export_without_a_reference_panel_has_empty_population_columns(tmp_path):
    from igs.export.clinician import clinician_table
    from igs.models.dataset import assemble
    from tests.conftest import survival_inputs

    endpoint, covariates, scores, pcs = survival_inputs(n=50, seed=3)
    scores = scores.assign(SUM=0.0, percentile=50.0)
    data = assemble("CAD", endpoint, covariates, scores, pcs, "P", n_pcs=2)
    planted_data, _ = planted(n=400)
    model = fit_cox(planted_data, ["sex_male", "bmi", "prs"], model_set="clinical_prs")
    model.to_json(tmp_path / "model.json")
    out = clinician_table(
        data, np.full(50, ""), scores, model, tmp_path / "model.json", pgs_id="P",
        match_rate=1.0, horizon=10.0, thresholds=(0.05, 0.1), labels=("low", "mid", "high"),
    )  # fmt: skip
    assert (out["most_similar_population"] == "").all()
    assert out["prs_percentile_most_similar_population"].isna().all()
    assert not out["flag_population_not_validated"].any()
