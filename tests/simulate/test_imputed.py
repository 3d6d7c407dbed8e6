"""The simulated imputed biobank: per-chromosome pgen dosages and INFO, read by plink2, against
the planted truth (true genotypes, group allele frequencies, planted imputation quality)."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pytest

from igs.simulate.cohort import COHORT_FILES
from tests.conftest import require_tool, run_tool

UNIT = 1 / 16384  # pgen dosage resolution


def plink2_alt_dosages(tmp_path, flag: str, prefix, chrom: str, name: str) -> pd.DataFrame:
    """plink2 --export A of one chromosome as ALT dosages (samples x variant IDs)."""
    run_tool(
        [require_tool("plink2"), flag, str(prefix), "--chr", chrom, "--export", "A",
         "--out", str(tmp_path / name)],
        tmp_path,
    )  # fmt: skip
    raw = pd.read_csv(tmp_path / f"{name}.raw", sep="\t").set_index("IID")
    cols = [c for c in raw.columns if c not in ("FID", "PAT", "MAT", "SEX", "PHENOTYPE")]
    # --export A counts REF (pvar REF, bim A2): ALT dosage = 2 - value
    out = 2.0 - raw[cols]
    out.columns = [c.rsplit("_", 1)[0] for c in cols]
    return out


@pytest.fixture(scope="module")
def truth(small_imputed_cohort):
    return pd.read_csv(small_imputed_cohort / "truth_imputation.tsv.gz", sep="\t").set_index("id")


@pytest.mark.parametrize("chrom", ["1", "X"])
def test_plink2_reads_each_dosage_between_the_prior_mean_and_the_true_genotype(
    chrom, small_imputed_cohort, small_universe, small_truth, truth, tmp_path
):
    """d = 2f + s (g - 2f), s = 1 with probability (3 r2 - 1) / 2 else uniform: E[s^2] = r2."""
    cohort = small_imputed_cohort
    dosage = plink2_alt_dosages(tmp_path, "--pfile", cohort / f"imputed/chr{chrom}", chrom, "d")
    true = plink2_alt_dosages(tmp_path, "--bfile", cohort / "genotypes", chrom, "g")
    planted = small_truth["planted"]
    damaged = set(planted["hwe_fail_variants"]) | set(planted["low_callrate_variants"])
    ids = [i for i in true.columns if i not in damaged]
    assert len(ids) > 200
    d, g = dosage.loc[true.index, ids].to_numpy(), true[ids].to_numpy()
    # the prior mean: twice the a1 frequency of the person's ancestry group
    people = pd.read_csv(cohort / "truth_samples.tsv.gz", sep="\t").set_index("IID")
    group = people.loc[true.index, "population"].map({"POP_A": 0, "POP_B": 1, "POP_C": 2})
    col = pd.Index(small_universe.variants["id"]).get_indexer(ids)
    prior = 2.0 * small_universe.freqs[:, col][group.to_numpy()]
    usable = ~np.isnan(g) & (np.abs(g - prior) > 0.2)
    share = np.where(usable, (d - prior) / np.where(usable, g - prior, 1.0), np.nan)
    tol = 1e-4 / 0.2  # plink2 prints dosages to ~1e-4
    assert np.nanmin(share) > -tol and np.nanmax(share) < 1 + tol
    enough = usable.sum(axis=0) >= 50  # variants with enough informative genotypes
    hit = np.where(usable, share > 1 - tol, False)[:, enough].sum(axis=0)
    known = hit / usable[:, enough].sum(axis=0)
    r2 = truth.loc[ids, "r2"].to_numpy()[enough]
    assert enough.sum() > 100
    assert np.abs(known - (3 * r2 - 1) / 2).mean() < 0.02
    second_moment = np.nansum(share[:, enough] ** 2, axis=0) / usable[:, enough].sum(axis=0)
    assert np.abs(second_moment - r2).mean() < 0.02


def pgenlib_dosages(prefix) -> np.ndarray:
    """ALT dosages (variants x samples) at full precision, read by plink2's own library (plink2
    prints them rounded)."""
    import pgenlib

    with pgenlib.PgenReader(f"{prefix}.pgen".encode()) as reader:
        out = np.empty((reader.get_variant_ct(), reader.get_raw_sample_ct()))
        reader.read_dosages_range(0, len(out), out, allele_idx=1)
    return out


def test_info_is_minimac_r2_of_the_dosages_and_tracks_the_planted_quality(
    small_imputed_cohort, truth
):
    infos, hand, planted, maf = [], [], [], []
    for chrom in ("1", "2", "3", "X"):
        prefix = small_imputed_cohort / f"imputed/chr{chrom}"
        d = pgenlib_dosages(prefix)
        if chrom == "X":
            psam = pd.read_csv(f"{prefix}.psam", sep="\t")
            d = d[:, (psam["SEX"] == 2).to_numpy()]  # minimac's R2 on chrX: females
        p = d.mean(axis=1) / 2
        with np.errstate(invalid="ignore", divide="ignore"):
            hand.append(np.where(p * (1 - p) > 0, d.var(axis=1) / (2 * p * (1 - p)), 0.0))
        pvar = pd.read_csv(f"{prefix}.pvar", sep="\t")
        infos.append(pvar["INFO"].str.extract(r"R2=([0-9.]+)", expand=False).astype(float))
        planted.append(truth.loc[pvar["ID"], "r2"].to_numpy())
        maf.append(np.minimum(p, 1 - p))
    info, hand = np.concatenate(infos), np.concatenate(hand)
    planted, maf = np.concatenate(planted), np.concatenate(maf)
    np.testing.assert_allclose(info, hand, atol=5.1e-5)
    common = maf > 0.01
    assert np.corrcoef(info[common], planted[common])[0, 1] > 0.9
    assert np.median(np.abs(info[common] - planted[common])) < 0.05


def test_array_is_a_subset_of_the_genotyped_calls_as_plink2_extracts_it(
    small_imputed_cohort, tmp_path
):
    cohort = small_imputed_cohort
    bim = pd.read_csv(cohort / "array.bim", sep="\t", header=None)
    full = pd.read_csv(cohort / "genotypes.bim", sep="\t", header=None)
    assert set(bim[1]) < set(full[1]) and 0.4 < len(bim) / len(full) < 0.6
    assert (bim[0].astype(str) == "X").sum() > 100  # enough chrX sites for the sex check
    bim[[1]].to_csv(tmp_path / "ids.txt", header=False, index=False)
    run_tool(
        [require_tool("plink2"), "--bfile", str(cohort / "genotypes"), "--extract",
         str(tmp_path / "ids.txt"), "--make-bed", "--out", str(tmp_path / "x")],
        tmp_path,
    )  # fmt: skip
    assert (tmp_path / "x.bed").read_bytes() == (cohort / "array.bed").read_bytes()


def test_imputed_cohort_has_the_same_people_and_hard_calls(small_imputed_cohort, small_cohort):
    """Imputation draws from its own random stream: everything else is byte-identical."""
    for name in COHORT_FILES:
        if name == "truth.json":
            continue
        a = hashlib.sha256((small_cohort / name).read_bytes()).hexdigest()
        b = hashlib.sha256((small_imputed_cohort / name).read_bytes()).hexdigest()
        assert a == b, name
