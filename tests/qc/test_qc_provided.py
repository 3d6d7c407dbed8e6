"""qc.source provided (the biobank's own exclusions, PCs and kinship, as UK Biobank ships them)
and none (everyone passes): hand-built tables with the expected decisions written out."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from igs.io import plink
from tests.conftest import run_igs


@pytest.fixture()
def provided(small_cohort, tmp_path):
    iids = plink.read_fam(small_cohort / "genotypes.fam")["IID"].astype(str).tolist()
    a, b, c, d, e, f = iids[:6]
    (tmp_path / "excl.tsv").write_text(f"IID reason\n{a} het_missing_outlier\n{b} sex_aneuploidy\n")
    pcs = pd.DataFrame(
        np.random.default_rng(1).normal(size=(len(iids), 3)), columns=["PC1", "PC2", "PC3"]
    )
    pcs.insert(0, "IID", iids)
    pcs.to_csv(tmp_path / "pcs.tsv", sep="\t", index=False)
    # ukb_rel.dat: c-d related (both pass: the larger IID goes), a-e related but a is excluded
    # already (e stays), e-f below qc.kinship (both stay)
    (tmp_path / "rel.dat").write_text(
        "ID1 ID2 HetHet IBS0 Kinship\n"
        f"{c} {d} 0.1 0.001 0.25\n{a} {e} 0.1 0.002 0.24\n{e} {f} 0.05 0.03 0.02\n"
    )
    return iids, pcs, tmp_path


def run_samples(small_cohort, tmp_path, *args):
    return run_igs("qc", "samples", "--genotypes", str(small_cohort / "genotypes"),
                   "--out-dir", str(tmp_path / "qc"), *args)  # fmt: skip


def test_provided_qc_writes_the_biobanks_decisions(small_cohort, provided):
    iids, pcs, tmp = provided
    a, b, c, d, e, f = iids[:6]
    proc = run_samples(small_cohort, tmp, "--source", "provided", "--exclusions", str(tmp / "excl.tsv"),
                       "--pcs", str(tmp / "pcs.tsv"), "--kinship", str(tmp / "rel.dat"))  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    qc = pd.read_csv(
        tmp / "qc/sample_qc.tsv.gz", sep="\t", dtype={"IID": str}, keep_default_na=False
    )
    fail = qc.set_index("IID")["qc_fail"]
    assert len(qc) == len(iids)
    assert fail[a] == "het_missing_outlier" and fail[b] == "sex_aneuploidy"
    assert fail[max(c, d)] == "relatedness" and fail[min(c, d)] == ""
    assert fail[e] == "" and fail[f] == ""
    assert (fail != "").sum() == 3
    out = pd.read_csv(tmp / "qc/pcs.tsv", sep="\t", dtype={"IID": str})
    np.testing.assert_allclose(out[["PC1", "PC2", "PC3"]], pcs[["PC1", "PC2", "PC3"]], rtol=1e-7)
    summary = json.loads((tmp / "qc/summary.json").read_text())
    assert summary["source"] == "provided" and summary["samples"]["final"] == len(iids) - 3


def test_no_qc_passes_everyone_without_pcs(small_cohort, tmp_path):
    proc = run_samples(small_cohort, tmp_path, "--source", "none")
    assert proc.returncode == 0, proc.stderr
    qc = pd.read_csv(tmp_path / "qc/sample_qc.tsv.gz", sep="\t", keep_default_na=False)
    assert (qc["qc_fail"] == "").all() and len(qc) == 600
    assert list(pd.read_csv(tmp_path / "qc/pcs.tsv", sep="\t").columns) == ["FID", "IID"]


@pytest.mark.parametrize(
    "file, content, message",
    [
        ("excl.tsv", "IID cause\nx y\n", "sample exclusions table has no column(s) reason"),
        ("excl.tsv", "IID\treason\nx\t\n", "exclusion(s) without a reason"),
        ("pcs.tsv", "IID PC1\nnobody 0.1\n", "genotyped sample(s) have no PCs"),
        ("rel.dat", "ID1 ID2 Kinship\na b high\n", "kinship values must be numbers"),
        ("rel.dat", "A B C\n1 2 3\n", "kinship table has no column(s) ID1, ID2, Kinship"),
    ],
    ids=["exclusions-no-reason-column", "blank-reason", "pcs-missing-sample", "kinship-not-number",
         "kinship-columns"],
)  # fmt: skip
def test_malformed_provided_tables_name_the_file(small_cohort, provided, file, content, message):
    _, _, tmp = provided
    (tmp / file).write_text(content)
    proc = run_samples(small_cohort, tmp, "--source", "provided", "--exclusions", str(tmp / "excl.tsv"),
                       "--pcs", str(tmp / "pcs.tsv"), "--kinship", str(tmp / "rel.dat"))  # fmt: skip
    assert proc.returncode != 0
    assert message in proc.stderr and file in proc.stderr


def test_provided_needs_its_three_tables(small_cohort, provided):
    _, _, tmp = provided
    proc = run_samples(small_cohort, tmp, "--source", "provided", "--pcs", str(tmp / "pcs.tsv"))
    assert proc.returncode != 0
    assert "qc.source provided needs qc.provided.exclusions, pcs and kinship" in proc.stderr


def test_unreadable_or_missing_tables_and_text_pcs(small_cohort, provided):
    from igs.errors import InputFormatError
    from igs.qc.options import QCOptions
    from igs.qc.provided import ProvidedQC, genotyped_samples, provided_qc

    _, pcs, tmp = provided
    samples = genotyped_samples(str(small_cohort / "genotypes"), "bed")
    files = ProvidedQC(tmp / "excl.tsv", tmp / "pcs.tsv", tmp / "rel.dat")
    with pytest.raises(InputFormatError, match=r"file not found \(qc.provided\)"):
        provided_qc(samples, ProvidedQC(tmp / "nope.tsv", files.pcs, files.kinship), QCOptions())
    (tmp / "empty.tsv").write_text("")
    with pytest.raises(
        InputFormatError, match=r"empty\.tsv: sample exclusions table cannot be read"
    ):
        provided_qc(samples, ProvidedQC(tmp / "empty.tsv", files.pcs, files.kinship), QCOptions())
    pcs.assign(PC2="x").to_csv(tmp / "pcs.tsv", sep="\t", index=False)
    with pytest.raises(InputFormatError, match=r"pcs\.tsv: PC values must be numbers"):
        provided_qc(samples, files, QCOptions())
