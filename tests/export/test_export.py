"""Clinician export helpers: risk categories, ancestry outliers, risk intervals, FHIR validity."""

from __future__ import annotations

import numpy as np
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
