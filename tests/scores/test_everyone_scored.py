"""Everyone gets a score (#16 item 3): people removed by QC keep their scores, PCs and a row in
the adjusted table with qc_pass false and the reason; the ancestry models are fitted on the
QC-passed set only. Oracles: plink2 --score and --missing, statsmodels OLS, the planted truth."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from igs.io import plink
from igs.scores import compute_scores, match_variants, read_scoring_file, score_weights
from igs.scores.run import adjust_files
from tests.conftest import assert_equal_to_plink_precision, plink2_scores, require_tool, run_tool


@pytest.fixture(scope="module")
def adjusted_everyone(qc_run, small_cohort, small_scoring_files, tmp_path_factory):
    """Scores of every genotyped person (the original fileset), adjusted with the QC outputs."""
    _, qc_dir = qc_run
    tmp = tmp_path_factory.mktemp("everyone")
    gset = plink.open_genotypes(small_cohort / "genotypes")
    report = match_variants(
        read_scoring_file(small_scoring_files / "IGS_SIM_CAD.txt.gz"), gset.variants
    )
    scores = compute_scores(gset, score_weights([report], gset.n_variants))
    scores.to_csv(tmp / "scores.tsv", sep="\t", index=False)
    adjust_files(
        tmp / "scores.tsv", qc_dir / "pcs.tsv", tmp / "adjusted.tsv.gz", tmp / "models.json",
        n_pcs=4, sample_qc=qc_dir / "sample_qc.tsv.gz",
    )  # fmt: skip
    adjusted = pd.read_csv(tmp / "adjusted.tsv.gz", sep="\t", keep_default_na=False,
                           na_values=[""], dtype={"IID": str, "qc_fail": str})  # fmt: skip
    adjusted["qc_fail"] = adjusted["qc_fail"].fillna("")
    theirs = plink2_scores(small_cohort / "genotypes", report, gset.variants, tmp, True)
    return adjusted, json.loads((tmp / "models.json").read_text()), theirs, tmp


def test_a_person_removed_by_qc_keeps_a_score_with_the_reason(adjusted_everyone, qc_run):
    adjusted, _, theirs, _ = adjusted_everyone
    result, _ = qc_run
    s = result.samples.set_index(result.samples["IID"].astype(str))
    assert set(adjusted["IID"]) == set(s.index)  # every genotyped person has a row
    a = adjusted.set_index("IID").loc[s.index]
    assert (a["qc_pass"].astype(bool) == (s["qc_fail"] == "")).all()
    assert (a["qc_fail"] == s["qc_fail"]).all()
    removed = a[~a["qc_pass"].astype(bool)]
    assert {"call_rate", "heterozygosity", "sex_check", "relatedness"} <= set(removed["qc_fail"])
    # their scores are plink2's on the original genotypes, and their adjusted values are set
    oracle = theirs.set_index(theirs["IID"].astype(str))["W_SUM"]
    assert_equal_to_plink_precision(removed["SUM"].to_numpy(), oracle.loc[removed.index].to_numpy())
    assert removed[["Z_raw", "Z_norm1", "Z_norm2", "percentile"]].notna().all().all()


def test_the_related_person_kept_is_the_documented_one(
    adjusted_everyone, small_truth, small_cohort
):
    """README: of a related pair the person with the lower call rate is removed (equal call
    rates: the larger IID), so the other keeps qc_pass; call rates from plink2 --missing."""
    adjusted, _, _, tmp = adjusted_everyone
    a = adjusted.set_index("IID")
    run_tool([require_tool("plink2"), "--bfile", str(small_cohort / "genotypes"), "--missing",
              "--out", str(tmp / "miss")], tmp)  # fmt: skip
    smiss = pd.read_csv(tmp / "miss.smiss", sep="\t").set_index("IID")
    call_rate = 1 - smiss["F_MISS"]
    pairs = [
        p
        for p in small_truth["planted"]["related_pairs"]
        if "relatedness" in set(a.loc[p, "qc_fail"])
    ]
    assert pairs
    for x, y in pairs:
        if call_rate[x] != call_rate[y]:
            kept = x if call_rate[x] > call_rate[y] else y
        else:
            kept = min(x, y)
        dropped = y if kept == x else x
        assert a.loc[kept, "qc_fail"] == "" and bool(a.loc[kept, "qc_pass"])
        assert a.loc[dropped, "qc_fail"] == "relatedness"
        assert not bool(a.loc[dropped, "qc_pass"])


def test_ancestry_model_is_fitted_on_the_qc_passed_set(adjusted_everyone, qc_run):
    sm = pytest.importorskip("statsmodels.api")
    adjusted, (fit,), _, _ = adjusted_everyone
    _, qc_dir = qc_run
    passed = adjusted[adjusted["qc_pass"].astype(bool)]
    assert fit["n_reference"] == len(passed) < len(adjusted)
    pcs = pd.read_csv(qc_dir / "pcs.tsv", sep="\t", dtype={"IID": str}).set_index("IID")
    x = sm.add_constant(pcs.loc[passed["IID"], ["PC1", "PC2", "PC3", "PC4"]].to_numpy())
    ols = sm.OLS(passed["SUM"].to_numpy(), x).fit()
    np.testing.assert_allclose(fit["mean_coef"], ols.params, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(fit["residual_sd"], np.std(ols.resid, ddof=1), rtol=1e-8)


def test_a_person_removed_by_qc_has_an_export_row_but_is_not_in_the_model_set():
    """Three people; C failed QC (relatedness): the model set has A and B, the export all three,
    C's row with qc_pass false, its reason and its own raw score."""
    from igs.export.clinician import clinician_table
    from igs.models import fit_cox
    from igs.models.dataset import assemble
    from tests.conftest import planted

    iids = ["A", "B", "C"]
    ep = pd.DataFrame({"IID": iids, "excluded": "", "start": [50.0, 55.0, 60.0],
                       "stop": [60.0, 70.0, 65.0], "event": [True, False, False],
                       "competing_death": False})  # fmt: skip
    cov = pd.DataFrame({"IID": iids, "sex": ["male", "female", "male"], "bmi": 27.0,
                        "sbp": 120.0, "smoking": "never"})  # fmt: skip
    scores = pd.DataFrame({"IID": iids, "pgs_id": "P1", "SUM": [0.1, 0.2, 0.7],
                           "Z_norm2": [-0.5, 0.1, 1.9], "percentile": [30.0, 55.0, 97.0],
                           "qc_pass": [True, True, False], "qc_fail": ["", "", "relatedness"]})  # fmt: skip
    pcs = pd.DataFrame({"IID": iids, "PC1": [0.1, -0.2, 0.05], "PC2": [0.0, 0.1, -0.1]})
    fit_set = assemble("CAD", ep, cov, scores, pcs, "P1", n_pcs=2)
    assert list(fit_set.iid) == ["A", "B"]
    everyone = assemble("CAD", ep, cov, scores, pcs, "P1", n_pcs=2, only_included=False)
    assert list(everyone.iid) == iids
    data, _ = planted(n=400)
    model = fit_cox(data, ["sex_male", "bmi", "prs"], model_set="clinical_prs")
    table = clinician_table(
        everyone, np.array(["", "", ""]), scores, model, __file__, pgs_id="P1", match_rate=1.0,
        horizon=10.0, thresholds=(0.05, 0.1), labels=("low", "mid", "high"),
    )  # fmt: skip
    row = table.set_index("IID").loc["C"]
    assert not row["qc_pass"] and row["qc_fail"] == "relatedness" and row["prs_raw"] == 0.7
    assert table.set_index("IID").loc[["A", "B"], "qc_pass"].all()
