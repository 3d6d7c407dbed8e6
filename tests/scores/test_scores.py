"""Scoring files, variant matching and the scoring engine, checked by hand, against plink2 and pgsc_calc."""

from __future__ import annotations

import subprocess
from pathlib import Path

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
from igs.scores.match import check_build
from tests.conftest import (
    G1000,
    SHARED_ORACLE,
    assert_equal_to_plink_precision,
    plink2_scores,
    random_score,
    require_tool,
    run_tool,
    write_fileset,
)

HEADER = "#format_version=2.0\n#pgs_id=PGS_T\n#genome_build=GRCh38\n"
# target: rs0..rs3 at positions 100..400, a1=A, a2=G (see write_fileset); rs3 made ambiguous below
SCORE = HEADER + (
    "rsID\tchr_name\tchr_position\teffect_allele\tother_allele\teffect_weight\n"
    "rs0\t1\t100\tA\tG\t1.0\n"  # exact
    "rs1\t1\t200\tG\tA\t2.0\n"  # swapped: dosage = 2 - count(A)
    "rs2\t1\t300\tT\tC\t0.5\n"  # flipped (T/C is A/G on the other strand)
    "rs9\t1\t999\tA\tG\t5.0\n"  # absent
)
G4 = np.array([[0, 1, 2], [2, -9, 0], [1, 1, 0], [2, 2, 2]], dtype=np.int8)  # (variants, samples)


def tiny(tmp_path: Path, text: str = SCORE):
    write_fileset(tmp_path / "g", G4)
    (tmp_path / "s.txt").write_text(text)
    return plink.open_genotypes(tmp_path / "g"), read_scoring_file(tmp_path / "s.txt")


def test_hand_computed_scores(tmp_path):
    gset, score = tiny(tmp_path)
    report = match_variants(score, gset.variants, MatchOptions(min_overlap=0.5))
    assert report["match_status"].tolist() == ["matched", "matched", "matched", "absent"]
    assert report["match_type"].tolist()[:3] == ["exact", "swapped", "flipped"]
    w = score_weights([report], gset.n_variants)
    # sample 0: 1*0 + 2*(2-2) + 0.5*1 = 0.5; sample 2: 1*2 + 2*(2-0) + 0 = 6
    # sample 1 misses rs1: no imputation -> 1*1 + 0.5*1 = 1.5; mean-imputed count(A) = 1 -> + 2*(2-1) = 3.5
    no_imp = compute_scores(gset, w, mean_impute=False, dosage_sums=True)
    assert no_imp["SUM"].tolist() == [0.5, 1.5, 6.0]
    assert no_imp["ALLELE_CT"].tolist() == [6, 4, 6]
    assert no_imp["NAMED_ALLELE_DOSAGE_SUM"].tolist() == [1.0, 2.0, 4.0]
    np.testing.assert_allclose(no_imp["AVG"], [0.5 / 6, 1.5 / 4, 1.0])
    imp = compute_scores(gset, w, mean_impute=True, dosage_sums=True)
    assert imp["SUM"].tolist() == [0.5, 3.5, 6.0]
    np.testing.assert_allclose(
        imp["AVG"], [0.5 / 6, 3.5 / 6, 1.0]
    )  # plink2: imputed AVG over all variants
    assert imp["NAMED_ALLELE_DOSAGE_SUM"].tolist() == [1.0, 2.0, 4.0]  # called genotypes only
    assert (imp["n_variants"] == 3).all()


def test_score_is_linear_in_weights(tmp_path):
    gset, score = tiny(tmp_path)
    report = match_variants(score, gset.variants, MatchOptions(min_overlap=0.5))
    base = compute_scores(gset, score_weights([report], gset.n_variants))["SUM"].to_numpy()
    doubled = report.assign(effect_weight=3 * report["effect_weight"], pgs_id="x3")
    tripled = compute_scores(gset, score_weights([doubled], gset.n_variants))["SUM"].to_numpy()
    np.testing.assert_allclose(tripled, 3 * base)


def test_ambiguous_excluded_by_default_and_kept_on_request(tmp_path):
    text = SCORE.replace("rs9\t1\t999\tA\tG\t5.0", "rs3\t1\t400\tA\tT\t5.0")
    write_fileset(tmp_path / "g", G4)
    bim = plink.read_bim(tmp_path / "g.bim")
    bim.loc[3, "a2"] = "T"
    plink.write_bim(tmp_path / "g.bim", bim)
    (tmp_path / "s.txt").write_text(text)
    gset, score = plink.open_genotypes(tmp_path / "g"), read_scoring_file(tmp_path / "s.txt")
    assert match_variants(score, gset.variants)["match_status"].iloc[3] == "excluded_ambiguous"
    kept = match_variants(score, gset.variants, MatchOptions(keep_ambiguous=True))
    assert kept["match_status"].iloc[3] == "matched" and kept["match_type"].iloc[3] == "exact"


def test_duplicate_rows_keep_the_first(tmp_path):
    text = SCORE + "rs0b\t1\t100\tA\tG\t7.0\n"
    gset, score = tiny(tmp_path, text)
    report = match_variants(score, gset.variants, MatchOptions(min_overlap=0.5))
    assert report["match_status"].tolist()[-1] == "duplicate"


def test_multiallelic_site_resolved_by_alleles(tmp_path):
    write_fileset(tmp_path / "g", G4)
    bim = plink.read_bim(tmp_path / "g.bim")
    bim.loc[1, ["pos", "a1", "a2"]] = [100, "T", "G"]  # a second ALT at position 100
    plink.write_bim(tmp_path / "g.bim", bim)
    (tmp_path / "s.txt").write_text(
        HEADER + "chr_name\tchr_position\teffect_allele\tother_allele\teffect_weight\n"
        "1\t100\tT\tG\t1\n1\t100\tA\tG\t1\n"
    )
    report = match_variants(
        read_scoring_file(tmp_path / "s.txt"), plink.open_genotypes(tmp_path / "g").variants
    )
    assert report["target_index"].tolist() == [1, 0]


def test_low_overlap_fails_with_rate(tmp_path):
    gset, score = tiny(tmp_path)
    with pytest.raises(
        MatchRateError, match=r"PGS_T .*only 75\.0% of 4 variants matched .*min_overlap 90%"
    ):
        match_variants(score, gset.variants, MatchOptions(min_overlap=0.9))


def test_build_mismatch(tmp_path):
    _, score = tiny(tmp_path)
    with pytest.raises(
        InputFormatError, match=r"positions are on GRCh38 but the target genotypes are on GRCh37"
    ):
        check_build(score, "GRCh37")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            "chr_name\tchr_position\tother_allele\teffect_weight\n1\t1\tA\t1\n",
            r"missing required column\(s\) effect_allele",
        ),
        (
            "chr_name\tchr_position\teffect_allele\teffect_weight\n1\t1\tA\tbig\n",
            r"non-numeric effect_weight 'big' on data row 1",
        ),
        (
            "chr_name\tchr_position\teffect_allele\tdosage_0_weight\tdosage_1_weight\tdosage_2_weight\n1\t1\tA\t0\t1\t2\n",
            "per-genotype weights",
        ),
        (
            "chr_name\tchr_position\teffect_allele\teffect_weight\tis_dominant\tis_recessive\n1\t1\tA\t1\tTrue\tTrue\n",
            "marked both is_dominant and is_recessive",
        ),
    ],
    ids=["no-effect-allele", "bad-weight", "per-genotype", "dominant-and-recessive"],
)
def test_bad_scoring_files(tmp_path, body, message):
    (tmp_path / "bad.txt").write_text(HEADER + body)
    with pytest.raises(InputFormatError, match=message):
        read_scoring_file(tmp_path / "bad.txt")


def test_matches_equal_planted_truth(small_cohort, small_scoring_files, small_truth):
    gset = plink.open_genotypes(small_cohort / "genotypes")
    score = read_scoring_file(small_scoring_files / "IGS_SIM_CAD.txt.gz")
    report = match_variants(score, gset.variants)
    truth = pd.read_csv(small_scoring_files / "IGS_SIM_CAD.truth.tsv.gz", sep="\t")
    not_genotyped = truth["rsID"].isin(small_truth["planted"]["array_missing_variants"])
    expected = truth["status"].where(~not_genotyped, "absent")
    got = (
        report["match_type"]
        .fillna(report["match_status"])
        .replace({"excluded_ambiguous": "ambiguous"})
    )
    assert (got.to_numpy() == expected.to_numpy()).all()


@pytest.mark.oracle
@pytest.mark.parametrize("impute", [True, False], ids=["mean-imputation", "no-mean-imputation"])
def test_scores_equal_plink2(small_cohort, small_scoring_files, tmp_path, impute):
    gset = plink.open_genotypes(small_cohort / "genotypes")
    reports = [
        match_variants(read_scoring_file(small_scoring_files / f"{s}.txt.gz"), gset.variants)
        for s in ("IGS_SIM_CAD", "IGS_SIM_T2D", "IGS_SIM_LDL")
    ]
    ours = compute_scores(
        gset,
        score_weights(reports, gset.n_variants),
        mean_impute=impute,
        chunk_variants=500,
        dosage_sums=True,
    )
    for report in reports:
        pgs = report["pgs_id"].iloc[0]
        theirs = plink2_scores(small_cohort / "genotypes", report, gset.variants, tmp_path, impute)
        mine = ours[ours["pgs_id"] == pgs].set_index("IID").loc[theirs["#FID"]]
        assert_equal_to_plink_precision(mine["SUM"].to_numpy(), theirs["W_SUM"].to_numpy())
        assert_equal_to_plink_precision(mine["AVG"].to_numpy(), theirs["W_AVG"].to_numpy())
        assert_equal_to_plink_precision(
            mine["NAMED_ALLELE_DOSAGE_SUM"].to_numpy(), theirs["NAMED_ALLELE_DOSAGE_SUM"].to_numpy()
        )
        assert (mine["ALLELE_CT"].to_numpy() == theirs["ALLELE_CT"].to_numpy()).all()


@pytest.mark.oracle
@pytest.mark.parametrize("impute", [True, False], ids=["mean-imputation", "no-mean-imputation"])
def test_chrx_scores_equal_plink2(small_cohort, tmp_path, impute):
    # plink2 mean-imputes chrX with males counted as haploid; dosages stay 0/1/2
    gset = plink.open_genotypes(small_cohort / "genotypes")
    report = random_score(gset, 5, ("X",))
    assert len(report) > 300
    ours = compute_scores(gset, score_weights([report], gset.n_variants), mean_impute=impute)
    ours = ours.set_index("IID")
    allele = report["effect_allele"].to_numpy()
    ids = gset.variants.loc[report["target_index"], "id"].to_numpy()
    pd.DataFrame({"ID": ids, "A": allele, "W": report["effect_weight"]}).to_csv(
        tmp_path / "x.txt", sep="\t", index=False
    )
    run_tool(
        [require_tool("plink2"), "--bfile", str(small_cohort / "genotypes"),
         "--score", str(tmp_path / "x.txt"), "1", "2", "3", "header-read", "cols=+scoresums",
         *([] if impute else ["no-mean-imputation"]), "--out", str(tmp_path / "x")],
        tmp_path,
    )  # fmt: skip
    theirs = pd.read_csv(tmp_path / "x.sscore", sep="\t").set_index("IID")
    mine = ours.loc[theirs.index]
    assert_equal_to_plink_precision(mine["SUM"].to_numpy(), theirs["W_SUM"].to_numpy())
    assert (mine["ALLELE_CT"].to_numpy() == theirs["ALLELE_CT"].to_numpy()).all()


@pytest.mark.parametrize("impute", [True, False], ids=["mean-imputation", "no-mean-imputation"])
def test_packed_kernel_equals_dosage_reader(small_cohort, impute):
    # every code path of the packed kernel (base codes, missing calls, swapped, dominant,
    # recessive, chrX, 600 samples = 18 words and a partial one) against the float reader
    gset = plink.open_genotypes(small_cohort / "genotypes")
    reports = [random_score(gset, seed, ("1", "2", "3", "X")) for seed in (1, 2, 3)]
    reports[1]["is_dominant"] = np.arange(len(reports[1])) % 5 == 0
    reports[2]["is_recessive"] = np.arange(len(reports[2])) % 5 == 0
    reports[2] = reports[2].sample(frac=0.3, random_state=0).sort_values("target_index")
    w = score_weights(reports, gset.n_variants)
    kw = {"mean_impute": impute, "dosage_sums": True}
    packed = compute_scores(gset, w, reader="packed", chunk_variants=333, **kw)
    dosage = compute_scores(gset, w, reader="dosage", **kw)
    pd.testing.assert_frame_equal(packed, dosage, check_exact=False, rtol=1e-12, atol=1e-9)
    whole = compute_scores(gset, w, reader="packed", chunk_variants=100_000, **kw)
    pd.testing.assert_frame_equal(packed, whole, check_exact=False, rtol=1e-12, atol=1e-9)


@pytest.mark.oracle
@pytest.mark.parametrize("impute", [True, False], ids=["mean-imputation", "no-mean-imputation"])
def test_pgen_dosage_scores_with_missing_calls_and_chrx_equal_plink2(
    small_cohort, tmp_path, impute
):
    # the pgen reader's one matrix product per chunk with its missing-call correction (chunks
    # with and without missing calls, swapped alleles, chrX males haploid in the mean) against
    # plink2 --pfile --score on the same file, SUM, ALLELE_CT and the named-allele dosage sum
    gset = plink.open_genotypes(small_cohort / "genotypes", "pgen")
    report = random_score(gset, 9, ("1", "2", "X"))
    ours = compute_scores(
        gset, score_weights([report], gset.n_variants), mean_impute=impute, dosage_sums=True,
        chunk_variants=97,
    ).set_index("IID")  # fmt: skip
    ids = gset.variants.loc[report["target_index"], "id"].to_numpy()
    pd.DataFrame({"ID": ids, "A": report["effect_allele"], "W": report["effect_weight"]}).to_csv(
        tmp_path / "s.txt", sep="\t", index=False
    )
    run_tool(
        [require_tool("plink2"), "--pfile", str(small_cohort / "genotypes"),
         "--score", str(tmp_path / "s.txt"), "1", "2", "3", "header-read", "cols=+scoresums",
         *([] if impute else ["no-mean-imputation"]), "--out", str(tmp_path / "s")],
        tmp_path,
    )  # fmt: skip
    theirs = pd.read_csv(tmp_path / "s.sscore", sep="\t").rename(columns={"#IID": "IID"})
    mine = ours.loc[theirs.set_index("IID").index]
    assert mine["ALLELE_CT"].min() < mine["ALLELE_CT"].max()  # some calls are missing
    assert_equal_to_plink_precision(mine["SUM"].to_numpy(), theirs["W_SUM"].to_numpy())
    assert (mine["ALLELE_CT"].to_numpy() == theirs["ALLELE_CT"].to_numpy()).all()
    assert_equal_to_plink_precision(
        mine["NAMED_ALLELE_DOSAGE_SUM"].to_numpy(), theirs["NAMED_ALLELE_DOSAGE_SUM"].to_numpy()
    )


def test_bed_and_pgen_give_the_same_scores(small_cohort, small_scoring_files):
    out = []
    for fmt in ("bed", "pgen"):
        gset = plink.open_genotypes(small_cohort / "genotypes", fmt)
        report = match_variants(
            read_scoring_file(small_scoring_files / "IGS_SIM_T2D.txt.gz"), gset.variants
        )
        out.append(compute_scores(gset, score_weights([report], gset.n_variants)))
    pd.testing.assert_frame_equal(out[0], out[1])


CINECA = SHARED_ORACLE / "cineca_chr22"


@pytest.mark.oracle
@pytest.mark.skipif(not CINECA.is_dir(), reason="../shared/oracle/cineca_chr22 is absent")
def test_cineca_match_counts_and_plink2_sums():
    gset = plink.open_genotypes(
        CINECA / "assets/examples/target_genomes/cineca_synthetic_subset", "pgen"
    )
    score = read_scoring_file(CINECA / "assets/examples/scorefiles/PGS001229_22.txt")
    report = match_variants(score, gset.variants)
    assert report["match_status"].value_counts().to_dict() == {
        "matched": 782,
        "excluded_ambiguous": 47,
        "absent": 6,
    }
    ours = compute_scores(gset, score_weights([report], gset.n_variants))
    theirs = pd.read_csv(
        SHARED_ORACLE / "expected/cineca_PGS001229_22/plink2_a3.5.sscore", sep="\t"
    )
    mine = ours.set_index("IID").loc[theirs["IID"]]
    assert_equal_to_plink_precision(mine["SUM"].to_numpy(), theirs["PGS001229_SUM"].to_numpy())
    assert (mine["ALLELE_CT"].to_numpy() == theirs["ALLELE_CT"].to_numpy()).all()


@pytest.mark.oracle
@pytest.mark.skipif(not G1000.is_dir(), reason="../shared/oracle/1000g_pgs000586 is absent")
def test_1000g_pgs000586_equals_pgsc_calc(tmp_path):
    # plink2 only converts the VCF; the scores are compared with pgsc_calc's published output.
    run_tool(
        [
            require_tool("plink2"),
            "--vcf",
            str(G1000 / "tests/data/vcf/PGS000586_GRCh38.vcf.gz"),
            "--make-pgen",
            "--out",
            str(tmp_path / "g"),
        ],
        tmp_path,
    )
    gset = plink.open_genotypes(tmp_path / "g", "pgen")
    score = read_scoring_file(G1000 / "tests/data/PGS000586_hmPOS_GRCh38.txt.gz")
    assert score.genome_build == "GRCh38"
    report = match_variants(score, gset.variants, MatchOptions(exclude_chromosomes=("X",)))
    counts = report["match_status"].value_counts()
    assert counts["matched"] == 809 and counts["excluded_ambiguous"] == 136
    assert counts["absent"] + counts.get("allele_mismatch", 0) == 78
    ours = compute_scores(
        gset, score_weights([report], gset.n_variants), mean_impute=False, dosage_sums=True
    ).set_index("IID")
    published = pd.read_csv(
        G1000 / "assets/example_results/scores.txt.gz", sep=r"[\t,]", engine="python"
    )
    published = published.set_index("IID" if "IID" in published.columns else "sample_id")
    mine = ours.loc[published.index]
    score_col = next(c for c in published.columns if c.endswith("_SUM") or c == "score")
    assert_equal_to_plink_precision(mine["SUM"].to_numpy(), published[score_col].to_numpy())
    dosage_col = next(c for c in published.columns if "dosage" in c.lower())
    np.testing.assert_allclose(
        mine["NAMED_ALLELE_DOSAGE_SUM"].to_numpy(), published[dosage_col].to_numpy()
    )


def run_igs_scores(*args: str) -> subprocess.CompletedProcess:
    import sys

    return subprocess.run(
        [sys.executable, "-m", "igs.cli", "scores", *args], capture_output=True, text=True
    )


def test_cli_match_and_compute(small_cohort, small_scoring_files, tmp_path):
    genotypes = str(small_cohort / "genotypes")
    files = [str(small_scoring_files / f"{s}.txt.gz") for s in ("IGS_SIM_CAD", "IGS_SIM_LDL")]

    def match(build: str, tag: str) -> subprocess.CompletedProcess:
        return run_igs_scores(
            "match",
            "--genotypes",
            genotypes,
            "--genome-build",
            build,
            "--report",
            str(tmp_path / f"{tag}.tsv.gz"),
            "--summary",
            str(tmp_path / f"{tag}.tsv"),
            *files,
        )

    assert match("GRCh38", "r").returncode == 0
    proc = run_igs_scores(
        "compute",
        "--genotypes",
        genotypes,
        "--report",
        str(tmp_path / "r.tsv.gz"),
        "--out",
        str(tmp_path / "scores.tsv.gz"),
    )
    assert proc.returncode == 0, proc.stderr
    got = pd.read_csv(tmp_path / "scores.tsv.gz", sep="\t")
    assert set(got["pgs_id"]) == {"IGS_SIM_CAD", "IGS_SIM_LDL"} and len(got) == 2 * 600
    proc = match("GRCh37", "r2")
    assert (
        proc.returncode == 3
        and "positions are on GRCh38 but the target genotypes are on GRCh37" in proc.stderr
    )
    assert not (tmp_path / "r2.tsv.gz").exists()


def test_report_written_in_parts_equals_the_whole(small_cohort, small_scoring_files, tmp_path):
    """`igs scores match` streams one score's report at a time; the bytes are those of one write."""
    from igs.io.tables import TsvWriter, write_tsv

    gset = plink.open_genotypes(small_cohort / "genotypes")
    parts = [
        match_variants(read_scoring_file(p), gset.variants)
        for p in sorted(small_scoring_files.glob("IGS_SIM_*.txt.gz"))
    ]
    parts[0]["other_allele"] = None  # an all-missing column in the first part stays text
    write_tsv(pd.concat(parts, ignore_index=True), tmp_path / "whole.tsv.gz")
    with TsvWriter(tmp_path / "parts.tsv.gz") as out:
        for part in parts:
            out.write(part)
    assert (tmp_path / "parts.tsv.gz").read_bytes() == (tmp_path / "whole.tsv.gz").read_bytes()
