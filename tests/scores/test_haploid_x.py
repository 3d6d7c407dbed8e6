"""Haploid chrX calls (males: VCF GT ``1`` with DS 0..1 or two GP values, BGEN ploidy 1) scored as
``plink2 --score ... cols=+scoresums`` scores the same file. plink2 stores a haploid dosage
doubled (a male's chrX allele counts as a homozygous call), so do we; oracles: plink2 on the
same VCF/BGEN (and on its pgen with the sexes), and numpy on the written dosages."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from igs.io import plink
from igs.scores import compute_scores, match_variants, read_scoring_file, score_weights
from tests.conftest import require_tool, run_tool
from tests.scores.dosage_files import (
    random_dosages,
    variant_table,
    write_haploid_bgen,
    write_vcf_with_gt,
)

pytestmark = pytest.mark.oracle

N, N_MALE, M = 80, 40, 60  # >= 50 samples: plink2 imputes from its own frequencies


@pytest.fixture(scope="module")
def x_data(tmp_path_factory) -> dict:
    """Dosages on chr1 and chrX (first N_MALE samples haploid on chrX: ALT probability on the
    1/8192 grid), as VCF GT:DS, VCF GT:GP and BGEN, and one score over every variant."""
    out = tmp_path_factory.mktemp("haploid_x")
    samples = [f"S{i}" for i in range(N)]
    variants = [(c, pos + 3_000_000 * (c == "X"), vid, ref, alt)
                for c, pos, vid, ref, alt in variant_table(M, ("1", "X"), seed=11)]  # fmt: skip
    d = random_dosages(N, M, seed=12, missing=0.03)
    haploid = np.zeros((M, N), dtype=bool)
    haploid[np.array([v[0] == "X" for v in variants])[:, None] & (np.arange(N) < N_MALE)] = True
    d[haploid] = np.round(d[haploid] / 2 * 8192) / 8192
    write_vcf_with_gt(out / "ds.vcf.gz", variants, samples, d, haploid, "DS")
    write_vcf_with_gt(out / "gp.vcf.gz", variants, samples, d, haploid, "GP")
    write_haploid_bgen(out / "x.bgen", variants, samples, d, haploid)
    rng = np.random.default_rng(13)
    weights = rng.normal(0, 0.01, M).round(8)  # sums below 1: plink2 prints them to 1e-7
    swap = rng.random(M) < 0.5
    lines = [f"{c}\t{p}\t{r if s else a}\t{a if s else r}\t{w}"
             for (c, p, _, r, a), s, w in zip(variants, swap, weights, strict=True)]  # fmt: skip
    head = "#pgs_id=X\nchr_name\tchr_position\teffect_allele\tother_allele\teffect_weight\n"
    (out / "X.txt").write_text(head + "\n".join(lines) + "\n")
    pd.DataFrame(
        {"ID": [v[2] for v in variants], "A": [v[3] if s else v[4] for v, s in
                                              zip(variants, swap, strict=True)], "W": weights}
    ).to_csv(out / "plink_X.txt", sep="\t", index=False)  # fmt: skip
    sexes = pd.DataFrame({"#IID": samples, "SEX": [1] * N_MALE + [2] * (N - N_MALE)})
    sexes.to_csv(out / "sex.txt", sep="\t", index=False)
    run_tool([require_tool("plink2"), "--vcf", str(out / "ds.vcf.gz"), "dosage=DS", "--update-sex",
              str(out / "sex.txt"), "--make-pgen", "--out", str(out / "sexed")], out)  # fmt: skip
    return {"dir": out, "d": d, "haploid": haploid, "weights": weights, "swap": swap}


def _ours(gset: plink.GenotypeSet, out, impute: bool) -> pd.Series:
    report = match_variants(read_scoring_file(out / "X.txt"), gset.variants)
    assert (report["match_status"] == "matched").all()
    scores = compute_scores(gset, score_weights([report], gset.n_variants), mean_impute=impute)
    return scores.set_index("IID")["SUM"]


def _plink2(args: list[str], out, impute: bool, tag: str) -> pd.Series:
    prefix = out / f"{tag}_{impute}"
    run_tool([require_tool("plink2"), *args, "--score", str(out / "plink_X.txt"), "1", "2", "3",
              "header-read", "cols=+scoresums", *([] if impute else ["no-mean-imputation"]),
              "--out", str(prefix)], out)  # fmt: skip
    sscore = pd.read_csv(f"{prefix}.sscore", sep="\t")
    return sscore.set_index("#IID" if "#IID" in sscore.columns else "IID")["W_SUM"]


CASES = {
    "vcf-DS": ("ds.vcf.gz", "vcf", lambda o: ["--vcf", str(o / "ds.vcf.gz"), "dosage=DS"]),
    "vcf-GP": ("gp.vcf.gz", "vcf", lambda o: ["--vcf", str(o / "gp.vcf.gz"), "dosage=GP"]),
    "bgen": ("x.bgen", "bgen",
             lambda o: ["--bgen", str(o / "x.bgen"), "ref-first", "--sample", str(o / "x.sample")]),
    "pgen-with-sexes": ("sexed", "pgen", lambda o: ["--pfile", str(o / "sexed")]),
}  # fmt: skip


@pytest.mark.parametrize("impute", [True, False], ids=["mean-imputation", "no-mean-imputation"])
@pytest.mark.parametrize("case", list(CASES))
def test_haploid_chrx_scores_equal_plink2(x_data, case, impute):
    out = x_data["dir"]
    name, fmt, args = CASES[case]
    ours = _ours(plink.open_genotypes(out / name, fmt), out, impute)
    theirs = _plink2(args(out), out, impute, case)
    assert np.abs(ours.loc[theirs.index].to_numpy() - theirs.to_numpy()).max() < 1e-6


def test_haploid_dosages_count_twice(x_data):
    """numpy oracle without plink2: a male's chrX dosage x scores as 2x, a female's as written."""
    out, d, hap = x_data["dir"], x_data["d"], x_data["haploid"]
    counted = np.where(hap, 2 * d, d)
    effect = np.where(x_data["swap"][:, None], 2 - counted, counted)  # effect-allele dosage
    expected = np.nansum(x_data["weights"][:, None] * effect, axis=0)
    for name, fmt, _ in CASES.values():
        if fmt == "pgen":
            continue
        ours = _ours(plink.open_genotypes(out / name, fmt), out, impute=False)
        np.testing.assert_allclose(ours.to_numpy(), expected, rtol=0, atol=1e-6)
