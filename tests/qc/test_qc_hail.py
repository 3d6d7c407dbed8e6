"""Hail QC engine: the same decisions and statistics as the local engine, and plink2 on Hail's VCF."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from igs.io import plink
from igs.qc import QCOptions, run_local_qc
from tests.conftest import SHARED_ORACLE

pytestmark = pytest.mark.slow  # Spark start-up: make test-fast skips it

hl = pytest.importorskip("hail", reason="the Hail engine needs the optional extra igs[hail]")

OPTS = QCOptions(ancestry_groups=3)


@pytest.fixture(scope="module")
def both_engines(small_cohort, tmp_path_factory):
    from igs.qc.hail_engine import run_hail_qc

    out = tmp_path_factory.mktemp("hail_qc")
    hail_cfg = {"master": None, "tmp_dir": str(out / "tmp")}
    ours = run_local_qc(plink.open_genotypes(small_cohort / "genotypes"), OPTS)
    theirs = run_hail_qc(str(small_cohort / "genotypes"), "bed", OPTS, out, hail_config=hail_cfg)
    return ours, theirs, out


def test_same_samples_removed_for_the_same_reasons(both_engines):
    ours, theirs, _ = both_engines
    pd.testing.assert_series_equal(ours.samples["qc_fail"], theirs.samples["qc_fail"])
    assert (ours.samples["genetic_sex"] == theirs.samples["genetic_sex"]).all()
    assert (ours.samples["ancestry_group"] == theirs.samples["ancestry_group"]).all()


def test_sample_statistics_agree(both_engines):
    ours, theirs, _ = both_engines
    np.testing.assert_allclose(ours.samples["call_rate"], theirs.samples["call_rate"], atol=1e-9)
    np.testing.assert_allclose(ours.samples["het_f"], theirs.samples["het_f"], atol=1e-6)


def test_autosomal_variant_statistics_agree(both_engines):
    ours, theirs, _ = both_engines
    auto = (ours.variants["chrom"] != "X").to_numpy()
    for col in ("call_rate", "a1_freq"):
        np.testing.assert_allclose(
            ours.variants.loc[auto, col], theirs.variants.loc[auto, col], atol=1e-6
        )
    # Hail's HWE test is the mid-p exact test, the igs default
    np.testing.assert_allclose(
        ours.variants.loc[auto, "hwe_p"], theirs.variants.loc[auto, "hwe_p"], rtol=1e-6
    )
    assert (ours.variants.loc[auto, "qc_fail"] == theirs.variants.loc[auto, "qc_fail"]).all()


def test_king_pairs_agree(both_engines):
    ours, theirs, _ = both_engines

    def related(r):
        pairs = r.king.loc[r.king["KINSHIP"] > OPTS.kinship, ["IID1", "IID2"]]
        return {tuple(sorted(p)) for p in pairs.itertuples(index=False)}

    assert related(ours) == related(theirs)


def test_top_pcs_agree(both_engines):
    ours, theirs, _ = both_engines
    fitted = ours.pcs[ours.pcs["pca_fit"]]  # the local engine also lists the projected people
    assert list(fitted["IID"].astype(str)) == list(theirs.pcs["IID"].astype(str))
    for pc in ("PC1", "PC2"):
        r = np.corrcoef(fitted[pc], theirs.pcs[pc])[0, 1]
        assert abs(r) > 0.99, (pc, r)


def test_hail_writes_the_qc_genotypes(both_engines):
    _, theirs, out = both_engines
    gset = plink.open_genotypes(out / "genotypes")
    assert gset.n_samples == theirs.summary["samples"]["final"]
    assert gset.n_variants == theirs.summary["variants"]["final"]


VCF_QC = SHARED_ORACLE / "expected" / "hail_sample_vcf_qc"
SAMPLE_VCF = SHARED_ORACLE / "hail_testres" / "hail" / "hail" / "test" / "resources" / "sample.vcf"


@pytest.mark.skipif(not SAMPLE_VCF.is_file(), reason="../shared/oracle/hail_testres is absent")
def test_hail_reads_vcf_like_plink2():
    from igs.io.hail import read_matrix_table

    mt = hl.variant_qc(read_matrix_table(str(SAMPLE_VCF), "vcf", hl))
    mt = hl.sample_qc(mt)
    rows = mt.rows()
    v = rows.select(cr=rows.variant_qc.call_rate, af=rows.variant_qc.AF[1]).to_pandas()
    afreq = pd.read_csv(VCF_QC / "p2.afreq", sep="\t")
    vmiss = pd.read_csv(VCF_QC / "p2.vmiss", sep="\t")
    assert len(v) == len(afreq)
    np.testing.assert_allclose(v["af"], afreq["ALT_FREQS"], atol=1e-6)
    np.testing.assert_allclose(v["cr"], 1 - vmiss["F_MISS"], atol=1e-6)
    cols = mt.cols()
    s = cols.select(cr=cols.sample_qc.call_rate).to_pandas().set_index("s")
    smiss = pd.read_csv(VCF_QC / "p2.smiss", sep="\t").set_index("#IID")
    np.testing.assert_allclose(s.loc[smiss.index, "cr"], 1 - smiss["F_MISS"], atol=1e-6)
