"""Scoring files as users have them (PGS IDs from a cache, liftover, rsID-only, unsupported rows,
scores below min_overlap), imputation filters (min_info, min_maf) and a .bim other tools read."""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest

from igs.errors import InputFormatError, MatchRateError
from igs.io import plink
from igs.scores import (
    MatchOptions,
    compute_scores,
    match_variants,
    read_scoring_file,
    score_weights,
)
from igs.scores.catalog import resolve_pgs_ids
from igs.scores.filters import a1_frequencies, filter_matches, read_info_file
from igs.scores.liftover import lift_scoring_file, read_chain
from igs.scores.match import match_scores, summarise_matches
from tests.conftest import SHARED_ORACLE, require_tool, run_tool
from tests.dosage_files import random_dosages, variant_table, write_vcf
from tests.test_io_plink import write_fileset

HEADER = "#pgs_id={id}\n#genome_build=GRCh37\n"
COLUMNS = "rsID\tchr_name\tchr_position\teffect_allele\tother_allele\teffect_weight"


# --------------------------------------------------------------------------- min_info, min_maf


def test_min_info_and_min_maf_filters_drop_variants_with_reasons(tmp_path):
    samples = [f"S{i}" for i in range(80)]
    variants = variant_table(30, ("1",), seed=2)
    d = random_dosages(80, 30, seed=3, missing=0.0)
    d[7] = 0.0  # nearly monomorphic (R2 0.79 passes min_info): MAF 0.5 / 160
    d[7, 0] = 0.5
    write_vcf(tmp_path / "x.vcf.gz", variants, samples, d)
    lines = [HEADER.format(id="F") + COLUMNS]
    weights = np.linspace(-1, 1, 30)
    for (chrom, pos, vid, ref, alt), w in zip(variants, weights, strict=True):
        lines.append(f"{vid}\t{chrom}\t{pos}\t{alt}\t{ref}\t{w}")
    (tmp_path / "F.txt").write_text("\n".join(lines) + "\n")
    gset = plink.open_genotypes(tmp_path / "x.vcf.gz", "vcf")
    report = match_variants(read_scoring_file(tmp_path / "F.txt"), gset.variants)
    freq = a1_frequencies(gset, np.arange(gset.n_variants))
    np.testing.assert_allclose(freq, d.mean(axis=1) / 2)  # numpy oracle
    filtered = filter_matches(
        report, gset.variants, min_info=0.6, min_maf=0.01, a1_freq=pd.Series(freq)
    )
    # R2 written as 0.3 + 0.07 * (pos/100 mod 10): variants 0..4 of every ten fail 0.6
    r2 = np.array([0.3 + 0.07 * ((v[1] // 100) % 10) for v in variants]).round(2)
    maf = np.minimum(freq, 1 - freq)
    expected = np.where(r2 < 0.6, "filtered_info", np.where(maf < 0.01, "filtered_maf", "matched"))
    assert filtered["match_status"].tolist() == expected.tolist()
    assert filtered.loc[0, "filter_reason"] == "info 0.3 < min_info 0.6"
    assert (
        "< min_maf 0.01"
        in filtered.loc[filtered["match_status"] == "filtered_maf", "filter_reason"].iloc[0]
    )
    summary = summarise_matches(filtered)
    assert summary.loc[0, "filtered_info"] == (r2 < 0.6).sum()
    ours = compute_scores(gset, score_weights([filtered], gset.n_variants), mean_impute=False)
    keep = expected == "matched"
    np.testing.assert_allclose(ours["SUM"], (weights[keep, None] * d[keep]).sum(axis=0))


def test_pvar_info_column_and_info_file(tmp_path):
    samples = [f"S{i}" for i in range(10)]
    variants = variant_table(12, ("1",), seed=2)
    write_vcf(tmp_path / "x.vcf.gz", variants, samples, random_dosages(10, 12, seed=1))
    run_tool(
        [require_tool("plink2"), "--vcf", str(tmp_path / "x.vcf.gz"), "dosage=DS", "--make-pgen",
         "--out", str(tmp_path / "x")],
        tmp_path,
    )  # fmt: skip
    gset = plink.open_genotypes(tmp_path / "x", "pgen")
    r2 = [round(0.3 + 0.07 * ((v[1] // 100) % 10), 2) for v in variants]
    np.testing.assert_allclose(gset.variants["info"], r2)
    (tmp_path / "chr1.info").write_text("SNP\tRsq\nv0\t0.91\nv1\t0.2\n")
    info = read_info_file(tmp_path / "chr1.info")
    assert info.to_dict() == {"v0": 0.91, "v1": 0.2}
    with pytest.raises(InputFormatError, match=r"chr2\.info: info file not found"):
        read_info_file(tmp_path / "chr2.info")
    (tmp_path / "bad.info").write_text("a\tb\n1\t2\n")
    with pytest.raises(
        InputFormatError, match=r"bad\.info: an info file needs a variant ID column"
    ):
        read_info_file(tmp_path / "bad.info")


# --------------------------------------------------------------------------- PGS IDs, liftover


def test_pgs_ids_resolved_from_the_cache(tmp_path):
    (tmp_path / "PGS000001").mkdir()
    flat = tmp_path / "PGS000002_hmPOS_GRCh38.txt.gz"
    nested = tmp_path / "PGS000001" / "PGS000001_hmPOS_GRCh38.txt.gz"
    for p in (flat, nested, tmp_path / "PGS000003_hmPOS_GRCh37.txt.gz"):
        p.write_bytes(b"")
    assert resolve_pgs_ids(["PGS000002", "PGS000001"], tmp_path, "GRCh38") == [flat, nested]
    with pytest.raises(
        InputFormatError,
        match=r"PGS000003_hmPOS_GRCh38\.txt\.gz: PGS000003 for GRCh38 is not in scores\.cache_dir "
        r"\(the cache has PGS000003_hmPOS_GRCh37\.txt\.gz\)",
    ):
        resolve_pgs_ids(["PGS000003"], tmp_path, "GRCh38")
    with pytest.raises(InputFormatError, match="is not a PGS Catalog ID"):
        resolve_pgs_ids(["PGS1"], tmp_path, "GRCh38")
    with pytest.raises(InputFormatError, match=r"scores\.cache_dir not found"):
        resolve_pgs_ids(["PGS000001"], tmp_path / "nope", "GRCh38")


HM586 = SHARED_ORACLE / "1000g_pgs000586/tests/data/PGS000586_hmPOS_GRCh38.txt.gz"


@pytest.mark.skipif(not HM586.is_file(), reason="../shared/oracle/1000g_pgs000586 is absent")
def test_real_harmonised_file_from_a_filled_cache(tmp_path):
    (tmp_path / "PGS000586").mkdir()
    shutil.copy(HM586, tmp_path / "PGS000586" / HM586.name)
    (path,) = resolve_pgs_ids(["PGS000586"], tmp_path, "GRCh38")
    score = read_scoring_file(path)
    assert score.pgs_id == "PGS000586" and score.genome_build == "GRCh38"
    assert len(score.rows) == 1023
    with pytest.raises(InputFormatError, match="PGS000586 for GRCh37 is not in scores"):
        resolve_pgs_ids(["PGS000586"], tmp_path, "GRCh37")


# chain 1 (+): source 1:[1000,1060) -> dest 1:[5000,5060), a gap, source [2000,2050) -> [6010,6060)
# chain 2 (-): source 1:[3000,3050) -> dest 2, minus-strand coordinates [100,150)
CHAIN = """chain 1000 1 248956422 + 1000 2050 1 248956422 + 5000 6060 1
60\t940\t950
50

chain 500 1 248956422 + 3000 3050 2 1000000 - 100 150 2
50
"""


def test_liftover_with_a_hand_written_chain(tmp_path):
    (tmp_path / "hg19to38.chain").write_text(CHAIN)
    text = (
        HEADER.format(id="L")
        + COLUMNS
        + "\n"
        + "\n".join(
            [
                "rs1\t1\t1001\tA\tG\t1",  # 0-based 1000, first base of block 1 -> 5000 -> 5001
                "rs2\t1\t1060\tC\tT\t1",  # 0-based 1059, last base of block 1 -> 5059 -> 5060
                "rs3\t1\t1500\tA\tC\t1",  # in the gap: unmapped
                "rs4\t1\t2010\tA\tC\t1",  # 0-based 2009, block 2 -> 6010 + 9 = 6019 -> 6020
                "rs5\t1\t3010\tA\tC\t1",  # chain 2: - strand 109 -> 1000000 - 1 - 109 = 999890 -> 999891
            ]
        )
    )
    (tmp_path / "L.txt").write_text(text + "\n")
    lifted = lift_scoring_file(
        read_scoring_file(tmp_path / "L.txt"), read_chain(tmp_path / "hg19to38.chain"), "GRCh38"
    )
    rows = lifted.rows
    assert lifted.genome_build == "GRCh38"
    assert rows["chr_position"].tolist()[:2] == [5001, 5060]
    assert pd.isna(rows["chr_position"].iloc[2])
    assert rows["chr_position"].iloc[3] == 6020 and rows["chr_name"].iloc[3] == "1"
    assert (rows["chr_name"].iloc[4], rows["chr_position"].iloc[4]) == ("2", 999891)
    # the minus strand complements the alleles; the + strand keeps them
    assert rows["effect_allele"].tolist() == ["A", "C", "A", "A", "T"]
    assert rows["other_allele"].tolist() == ["G", "T", "C", "C", "G"]
    assert lifted.header["liftover_unmapped"] == "1"


def test_bad_chain_files(tmp_path):
    (tmp_path / "bad.chain").write_text("chain 1 1 10 + 0 5 1 10 + 0\n5\n")
    with pytest.raises(
        InputFormatError, match=r"bad\.chain: line 1 does not parse as a chain file"
    ):
        read_chain(tmp_path / "bad.chain")
    (tmp_path / "orphan.chain").write_text("5 1 1\n")
    with pytest.raises(InputFormatError, match=r"orphan\.chain: line 1 does not parse"):
        read_chain(tmp_path / "orphan.chain")
    (tmp_path / "empty.chain").write_text("# nothing\n")
    with pytest.raises(InputFormatError, match=r"empty\.chain: no chains found"):
        read_chain(tmp_path / "empty.chain")
    with pytest.raises(InputFormatError, match=r"nope\.chain: chain file not found"):
        read_chain(tmp_path / "nope.chain")


# --------------------------------------------------------------------------- scoring files


G4 = np.array([[0, 1, 2], [2, 0, 0], [1, 1, 0], [2, 2, 2]], dtype=np.int8)


def test_rsid_only_file_matched_by_id(tmp_path):
    write_fileset(tmp_path / "g", G4)
    gset = plink.open_genotypes(tmp_path / "g")
    text = "#pgs_id=R\nrsID\teffect_allele\teffect_weight\nrs0\tA\t1.0\nrs2\tG\t2.0\nrs7\tA\t1\n"
    (tmp_path / "r.txt").write_text(text)
    report = match_variants(
        read_scoring_file(tmp_path / "r.txt"), gset.variants, MatchOptions(min_overlap=0.5)
    )
    assert report["match_status"].tolist() == ["matched", "matched", "absent"]
    scores = compute_scores(gset, score_weights([report], gset.n_variants))
    # A counts: rs0 = 0,1,2; rs2 = 1,1,0 -> G dosage 1,1,2: 1*A + 2*G
    assert scores["SUM"].tolist() == [2.0, 3.0, 6.0]


@pytest.mark.parametrize("flag", ["is_haplotype", "is_interaction"])
def test_haplotype_and_interaction_rows_rejected_by_name(tmp_path, flag):
    text = f"{COLUMNS}\t{flag}\nrs0\t1\t100\tA\tG\t1\tFalse\nrs1\t1\t200\tA\tG\t1\tTrue\n"
    (tmp_path / "h.txt").write_text(text)
    with pytest.raises(
        InputFormatError, match=rf"h\.txt: 1 row\(s\) have {flag}=True \(first on data row 2\)"
    ):
        read_scoring_file(tmp_path / "h.txt")


def test_score_below_min_overlap_is_dropped_with_its_reason_unless_strict(tmp_path):
    write_fileset(tmp_path / "g", G4)
    gset = plink.open_genotypes(tmp_path / "g")
    good = "#pgs_id=GOOD\n" + COLUMNS + "\nrs0\t1\t100\tA\tG\t1\nrs1\t1\t200\tA\tG\t1\n"
    bad = (
        "#pgs_id=BAD\n"
        + COLUMNS
        + "\nrs0\t1\t100\tA\tG\t1\nrs8\t1\t800\tA\tG\t1\nrs9\t1\t900\tA\tG\t1\n"
    )
    (tmp_path / "good.txt").write_text(good)
    (tmp_path / "bad.txt").write_text(bad)
    scores = [read_scoring_file(tmp_path / f) for f in ("bad.txt", "good.txt")]
    kept, summary = match_scores(scores, gset.variants, MatchOptions(min_overlap=0.75))
    assert [r["pgs_id"].iloc[0] for r in kept] == ["GOOD"]
    assert summary["scored"].tolist() == [False, True]
    assert "only 33.3% of 3 variants matched" in summary.loc[0, "reason"]
    assert summary["matched"].tolist() == [1, 2]
    with pytest.raises(MatchRateError, match="BAD"):
        match_scores(scores, gset.variants, MatchOptions(min_overlap=0.75), strict=True)


# --------------------------------------------------------------------------- .bim for other tools


def test_write_bim_cm_column_reads_in_plink_and_pgscatalog_match(tmp_path):
    write_fileset(tmp_path / "g", G4)  # cM 0.0 in the table, as igs's own filesets have
    lines = (tmp_path / "g.bim").read_text().splitlines()
    assert lines[0].split("\t") == ["1", "rs0", "0", "100", "A", "G"]  # plink's own spelling
    for tool in ("plink1.9", "plink2"):
        run_tool([require_tool(tool), "--bfile", str(tmp_path / "g"), "--freq", "--out",
                  str(tmp_path / tool)], tmp_path)  # fmt: skip
    bim = plink.read_bim(tmp_path / "g.bim").assign(cm=[0.0, 1.5, 0.0, 2.25])
    plink.write_bim(tmp_path / "h.bim", bim)
    assert [line.split("\t")[2] for line in (tmp_path / "h.bim").read_text().splitlines()] == [
        "0", "1.5", "0", "2.25"
    ]  # fmt: skip
    match = shutil.which("pgscatalog-match")
    if match is None:
        pytest.skip("pgscatalog-match is not installed (pip install pgscatalog-match)")
    score = tmp_path / "normalised.txt"
    score.write_text(
        "chr_name\tchr_position\teffect_allele\tother_allele\teffect_weight\teffect_type\t"
        "is_duplicated\taccession\trow_nr\n"
        "1\t100\tA\tG\t1.0\tadditive\tFalse\tPGS_T\t0\n1\t200\tA\tG\t2.0\tadditive\tFalse\tPGS_T\t1\n"
    )
    (tmp_path / "out").mkdir()
    run_tool([match, "-d", "t", "-s", str(score), "-t", str(tmp_path / "g.bim"), "--outdir",
              str(tmp_path / "out"), "--min_overlap", "0.5"], tmp_path)  # fmt: skip
    summary = pd.read_csv(tmp_path / "out" / "t_summary.csv")
    assert summary.loc[summary["match_status"] == "matched", "count"].sum() == 2
