"""Choosing the Cox penalty (issue #14 item 15): on a small (500-person) cohort a penalty whose
model does not converge is skipped and named; only when none converges is that an error, and it
names the real model set."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from igs.errors import IGSError
from igs.models import EvaluationSettings, SurvivalData, evaluate_endpoint, fit_cox
from igs.models.evaluate import choose_penalizer
from tests.conftest import planted


def small_cohort_with_a_rare_feature() -> SurvivalData:
    """500 people (62 events); `rare` marks the five earliest cases, which separates them from
    everybody else: the unpenalised Cox likelihood keeps rising as its coefficient grows."""
    data, _ = planted(n=500, seed=5)
    first = np.sort(data.stop[data.event])[5]
    rare = (data.event & (data.stop < first)).astype(float)
    groups = {**data.groups, "clinical": ["sex_male", "bmi", "rare"]}
    return SurvivalData("CAD", data.iid, data.start, data.stop, data.event, data.competing,
                        data.features.assign(rare=rare), groups)  # fmt: skip


COLUMNS = ["sex_male", "bmi", "rare", "prs"]


def test_unpenalised_fit_does_not_converge_but_a_penalised_one_does():
    data = small_cohort_with_a_rare_feature()
    assert len(data.iid) == 500 and int(data.event.sum()) == 62
    with pytest.raises((IGSError, np.linalg.LinAlgError)):
        fit_cox(data, COLUMNS, penalizer=0.0)
    assert np.all(np.isfinite(fit_cox(data, COLUMNS, penalizer=0.1).coef))


def test_a_penalty_that_does_not_converge_is_skipped_and_logged(caplog):
    data = small_cohort_with_a_rare_feature()
    with caplog.at_level(logging.WARNING, logger="igs.models.evaluate"):
        chosen = choose_penalizer(data, COLUMNS, (0.0, 0.01, 0.1), 42, (5.0, 10.0), "clinical")
    assert chosen in (0.01, 0.1)
    assert "CAD (clinical): penalizer 0 skipped" in caplog.text
    # the choice among the penalties that converge is unchanged by the skipped one
    assert chosen == choose_penalizer(data, COLUMNS, (0.01, 0.1), 42, (5.0, 10.0), "clinical")


def test_no_converging_penalty_names_the_model_set():
    data = small_cohort_with_a_rare_feature()
    with pytest.raises(
        IGSError,
        match=r"CAD \(clinical_prs\): no penalizer in models\.penalizers gave a model that "
        r"converges in every cross-validation fold: 0 \(.*\); 0 \(",
    ):
        choose_penalizer(data, COLUMNS, (0.0, 0.0), 42, (5.0, 10.0), "clinical_prs")


def test_default_penalizers_evaluate_a_500_person_cohort():
    data = small_cohort_with_a_rare_feature()
    settings = EvaluationSettings(n_bootstrap=10, n_folds=3)
    assert settings.penalizers == (0.0, 0.01, 0.1)
    result = evaluate_endpoint(data, settings)
    comp = result["comparison"].set_index("model")
    assert comp.loc["clinical/cox", "penalizer"] > 0  # 0 did not converge with `rare`
    assert 0.5 < comp.loc["clinical_prs_omics/cox", "harrell_c"] <= 1
