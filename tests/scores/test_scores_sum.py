"""The workflow's per-chromosome scoring by hand: `igs scores match` and `igs scores compute` on each
chromosome's VCF, then `igs scores sum`. Oracle: the weighted dosage sums computed with numpy
over the variants that pass scores.min_info; the overlap is checked on all chromosomes together."""

from __future__ import annotations

import gzip

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from igs.cli import cli
from igs.config import resolve_config
from igs.errors import ConfigError, InputFormatError, MatchRateError
from igs.io import plink
from igs.options import stage_config, write_stage_config
from igs.scores.match import MatchOptions
from igs.scores.perchrom import combine_match_report_files
from igs.scores.run import ScoreFilters, match_files
from tests.scores.dosage_files import random_dosages, variant_table, write_vcf

N, M = 60, 40  # samples; variants 0-19 on chromosome 1, 20-39 on chromosome 2


def write_score(path, pgs_id: str, variants: list[tuple], rows: list[int], n_absent: int) -> dict:
    """Effect allele ALT for even rows, REF for odd ones; weights by row; absent rows at new positions."""
    lines = [f"#pgs_id={pgs_id}", "#genome_build=GRCh38",
             "chr_name\tchr_position\teffect_allele\tother_allele\teffect_weight"]  # fmt: skip
    weights = {}
    for j in rows:
        chrom, pos, _, ref, alt = variants[j]
        ea, oa = (alt, ref) if j % 2 == 0 else (ref, alt)
        weights[j] = 0.01 * (j + 1) * (1 if j % 3 else -1)
        lines.append(f"{chrom}\t{pos}\t{ea}\t{oa}\t{weights[j]}")
    lines += [f"1\t{99000 + k}\tA\tC\t1.0" for k in range(n_absent)]
    path.write_text("\n".join(lines) + "\n")
    return weights


def options_file(tmp_path, **scores) -> str:
    bb = {"name": "x", "genotypes": {"path": str(tmp_path / "chr{chrom}.vcf.gz"), "format": "vcf"}}
    cfg = resolve_config({"biobanks": [bb], "scores": scores})
    out = tmp_path / f"scores_{len(list(tmp_path.glob('scores_*.json')))}.json"
    write_stage_config(stage_config(cfg, "scores", "x"), out)
    return str(out)


def run(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_per_chromosome_match_compute_sum_equals_numpy(tmp_path):
    samples = [f"S{i}" for i in range(N)]
    variants = variant_table(M, ("1", "2"), seed=11)
    d = random_dosages(N, M, seed=12, missing=0.0)
    for c, rows in (("1", range(20)), ("2", range(20, 40))):
        write_vcf(tmp_path / f"chr{c}.vcf.gz", [variants[j] for j in rows], samples, d[list(rows)])
    # R2 = 0.3 + 0.07 * (j mod 10): variants with j mod 10 < 5 fail min_info 0.6
    good = write_score(tmp_path / "good.txt", "GOOD", variants, [*range(20), *range(25, 31)], 4)
    write_score(tmp_path / "bad.txt", "BAD", variants, [35, 36], 8)
    opts = options_file(tmp_path, min_info=0.6, min_overlap=0.4)
    for c in ("1", "2"):
        vcf, part = str(tmp_path / f"chr{c}.vcf.gz"), tmp_path / c
        for args in (
            ["match", "--genotypes", vcf, "--format", "vcf", "--genome-build", "GRCh38",
             "--options", opts, "--report", str(part / "r.tsv.gz"), str(tmp_path / "good.txt"),
             str(tmp_path / "bad.txt")],
            ["compute", "--genotypes", vcf, "--format", "vcf", "--options", opts,
             "--report", str(part / "r.tsv.gz"), "--out", str(part / "s.tsv.gz")],
        ):  # fmt: skip
            part.mkdir(exist_ok=True)
            result = run("scores", *args)
            assert result.exit_code == 0, result.output
    sum_args = ["scores", "sum", "--part", "1", "--part", "2",
                "--part-report", str(tmp_path / "1/r.tsv.gz"), "--part-report", str(tmp_path / "2/r.tsv.gz"),
                "--part-scores", str(tmp_path / "1/s.tsv.gz"), "--part-scores", str(tmp_path / "2/s.tsv.gz"),
                "--report", str(tmp_path / "report.tsv.gz"), "--summary", str(tmp_path / "summary.tsv"),
                "--out", str(tmp_path / "scores.tsv.gz")]  # fmt: skip
    result = run(*sum_args, "--options", opts)
    assert result.exit_code == 0, result.output

    kept = [j for j in good if j % 10 >= 5]  # chromosome 1 alone: 10 of 30 (< 0.4); both: 15 of 30
    assert len(kept) == 15
    dosage = np.array([d[j] if j % 2 == 0 else 2 - d[j] for j in kept])
    expected = (np.array([good[j] for j in kept])[:, None] * dosage).sum(axis=0)
    scores = pd.read_csv(tmp_path / "scores.tsv.gz", sep="\t", dtype={"IID": str})
    assert scores["pgs_id"].unique().tolist() == ["GOOD"]  # BAD dropped: 2 of 10
    assert scores["IID"].tolist() == samples
    np.testing.assert_allclose(scores["SUM"], expected, rtol=0, atol=1e-9)
    assert (scores["n_variants"] == 15).all()
    summary = pd.read_csv(tmp_path / "summary.tsv", sep="\t").set_index("pgs_id")
    assert summary.loc["GOOD", ["matched", "filtered_info", "absent"]].tolist() == [15, 11, 4]
    assert summary["scored"].tolist() == [True, False]
    assert (
        "BAD: only 20.0% of 10 variants matched the target over 2 genotype file(s)"
        in (summary.loc["BAD", "reason"])
    )
    report = pd.read_csv(tmp_path / "report.tsv.gz", sep="\t", dtype={"chrom_part": str})
    matched = report[(report["pgs_id"] == "GOOD") & (report["match_status"] == "matched")]
    assert matched["chrom_part"].value_counts().to_dict() == {"1": 10, "2": 5}

    strict = options_file(tmp_path, min_info=0.6, min_overlap=0.4, strict=True)
    with pytest.raises(MatchRateError, match=r"BAD: only 20\.0% of 10 variants") as err:
        run(*sum_args, "--options", strict)
    assert "scores.strict is true: the run stops" in str(err.value)


def test_min_maf_needs_the_local_reader(tmp_path):
    samples, variants = ["a", "b"], variant_table(4, ("1",), seed=1)
    write_vcf(tmp_path / "x.vcf.gz", variants, samples, random_dosages(2, 4, seed=2))
    write_score(tmp_path / "s.txt", "S", variants, [0, 1], 0)
    listed = plink.open_genotypes(tmp_path / "x.vcf.gz", "vcf").variants  # as Hail lists them
    with pytest.raises(
        ConfigError, match=r"scores\.min_maf needs the genotypes read by the local engine"
    ):
        match_files(listed, [str(tmp_path / "s.txt")], "GRCh38", MatchOptions(), tmp_path / "r.tsv.gz",
                    filters=ScoreFilters(min_maf=0.01))  # fmt: skip


def test_part_reports_must_list_the_same_rows(tmp_path):
    # igs scores sum streams the parts' reports row by row: a part matched on other scoring
    # files is refused, naming it; a part whose rows match combines as the best status per row
    samples, variants = ["a", "b"], variant_table(8, ("1", "2"), seed=3)
    for c, rows in (("1", range(4)), ("2", range(4, 8))):
        write_vcf(tmp_path / f"chr{c}.vcf.gz", [variants[j] for j in rows], samples,
                  random_dosages(2, 4, seed=4))  # fmt: skip
    write_score(tmp_path / "s.txt", "S", variants, [0, 1, 5], 1)
    write_score(tmp_path / "t.txt", "T", variants, [2, 6], 0)
    reports = {}
    for c, files in (("1", ["s.txt"]), ("2", ["s.txt", "t.txt"]), ("3", ["s.txt"])):
        vcf = "chr1" if c == "3" else f"chr{c}"
        listed = plink.open_genotypes(tmp_path / f"{vcf}.vcf.gz", "vcf").variants
        reports[c] = tmp_path / f"r{c}.tsv.gz"
        match_files(listed, [str(tmp_path / f) for f in files], "GRCh38", MatchOptions(),
                    reports[c])  # fmt: skip
    with pytest.raises(InputFormatError, match="lists other scoring-file rows than") as err:
        combine_match_report_files({"1": reports["1"], "2": reports["2"]})
    assert str(reports["2"]) in str(err.value)
    both = combine_match_report_files({"1": reports["1"], "3": reports["3"]})
    # rows 0 and 1 on chromosome 1 (found in part 1 first), row 5 on chromosome 2: absent
    assert both["match_status"].tolist() == ["matched", "matched", "absent", "absent"]
    assert both["chrom_part"].tolist()[:2] == ["1", "1"]


@pytest.mark.parametrize(
    "filters", [{"min_info": 0.6}, {"min_maf": 0.25}, {"min_info": 0.6, "min_maf": 0.25}]
)
def test_one_match_of_all_parts_equals_matching_each_part(tmp_path, filters):
    # the workflow's one `scores_match` job per biobank (`igs scores match --part ...`, then
    # `compute --weights --part` per part and `sum` of the score tables) against each part
    # matched on its own and combined by `igs scores sum --part-report`: the same report
    # values, the same summary and scores, byte for byte
    samples = [f"S{i}" for i in range(N)]
    variants = variant_table(M, ("1", "2"), seed=21)
    d = random_dosages(N, M, seed=22, missing=0.05)
    vcfs = {}
    for c, rows in (("1", range(20)), ("2", range(20, 40))):
        vcfs[c] = str(tmp_path / f"chr{c}.vcf.gz")
        write_vcf(vcfs[c], [variants[j] for j in rows], samples, d[list(rows)])
    scoring = [str(tmp_path / f"{name}.txt") for name in ("good", "bad", "empty", "one")]
    write_score(tmp_path / "empty.txt", "EMPTY", variants, [], 0)  # a header, no rows
    write_score(tmp_path / "good.txt", "GOOD", variants, [*range(20), *range(25, 31)], 4)
    write_score(tmp_path / "bad.txt", "BAD", variants, [35, 36], 8)
    write_score(tmp_path / "one.txt", "ONE", variants, [5, 6, 7, 8, 9], 0)  # chromosome 1 only
    opts = options_file(tmp_path, min_overlap=0.4, **filters)
    build = ["--genome-build", "GRCh38", "--format", "vcf", "--options", opts]
    old, new = tmp_path / "old", tmp_path / "new"
    for c, vcf in vcfs.items():
        (old / c).mkdir(parents=True)
        for args in (
            ["match", "--genotypes", vcf, *build, "--report", str(old / c / "r.tsv.gz"), *scoring],
            ["compute", "--genotypes", vcf, "--format", "vcf", "--options", opts,
             "--report", str(old / c / "r.tsv.gz"), "--out", str(old / c / "s.tsv.gz")],
        ):  # fmt: skip
            assert run("scores", *args).exit_code == 0
    parts = [a for c in vcfs for a in ("--part", c)]
    old_sum = run("scores", "sum", *parts, "--options", opts,
                  *[a for c in vcfs for a in ("--part-report", str(old / c / "r.tsv.gz"))],
                  *[a for c in vcfs for a in ("--part-scores", str(old / c / "s.tsv.gz"))],
                  "--report", str(old / "report.tsv.gz"), "--summary", str(old / "summary.tsv"),
                  "--out", str(old / "scores.tsv.gz"))  # fmt: skip
    assert old_sum.exit_code == 0, old_sum.output

    new.mkdir()
    matched = run("scores", "match", *[a for c, v in vcfs.items() for a in ("--genotypes", v, "--part", c)],
                  *build, "--report", str(new / "report.tsv.gz"), "--summary", str(new / "summary.tsv"),
                  "--weights", str(new / "weights.parquet"), *scoring)  # fmt: skip
    assert matched.exit_code == 0, matched.output
    for c, vcf in vcfs.items():
        computed = run("scores", "compute", "--genotypes", vcf, "--format", "vcf", "--options", opts,
                       "--weights", str(new / "weights.parquet"), "--part", c,
                       "--out", str(new / f"s{c}.tsv.gz"))  # fmt: skip
        assert computed.exit_code == 0, computed.output
    summed = run("scores", "sum", *parts, *[a for c in vcfs for a in ("--part-scores", str(new / f"s{c}.tsv.gz"))],
                 "--out", str(new / "scores.tsv.gz"))  # fmt: skip
    assert summed.exit_code == 0, summed.output

    assert (new / "summary.tsv").read_bytes() == (old / "summary.tsv").read_bytes()
    summary = pd.read_csv(new / "summary.tsv", sep="\t").set_index("pgs_id")
    assert summary["scored"].tolist() == [True, False, True]  # BAD: 2 of 10 (< 0.4)
    assert summary.loc["GOOD", "matched"] > 0 and summary.loc["ONE", "matched"] > 0
    for name, column in (("min_info", "filtered_info"), ("min_maf", "filtered_maf")):
        assert (summary[column].sum() > 0) == (name in filters)  # the filters did filter
    with gzip.open(new / "scores.tsv.gz") as a, gzip.open(old / "scores.tsv.gz") as b:
        assert a.read() == b.read()
    read = lambda p: pd.read_csv(p, sep="\t", dtype={"chrom_part": str, "chr_name": str})  # noqa: E731
    pd.testing.assert_frame_equal(read(new / "report.tsv.gz"), read(old / "report.tsv.gz"))
    # the parts' score tables list every scored score, also one with no variant in the part
    s2 = pd.read_csv(new / "s2.tsv.gz", sep="\t")
    assert s2["pgs_id"].unique().tolist() == ["GOOD", "ONE"]
    assert (s2.loc[s2["pgs_id"] == "ONE", "n_variants"] == 0).all()


def test_one_match_of_all_parts_strict_and_usage(tmp_path):
    samples, variants = ["a", "b"], variant_table(8, ("1", "2"), seed=3)
    vcfs = {}
    for c, rows in (("1", range(4)), ("2", range(4, 8))):
        vcfs[c] = str(tmp_path / f"chr{c}.vcf.gz")
        write_vcf(vcfs[c], [variants[j] for j in rows], samples, random_dosages(2, 4, seed=4))
    write_score(tmp_path / "s.txt", "S", variants, [0], 9)
    strict = options_file(tmp_path, min_overlap=0.5, strict=True)
    args = ["scores", "match", *[a for c, v in vcfs.items() for a in ("--genotypes", v, "--part", c)],
            "--format", "vcf", "--genome-build", "GRCh38", "--options", strict,
            "--report", str(tmp_path / "r.tsv.gz"), str(tmp_path / "s.txt")]  # fmt: skip
    result = CliRunner().invoke(cli, [*args, "--summary", str(tmp_path / "m.tsv")])
    assert isinstance(result.exception, MatchRateError)
    assert "S: only 10.0% of 10 variants matched the target over 2 genotype file(s)" in str(
        result.exception
    )
    assert "scores.strict is true: the run stops" in str(result.exception)
    assert not (tmp_path / "r.tsv.gz").exists() and not (tmp_path / "m.tsv").exists()
    usage = CliRunner().invoke(cli, args)  # --part without --summary
    assert usage.exit_code == 2 and "--part needs --summary" in usage.output
    twice = list(args)
    twice[twice.index("2")] = "1"  # both files named part 1
    usage = CliRunner().invoke(cli, [*twice, "--summary", str(tmp_path / "m.tsv")])
    assert usage.exit_code == 2 and "give each --part its own name" in usage.output


def test_weights_file_errors(tmp_path):
    samples, variants = ["a", "b"], variant_table(4, ("1",), seed=5)
    vcf = str(tmp_path / "chr1.vcf.gz")
    write_vcf(vcf, variants, samples, random_dosages(2, 4, seed=6))
    (tmp_path / "text.parquet").write_text("pgs_id\trow\n")
    pd.DataFrame({"chrom_part": ["1"]}).to_parquet(tmp_path / "other.parquet")
    for name, message in (("text.parquet", "cannot be read as a weights file"),
                          ("other.parquet", "not a weights file of")):  # fmt: skip
        result = CliRunner().invoke(cli, ["scores", "compute", "--genotypes", vcf, "--format", "vcf",
                                          "--weights", str(tmp_path / name), "--part", "1",
                                          "--out", str(tmp_path / "s.tsv.gz")])  # fmt: skip
        assert isinstance(result.exception, InputFormatError), result.output
        assert message in str(result.exception) and name in str(result.exception)
    usage = CliRunner().invoke(cli, ["scores", "compute", "--genotypes", vcf, "--format", "vcf",
                                     "--weights", str(tmp_path / "other.parquet"),
                                     "--out", str(tmp_path / "s.tsv.gz")])  # fmt: skip
    assert usage.exit_code == 2 and "--weights and --part go together" in usage.output
