"""Hail scoring engine: equal to the local engine on PLINK input, and to plink2 on Hail's VCF."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from igs.io import plink
from igs.scores import MatchOptions, compute_scores, match_variants, score_weights
from igs.scores.scorefile import ScoringFile
from tests.conftest import (
    SHARED_ORACLE,
    assert_equal_to_plink_precision,
    random_score,
    require_tool,
    run_tool,
)

pytestmark = pytest.mark.slow  # Spark start-up: make test-fast skips it

hl = pytest.importorskip("hail", reason="the Hail engine needs the optional extra igs[hail]")

SAMPLE_VCF = SHARED_ORACLE / "hail_testres/hail/hail/test/resources/sample.vcf"


@pytest.fixture(scope="module")
def hail_config(tmp_path_factory):
    return {"master": None, "tmp_dir": str(tmp_path_factory.mktemp("hail_tmp"))}


@pytest.mark.parametrize("impute", [True, False], ids=["mean-imputation", "no-mean-imputation"])
def test_hail_scores_equal_local(small_cohort, hail_config, impute):
    from igs.scores.hail_engine import compute_scores_hail

    gset = plink.open_genotypes(small_cohort / "genotypes")
    reports = [random_score(gset, seed, ("1", "2", "3", "X")) for seed in (1, 2)]
    reports[1]["is_dominant"] = np.arange(len(reports[1])) % 4 == 0
    reports[1]["is_recessive"] = np.arange(len(reports[1])) % 4 == 1
    w = score_weights(reports, gset.n_variants)
    kw = {"mean_impute": impute, "dosage_sums": True}
    ours = compute_scores(gset, w, **kw)
    theirs = compute_scores_hail(
        str(small_cohort / "genotypes"), "bed", w, hail_config=hail_config, **kw
    )
    pd.testing.assert_frame_equal(ours, theirs, check_exact=False, rtol=1e-10, atol=1e-8)


@pytest.mark.oracle
@pytest.mark.skipif(not SAMPLE_VCF.is_file(), reason="needs ../shared/oracle (Hail test VCF)")
def test_hail_vcf_scores_equal_plink2(hail_config, tmp_path):
    from igs.scores.hail_engine import compute_scores_hail, hail_target_variants

    target = hail_target_variants(str(SAMPLE_VCF), "vcf", hail_config)
    rng = np.random.default_rng(9)
    pick = target.sample(n=min(300, len(target)), random_state=1).sort_index()
    swap = rng.random(len(pick)) < 0.5
    rows = pd.DataFrame(
        {
            "row": np.arange(len(pick)),
            "rsID": "",
            "chr_name": pick["chrom"].to_numpy(),
            "chr_position": pick["pos"].to_numpy(),
            "effect_allele": np.where(swap, pick["a2"], pick["a1"]),
            "other_allele": np.where(swap, pick["a1"], pick["a2"]),
            "effect_weight": rng.normal(size=len(pick)).round(4),
            "is_dominant": False,
            "is_recessive": False,
        }
    )
    score = ScoringFile("VCFSCORE", "GRCh37", tmp_path / "x", rows)
    report = match_variants(score, target, MatchOptions(keep_ambiguous=True))
    ours = compute_scores_hail(
        str(SAMPLE_VCF), "vcf", score_weights([report], len(target)), hail_config=hail_config
    ).set_index("IID")
    # plink2 on the same VCF, variants named by position and alleles
    m = report[report["match_status"] == "matched"]
    tv = target.iloc[m["target_index"].to_numpy(dtype=int)]
    names = tv["chrom"].astype(str) + ":" + tv["pos"].astype(str) + ":" + tv["a2"] + ":" + tv["a1"]
    pd.DataFrame(
        {
            "ID": names.to_numpy(),
            "A": m["effect_allele"].to_numpy(),
            "W": m["effect_weight"].to_numpy(),
        }
    ).to_csv(tmp_path / "w.txt", sep="\t", index=False)
    run_tool(
        [require_tool("plink2"), "--vcf", str(SAMPLE_VCF), "--set-all-var-ids", "@:#:$r:$a",
         "--new-id-max-allele-len", "1000", "--allow-extra-chr", "--max-alleles", "2",
         "--score", str(tmp_path / "w.txt"), "1", "2", "3", "header-read", "cols=+scoresums",
         "--out", str(tmp_path / "p")],
        tmp_path,
    )  # fmt: skip
    theirs = pd.read_csv(tmp_path / "p.sscore", sep="\t").rename(columns={"#IID": "IID"})
    theirs = theirs.set_index("IID")
    assert len(theirs) == len(ours)
    mine = ours.loc[theirs.index]
    assert_equal_to_plink_precision(mine["SUM"].to_numpy(), theirs["W_SUM"].to_numpy())
    assert (mine["ALLELE_CT"].to_numpy() == theirs["ALLELE_CT"].to_numpy()).all()
