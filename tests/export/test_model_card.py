"""PRS-RS model cards: fields from the scoring-file header, the match summary and the evaluation
tables, and the export's flag for ages outside the modelled range."""

from __future__ import annotations

import numpy as np
import pandas as pd

from igs.export.clinician import age_outside_model
from igs.export.model_card import NOT_STATED, model_card
from igs.scores.scorefile import read_scoring_file


class _Model:
    def __init__(self, time_scale: str, times: list[float]):
        self.time_scale, self.baseline_times = time_scale, times


def test_age_outside_the_models_event_ages_is_flagged():
    start = np.array([44.0, 50.0, 60.0, 75.0])
    got = age_outside_model(_Model("age", [45.0, 62.0, 80.0]), start, 10.0)
    assert got.tolist() == [True, False, False, True]  # before 45; 75 + 10 beyond 80
    assert not age_outside_model(_Model("time_on_study", [1.0, 2.0]), start, 10.0).any()


def test_card_carries_header_match_and_validation(tmp_path):
    score = tmp_path / "PGS_X.txt"
    score.write_text(
        "#pgs_id=PGS_X\n#trait_reported=Coronary artery disease\n#genome_build=GRCh38\n"
        "#weight_type=beta\n#ancestry_distribution=European: 100%\n"
        "rsID\tchr_name\tchr_position\teffect_allele\tother_allele\teffect_weight\n"
        "rs1\t1\t100\tA\tG\t0.1\n"
    )
    header = read_scoring_file(score).header
    ev = tmp_path / "evaluate"
    ev.mkdir()
    pd.DataFrame({"model": ["clinical/cox", "clinical_prs/cox"], "harrell_c": [0.70, 0.74],
                  "harrell_c_low": [0.66, 0.71], "harrell_c_high": [0.74, 0.77],
                  "calibration_slope": [1.0, 0.97], "observed_expected": [1.0, 1.02],
                  "n_test": [3000, 3000], "events_test": [240, 240]}).to_csv(
        ev / "comparison.tsv", sep="\t", index=False)  # fmt: skip
    pd.DataFrame({"group": ["all"], "n": [10000], "n_events": [800], "hr": [1.6], "hr_low": [1.5],
                  "hr_high": [1.7]}).to_csv(ev / "hr_per_sd.tsv", sep="\t", index=False)  # fmt: skip
    pd.DataFrame({"dimension": ["ancestry", "ancestry"], "group": ["EUR", "AFR"], "n": [2700, 300],
                  "n_events": [220, 20], "harrell_c": [0.75, 0.68]}).to_csv(
        ev / "fairness.tsv", sep="\t", index=False)  # fmt: skip
    card = model_card(
        "CAD", "PGS_X", header, {"n_variants": 1000, "matched": 950, "match_rate": 0.95}, ev,
        model_set="clinical_prs", time_scale="age", modelled_ages=(40.2, 88.9), horizon=10,
        ancestry_adjustment="Z_norm2 on 4 PCs",
    )  # fmt: skip
    assert card["score"]["trait_reported"] == "Coronary artery disease"
    assert card["score"]["citation"] == NOT_STATED
    assert card["development"]["ancestry"] == "European: 100%"
    assert card["development"]["genome_build"] == "GRCh38"
    assert (
        card["application"]["variants_matched"] == 950
        and card["application"]["variants_total"] == 1000
    )
    m = card["validation"]["metrics"]
    assert (m["harrell_c"], m["harrell_c_low"], m["harrell_c_high"]) == (0.74, 0.71, 0.77)
    assert card["validation"]["hr_per_sd"][0]["hr_low"] == 1.5
    assert [p["group"] for p in card["validation"]["populations"]] == ["EUR", "AFR"]
    assert "ages 40-89" in card["intended_use"] and len(card["limitations"]) >= 4


def test_card_lists_the_validated_reference_populations(tmp_path):
    """Reference populations in fairness.tsv: EUR (40 events) and AFR (6) reach min_cell 5, EAS
    (3) does not; the card lists all three as evaluated and the two as validated."""
    from igs.export.clinician import validated_populations

    ev = tmp_path / "evaluate"
    ev.mkdir()
    fair = pd.DataFrame({"dimension": ["reference_population"] * 3 + ["sex", "sex"],
                         "group": ["AFR", "EAS", "EUR", "female", "male"],
                         "n": [60, 20, 200, 140, 140], "n_events": [6, 3, 40, 20, 29]})  # fmt: skip
    fair.to_csv(ev / "fairness.tsv", sep="\t", index=False)
    validated = validated_populations(fair, 5)
    assert validated == ("AFR", "EUR")
    assert validated_populations(fair, 7) == ("EUR",)
    card = model_card(
        "CAD", "PGS_X", {}, {"n_variants": 10, "matched": 10, "match_rate": 1.0}, ev,
        model_set="clinical_prs", time_scale="age", modelled_ages=(40.0, 80.0), horizon=10,
        ancestry_adjustment="Z_norm2 on the reference panel", validated_populations=validated,
        min_cell=5, min_population_probability=0.5,
    )  # fmt: skip
    ref = card["validation"]["reference_populations"]
    assert ref["used"] and ref["validated"] == ["AFR", "EUR"]
    assert [(r["group"], r["n_events"]) for r in ref["evaluated"]] == [
        ("AFR", 6),
        ("EAS", 3),
        ("EUR", 40),
    ]
    assert "at least 5 events" in ref["rule"] and "probability >= 0.5" in ref["rule"]
    # without reference rows (the biobank's own ancestry groups) nothing counts as validated
    fair[fair["dimension"] == "sex"].to_csv(ev / "fairness.tsv", sep="\t", index=False)
    card = model_card(
        "CAD", "PGS_X", {}, {}, ev, model_set="clinical_prs", time_scale="age",
        modelled_ages=(40.0, 80.0), horizon=10, ancestry_adjustment="",
    )  # fmt: skip
    ref = card["validation"]["reference_populations"]
    assert not ref["used"] and ref["validated"] == [] and ref["evaluated"] == []
