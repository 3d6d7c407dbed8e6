"""QC of imputed dosages without an array fileset (issue #16 item 4): hard calls of the
well-imputed common variants find the planted relatives, sex mismatches and heterozygosity
outliers, as QC on the simulator's true hard calls does."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from igs.errors import InputFormatError
from igs.io import plink
from igs.io.chroms import expand_chrom_paths
from igs.qc import run_local_qc
from igs.qc.imputed import hard_calls, needs_hard_calls, write_hard_calls
from tests.conftest import QC_OPTS, require_tool, run_tool


@pytest.fixture(scope="module")
def hard(small_imputed_cohort, tmp_path_factory):
    parts = expand_chrom_paths(small_imputed_cohort / "imputed/chr{chrom}", "pgen")
    out = tmp_path_factory.mktemp("hard") / "hard"
    counts = write_hard_calls(parts, "pgen", QC_OPTS, out)
    return out, counts


@pytest.fixture(scope="module")
def imputed_qc(hard):
    return run_local_qc(plink.open_genotypes(hard[0]), QC_OPTS)


def test_hard_calls_by_hand():
    d = np.array([[0.0, 0.1, 0.11, 0.95, 1.5, 1.9, 2.0, np.nan]])
    assert hard_calls(d, 0.1).tolist() == [[0, 0, -9, 1, -9, 2, 2, -9]]
    assert hard_calls(d, 0.2).tolist() == [[0, 0, 0, 1, -9, 2, 2, -9]]


def test_kept_variants_pass_the_thresholds_and_their_calls_equal_plink2s(
    hard, small_imputed_cohort, tmp_path
):
    """INFO, MAF and hard-call rate of every kept variant checked from the pvar and plink2's
    calls; the chr1 bed equals plink2 --hard-call-threshold 0.1 --make-bed of the same variants."""
    prefix, counts = hard
    bim = plink.read_bim(f"{prefix}.bim")
    assert sum(counts.kept.values()) == len(bim)
    assert counts.low_info > 0 and counts.low_maf > 0 and counts.low_call_rate > 0
    chr1 = small_imputed_cohort / "imputed/chr1"
    pvar = pd.read_csv(f"{chr1}.pvar", sep="\t").set_index("ID")
    info = pvar["INFO"].str.extract(r"R2=([0-9.]+)", expand=False).astype(float)
    kept = bim.loc[bim["chrom"] == "1", "id"]
    assert (info.loc[kept] >= QC_OPTS.imputed_min_info).all()
    assert len(kept) == counts.kept["1"] > 0
    kept.to_csv(tmp_path / "ids.txt", header=False, index=False)
    plink2 = require_tool("plink2")
    run_tool(
        [plink2, "--pfile", str(chr1), "--extract", str(tmp_path / "ids.txt"),
         "--hard-call-threshold", "0.1", "--make-bed", "--out", str(tmp_path / "p")],
        tmp_path,
    )  # fmt: skip
    run_tool([plink2, "--bfile", str(tmp_path / "p"), "--freq", "--missing", "--out",
              str(tmp_path / "p")], tmp_path)  # fmt: skip
    freq = pd.read_csv(tmp_path / "p.afreq", sep="\t")
    assert (
        np.minimum(freq["ALT_FREQS"], 1 - freq["ALT_FREQS"]) >= 0.9 * QC_OPTS.imputed_min_maf
    ).all()
    vmiss = pd.read_csv(tmp_path / "p.vmiss", sep="\t")
    assert (vmiss["F_MISS"] <= 1 - QC_OPTS.variant_call_rate + 1e-9).all()
    ours = plink.open_genotypes(prefix)
    theirs = plink.open_genotypes(tmp_path / "p")
    rows = np.flatnonzero((bim["chrom"] == "1").to_numpy())
    a = plink.read_genotype_codes(ours, rows)
    b = plink.read_genotype_codes(theirs, slice(None))
    np.testing.assert_array_equal(np.where(a < 0, -1, a), np.where(b < 0, -1, b))


def test_planted_relatives_sex_and_outliers_found_from_dosages_as_from_true_calls(
    imputed_qc, qc_run, small_truth
):
    s = imputed_qc.samples.set_index("IID")
    t = qc_run[0].samples.set_index("IID")  # QC on the simulator's true hard calls
    planted = small_truth["planted"]

    def failed(table, step):
        return set(table.index[table["qc_fail"] == step])

    assert failed(s, "sex_check") == failed(t, "sex_check") == set(planted["sex_mismatch"])
    outliers = set(planted["heterozygosity_high"]) | set(planted["heterozygosity_low"])
    assert failed(s, "heterozygosity") == failed(t, "heterozygosity") == outliers
    # imputation fills in the array's missing calls: no one fails call rate
    assert failed(s, "call_rate") == set() and failed(t, "call_rate") == set(
        planted["low_callrate_samples"]
    )
    king = imputed_qc.king.set_index(["IID1", "IID2"])["KINSHIP"]
    pairs = [tuple(sorted(p)) for p in planted["related_pairs"]]
    for a, b in pairs:  # every planted parent-child pair, one of each removed
        assert king.loc[(a, b)] > 0.2
        assert (s.loc[[a, b], "qc_fail"] == "relatedness").sum() == 1
    # other pairs above the threshold are noise next to it, as on true calls of as few variants
    others = king[(king > QC_OPTS.kinship) & ~king.index.isin(pairs)]
    assert (others < 0.125).all()
    assert len(failed(s, "relatedness")) <= len(pairs) + len(others)


def test_chromosome_files_with_other_samples_are_an_error(small_imputed_cohort, tmp_path):
    src = small_imputed_cohort / "imputed"
    for c in ("1", "2"):
        for suffix in (".pgen", ".pvar", ".psam"):
            (tmp_path / f"chr{c}{suffix}").write_bytes((src / f"chr{c}{suffix}").read_bytes())
    psam = pd.read_csv(tmp_path / "chr2.psam", sep="\t")
    psam["IID"] = psam["IID"].iloc[::-1].to_numpy()
    psam.to_csv(tmp_path / "chr2.psam", sep="\t", index=False)
    parts = expand_chrom_paths(tmp_path / "chr{chrom}", "pgen")
    with pytest.raises(InputFormatError, match=r"chr2: its samples differ from those of"):
        write_hard_calls(parts, "pgen", QC_OPTS, tmp_path / "out" / "hard")
    assert not (tmp_path / "out" / "hard.bed").exists()


@pytest.mark.parametrize(
    ("genotypes", "qc", "hard_called"),
    [
        ({"path": "imputed/chr{chrom}", "format": "pgen"}, {}, True),
        ({"path": "imputed/chr{chrom}.dose.vcf.gz", "format": "vcf"}, {"source": "compute"}, True),
        ({"path": "ukb_imp.bgen", "format": "bgen"}, {}, True),
        ({"path": "imputed/chr{chrom}", "format": "pgen"}, {"genotypes": {"path": "a", "format": "bed"}}, False),
        ({"path": "imputed/chr{chrom}", "format": "pgen"}, {"source": "none"}, False),
        ({"path": "array", "format": "bed"}, {}, False),
    ],
)  # fmt: skip
def test_imputed_genotypes_without_an_array_are_qcd_on_hard_calls(genotypes, qc, hard_called):
    assert needs_hard_calls({"name": "ukb", "genotypes": genotypes, "qc": qc}) is hard_called
