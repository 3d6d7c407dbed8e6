"""Imputed dosages (pgen, BGEN, VCF DS/GP/GT) scored by the local engine, against plink2 and
pgsc_calc's published 1000 Genomes scores; per-chromosome scoring equals the merged file."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from igs.errors import InputFormatError
from igs.io import plink
from igs.io.chroms import expand_chrom_paths
from igs.scores import (
    MatchOptions,
    compute_scores,
    match_variants,
    read_scoring_file,
    score_weights,
)
from igs.scores.match import check_overlap
from igs.scores.perchrom import (
    combine_match_reports,
    concat_variants,
    report_for_part,
    sum_score_tables,
)
from tests.conftest import (
    G1000,
    assert_equal_to_plink_precision,
    require_tool,
    run_tool,
)
from tests.scores.dosage_files import (
    random_dosages,
    split_bgen_by_chromosome,
    split_vcf_by_chromosome,
    variant_table,
    write_bgen,
    write_vcf,
)

N_SAMPLES, N_VARIANTS, CHROMS = 150, 240, ("1", "2", "3")


@pytest.fixture(scope="module")
def dosage_data(tmp_path_factory) -> dict:
    """One set of dosages as VCF DS (merged and per chromosome), pgen (plink2's import) and BGEN,
    and two scoring files over them (positions; random effect allele; small weights)."""
    out = tmp_path_factory.mktemp("dosages")
    samples = [f"S{i}" for i in range(N_SAMPLES)]
    variants = variant_table(N_VARIANTS, CHROMS, seed=5)
    d = random_dosages(N_SAMPLES, N_VARIANTS, seed=6)
    write_vcf(out / "all.vcf.gz", variants, samples, d)
    write_bgen(out / "all.bgen", variants, samples, d)
    for c in CHROMS:
        rows = [i for i, v in enumerate(variants) if v[0] == c]
        write_vcf(out / f"chr{c}.vcf.gz", [variants[i] for i in rows], samples, d[rows])
        write_bgen(out / f"chr{c}.bgen", [variants[i] for i in rows], samples, d[rows])
    run_tool(
        [require_tool("plink2"), "--vcf", str(out / "all.vcf.gz"), "dosage=DS",
         "--make-pgen", "--out", str(out / "all")],
        out,
    )  # fmt: skip
    rng = np.random.default_rng(7)
    for k in range(2):
        pick = np.sort(rng.choice(N_VARIANTS, size=150, replace=False))
        swap = rng.random(len(pick)) < 0.5
        lines = ["chr_name\tchr_position\teffect_allele\tother_allele\teffect_weight"]
        for j, s in zip(pick, swap, strict=True):
            chrom, pos, _, ref, alt = variants[j]
            ea, oa = (ref, alt) if s else (alt, ref)
            lines.append(f"{chrom}\t{pos}\t{ea}\t{oa}\t{rng.normal(0, 0.01):.6f}")
        (out / f"S{k}.txt").write_text(f"#pgs_id=S{k}\n" + "\n".join(lines) + "\n")
    return {"dir": out, "samples": samples, "variants": variants, "d": d}


def igs_scores(gset: plink.GenotypeSet, score_dir: Path, impute: bool) -> pd.DataFrame:
    reports = [
        match_variants(read_scoring_file(score_dir / f"S{k}.txt"), gset.variants) for k in range(2)
    ]
    return compute_scores(
        gset, score_weights(reports, gset.n_variants), mean_impute=impute, chunk_variants=64
    )


def plink2_dosage_scores(input_args: list[str], data: dict, impute: bool, tag: str) -> dict:
    """plink2 --score on the same file, each score's SUM by sample (variants named by ID)."""
    out = data["dir"]
    variants = pd.DataFrame(data["variants"], columns=["chrom", "pos", "id", "ref", "alt"])
    sums = {}
    for k in range(2):
        score = pd.read_csv(out / f"S{k}.txt", sep="\t", comment="#", dtype={"chr_name": str})
        ids = score.merge(variants, left_on=["chr_name", "chr_position"], right_on=["chrom", "pos"])
        ids[["id", "effect_allele", "effect_weight"]].to_csv(
            out / f"plink_S{k}.txt", sep="\t", index=False
        )
        prefix = out / f"p_{tag}_{k}_{impute}"
        run_tool(
            [require_tool("plink2"), *input_args, "--score", str(out / f"plink_S{k}.txt"), "1", "2",
             "3", "header-read", "cols=+scoresums", *([] if impute else ["no-mean-imputation"]),
             "--out", str(prefix)],
            out,
        )  # fmt: skip
        sscore = pd.read_csv(f"{prefix}.sscore", sep="\t")
        iid = "IID" if "IID" in sscore.columns else "#IID"
        sums[f"S{k}"] = sscore.set_index(iid)["effect_weight_SUM"]
    return sums


@pytest.mark.oracle
@pytest.mark.parametrize("impute", [True, False], ids=["mean-imputation", "no-mean-imputation"])
def test_dosage_scores_equal_plink2_on_pgen_bgen_and_vcf(dosage_data, impute):
    out = dosage_data["dir"]
    cases = {
        "pgen": (plink.open_genotypes(out / "all", "pgen"), ["--pfile", str(out / "all")]),
        "vcf": (
            plink.open_genotypes(out / "all.vcf.gz", "vcf"),
            ["--vcf", str(out / "all.vcf.gz"), "dosage=DS"],
        ),
        "bgen": (
            plink.open_genotypes(out / "all.bgen", "bgen"),
            ["--bgen", str(out / "all.bgen"), "ref-first", "--sample", str(out / "all.sample")],
        ),
    }
    assert cases["vcf"][0].dosage_field == "DS"
    results = {}
    for name, (gset, args) in cases.items():
        ours = igs_scores(gset, out, impute)
        results[name] = ours
        theirs = plink2_dosage_scores(args, dosage_data, impute, name)
        for pgs, sums in theirs.items():
            mine = ours[ours["pgs_id"] == pgs].set_index("IID")["SUM"].loc[sums.index]
            assert np.abs(mine.to_numpy() - sums.to_numpy()).max() < 1e-6
            assert_equal_to_plink_precision(mine.to_numpy(), sums.to_numpy())
    # the three readers see the same dosages (a 24-bit BGEN to 6e-8 per call)
    np.testing.assert_allclose(results["vcf"]["SUM"], results["pgen"]["SUM"], rtol=0, atol=1e-12)
    np.testing.assert_allclose(results["bgen"]["SUM"], results["pgen"]["SUM"], rtol=0, atol=1e-7)


@pytest.mark.parametrize("impute", [True, False], ids=["mean-imputation", "no-mean-imputation"])
def test_threads_give_the_same_scores_as_one(dosage_data, impute):
    """pgen chunks scored on several threads (each its own reader and totals, added in worker
    order) equal one thread's scores, every column; the pgen has missing calls on both strands."""
    gset = plink.open_genotypes(dosage_data["dir"] / "all", "pgen")
    reports = [
        match_variants(read_scoring_file(dosage_data["dir"] / f"S{k}.txt"), gset.variants)
        for k in range(2)
    ]
    weights = score_weights(reports, gset.n_variants)
    assert np.isnan(dosage_data["d"]).any()
    one, three = (
        compute_scores(
            gset, weights, mean_impute=impute, dosage_sums=True, chunk_variants=32, threads=t
        )
        for t in (1, 3)
    )
    pd.testing.assert_frame_equal(one, three, check_exact=False, rtol=0, atol=1e-12)
    assert (one["ALLELE_CT"] < 2 * one["n_variants"]).any()  # some calls were missing


@pytest.mark.parametrize("fmt", ["vcf", "bgen"])
def test_per_chromosome_scores_sum_to_the_merged_file(dosage_data, fmt):
    out = dosage_data["dir"]
    suffix = ".vcf.gz" if fmt == "vcf" else ".bgen"
    files = expand_chrom_paths(out / f"chr{{chrom}}{suffix}", fmt)
    assert list(files) == list(CHROMS)
    scores = [read_scoring_file(out / f"S{k}.txt") for k in range(2)]
    merged_set = plink.open_genotypes(out / f"all{suffix}", fmt)
    for impute in (True, False):
        merged_reports = [match_variants(s, merged_set.variants) for s in scores]
        merged = compute_scores(
            merged_set, score_weights(merged_reports, merged_set.n_variants), mean_impute=impute,
            dosage_sums=True,
        )  # fmt: skip
        parts = {c: plink.open_genotypes(p, fmt) for c, p in files.items()}
        tables, combined = [], []
        for s in scores:
            per_chrom = {
                c: match_variants(s, g.variants, MatchOptions(min_overlap=0))
                for c, g in parts.items()
            }
            report = combine_match_reports(per_chrom)
            check_overlap(report, s, 0.75)
            combined.append(report)
            assert (report["match_status"] == "matched").sum() == 150
        for c, g in parts.items():
            reports = [r[r["chrom_part"] == c] for r in combined]
            tables.append(
                compute_scores(
                    g, score_weights(reports, g.n_variants), mean_impute=impute, dosage_sums=True
                )
            )
        total = sum_score_tables(tables, mean_impute=impute)
        # the same from one match per score on all files' variants
        variants, offsets = concat_variants({c: g.variants for c, g in parts.items()})
        sizes = {c: g.n_variants for c, g in parts.items()}
        once = [match_variants(s, variants) for s in scores]
        tables_once = [
            compute_scores(
                g,
                score_weights([report_for_part(r, offsets, sizes, c) for r in once], g.n_variants),
                mean_impute=impute,
                dosage_sums=True,
            )
            for c, g in parts.items()
        ]
        pd.testing.assert_frame_equal(sum_score_tables(tables_once, mean_impute=impute), total)
        assert list(total.columns) == list(merged.columns)
        assert total["IID"].tolist() == merged["IID"].tolist()
        assert total["pgs_id"].tolist() == merged["pgs_id"].tolist()
        for col in ("SUM", "NAMED_ALLELE_DOSAGE_SUM", "AVG"):
            np.testing.assert_allclose(total[col], merged[col], rtol=0, atol=1e-9)
        for col in ("n_variants", "ALLELE_CT"):
            assert total[col].tolist() == merged[col].tolist()


def test_sum_score_tables_hand_computed():
    chr1 = pd.DataFrame(
        {"IID": ["a", "b"], "pgs_id": "P", "SUM": [1.0, 2.0], "n_variants": 2,
         "ALLELE_CT": [4, 2], "AVG": [0.25, 1.0]}
    )  # fmt: skip
    chr2 = chr1.assign(SUM=[0.5, -1.0], n_variants=1, ALLELE_CT=[2, 2])
    total = sum_score_tables([chr1, chr2], mean_impute=False)
    assert total["SUM"].tolist() == [1.5, 1.0]
    assert total["n_variants"].tolist() == [3, 3]
    assert total["ALLELE_CT"].tolist() == [6, 4]
    assert total["AVG"].tolist() == [1.5 / 6, 1.0 / 4]
    assert sum_score_tables([chr1, chr2], mean_impute=True)["AVG"].tolist() == [1.5 / 6, 1.0 / 6]


@pytest.mark.parametrize("field", ["GP", "GT"])
def test_vcf_gp_and_gt_fallbacks(dosage_data, tmp_path, field):
    samples, variants, d = dosage_data["samples"], dosage_data["variants"], dosage_data["d"]
    write_vcf(tmp_path / "x.vcf.gz", variants[:20], samples, d[:20], field=field)
    gset = plink.open_genotypes(tmp_path / "x.vcf.gz", "vcf")
    assert gset.dosage_field == field
    (_, g), *_ = plink.iter_dosage_chunks(gset, np.arange(20), chunk_variants=20)
    expected = d[:20].T if field == "GP" else np.round(d[:20].T)
    np.testing.assert_allclose(g, expected, atol=1e-6, equal_nan=True)
    # INFO/R2 is read for the min_info filter: written as 0.3 + 0.7 * (pos/100 mod 10) / 10
    pos = np.array([v[1] for v in variants[:20]])
    np.testing.assert_allclose(gset.variants["info"], np.round(0.3 + 0.07 * ((pos // 100) % 10), 2))


def test_bgen_with_ids_inside_needs_no_sample_file(dosage_data, tmp_path):
    samples, variants, d = dosage_data["samples"], dosage_data["variants"], dosage_data["d"]
    write_bgen(
        tmp_path / "x.bgen", variants[:10], samples, d[:10], sample_file=False, embed_ids=True
    )
    gset = plink.open_genotypes(tmp_path / "x.bgen", "bgen")
    assert gset.samples["IID"].tolist() == samples
    (_, g), *_ = plink.iter_dosage_chunks(gset, np.arange(10), chunk_variants=10)
    np.testing.assert_allclose(g, d[:10].T, atol=1e-9, equal_nan=True)


def test_bad_dosage_inputs(dosage_data, tmp_path):
    samples, variants, d = dosage_data["samples"], dosage_data["variants"], dosage_data["d"]
    write_bgen(tmp_path / "x.bgen", variants[:5], samples, d[:5], sample_file=False)
    with pytest.raises(
        InputFormatError,
        match=r"x\.sample: BGEN sample file not found, and x\.bgen holds no sample IDs",
    ):
        plink.open_genotypes(tmp_path / "x.bgen", "bgen")
    with pytest.raises(InputFormatError, match=r"other\.sample: BGEN sample file not found"):
        plink.open_genotypes(tmp_path / "x.bgen", "bgen", sample=tmp_path / "other.sample")
    (tmp_path / "bad.sample").write_text("IID\nS0\n")
    with pytest.raises(InputFormatError, match=r"bad\.sample: not an Oxford \.sample file"):
        plink.open_genotypes(tmp_path / "x.bgen", "bgen", sample=tmp_path / "bad.sample")
    (tmp_path / "short.sample").write_text("ID_1 ID_2 missing\n0 0 0\nS0 S0 0\n")
    with pytest.raises(
        InputFormatError, match=r"short\.sample: lists 1 samples but .*x\.bgen holds 150"
    ):
        plink.open_genotypes(tmp_path / "x.bgen", "bgen", sample=tmp_path / "short.sample")
    write_vcf(tmp_path / "noformat.vcf.gz", variants[:5], samples, d[:5], field="XX")
    with pytest.raises(
        InputFormatError,
        match=r"noformat\.vcf\.gz: no FORMAT/DS, FORMAT/GP or FORMAT/GT declared in the header",
    ):
        plink.open_genotypes(tmp_path / "noformat.vcf.gz", "vcf")
    multi = [(*variants[0][:4], "C,G")]
    write_vcf(tmp_path / "multi.vcf.gz", multi, samples, d[:1])
    with pytest.raises(
        InputFormatError,
        match=r"multi\.vcf\.gz: variant .* has 2 ALT alleles; split multi-allelic sites first",
    ):
        plink.open_genotypes(tmp_path / "multi.vcf.gz", "vcf")


def test_bad_vcf_and_bgen_files(dosage_data, tmp_path):
    samples, variants, d = dosage_data["samples"], dosage_data["variants"], dosage_data["d"]
    (tmp_path / "junk.vcf").write_text("this is not a VCF\n")
    with pytest.raises(InputFormatError, match=r"junk\.vcf: cannot be read as a VCF"):
        plink.open_genotypes(tmp_path / "junk.vcf", "vcf")
    (tmp_path / "junk.bgen").write_bytes(b"\x00" * 64)
    with pytest.raises(InputFormatError, match=r"junk\.bgen: cannot be read as a BGEN file"):
        plink.open_genotypes(tmp_path / "junk.bgen", "bgen")
    write_bgen(tmp_path / "multi.bgen", [(*variants[0][:4], "C,G")], samples, d[:1])
    with pytest.raises(
        InputFormatError,
        match=r"multi\.bgen: variant v0 has 3 alleles; only biallelic variants are supported",
    ):
        plink.open_genotypes(tmp_path / "multi.bgen", "bgen")
    # DS declared in the header, but a record without it; then a record htslib cannot parse
    write_vcf(tmp_path / "ds.vcf.gz", variants[:3], samples, d[:3])
    with gzip.open(tmp_path / "ds.vcf.gz", "rt") as fh:
        orig = fh.read().splitlines()
    gt_record = orig[-1].split("\tDS\t")[0] + "\tGT\t" + "\t".join(["0/1"] * len(samples))
    no_ds = [*orig[:-1], gt_record.replace("\tv2\t", "\tv9\t").replace("1200", "1250"), orig[-1]]
    (tmp_path / "noDS.vcf").write_text("\n".join(no_ds) + "\n")
    gset = plink.open_genotypes(tmp_path / "noDS.vcf", "vcf")
    with pytest.raises(InputFormatError, match=r"noDS\.vcf: variant 1:1250 has no FORMAT/DS"):
        list(plink.iter_dosage_chunks(gset, np.arange(gset.n_variants)))
    broken = [*orig[:-1], orig[-1].rsplit("\t", 1)[0] + "\tnot-a-number"]
    (tmp_path / "broken.vcf").write_text("\n".join(broken) + "\n")
    gset = plink.open_genotypes(tmp_path / "broken.vcf", "vcf")
    with pytest.raises(InputFormatError, match=r"broken\.vcf: a record cannot be parsed as VCF"):
        list(plink.iter_dosage_chunks(gset, np.arange(gset.n_variants)))
    write_vcf(tmp_path / "gp.vcf.gz", variants[:2], samples, d[:2], field="GP")
    with gzip.open(tmp_path / "gp.vcf.gz", "rt") as fh:
        text = fh.read()
    text = "\n".join(
        line
        if line.startswith("#")
        else "\t".join(line.split("\t")[:9] + ["0.25,0.25,0.25,0.25"] * len(samples))
        for line in text.splitlines()
    )
    (tmp_path / "gp2.vcf").write_text(text + "\n")
    gset = plink.open_genotypes(tmp_path / "gp2.vcf", "vcf")
    with pytest.raises(
        InputFormatError,
        match=r"gp2\.vcf: variant 1:1000 FORMAT/GP has 4 values per sample, expected 3",
    ):
        list(plink.iter_dosage_chunks(gset, np.arange(gset.n_variants)))


def test_per_chromosome_files_with_other_samples_are_refused():
    a = pd.DataFrame({"IID": ["x", "y"], "pgs_id": "P", "SUM": 1.0, "n_variants": 1,
                      "ALLELE_CT": 2, "AVG": 0.5})  # fmt: skip
    b = a.assign(IID=["x", "z"])
    with pytest.raises(
        InputFormatError, match=r"chr2\.vcf\.gz: scores other samples than chr1\.vcf\.gz"
    ):
        sum_score_tables([a, b], mean_impute=False, names=["chr1.vcf.gz", "chr2.vcf.gz"])


def test_chrom_path_errors(dosage_data, tmp_path):
    out = dosage_data["dir"]
    with pytest.raises(
        InputFormatError, match=r"chr4\.vcf\.gz: file for chromosome 4 not found \(genotypes\.path"
    ):
        expand_chrom_paths(out / "chr{chrom}.vcf.gz", "vcf", ["1", "4"])
    with pytest.raises(
        InputFormatError,
        match=r"nothing_\{chrom\}\.bed: matches nothing \(no file for any chromosome\)",
    ):
        expand_chrom_paths(tmp_path / "nothing_{chrom}", "bed")
    with pytest.raises(InputFormatError, match=r"may appear only once in genotypes\.path"):
        expand_chrom_paths(tmp_path / "{chrom}/chr{chrom}.vcf.gz", "vcf")
    with pytest.raises(InputFormatError, match=r"has no \{chrom\} field to expand"):
        expand_chrom_paths(tmp_path / "plain.vcf.gz", "vcf")
    picked = expand_chrom_paths(out / "chr{chrom}.bgen", "bgen", ["3", "1"])
    assert list(picked) == ["1", "3"]


@pytest.mark.oracle
@pytest.mark.skipif(not G1000.is_dir(), reason="../shared/oracle/1000g_pgs000586 is absent")
@pytest.mark.parametrize("fmt", ["vcf", "bgen"])
def test_1000g_per_chromosome_equals_pgsc_calc(tmp_path, fmt):
    data = G1000 / "tests/data"
    if fmt == "vcf":
        split_vcf_by_chromosome(data / "vcf/PGS000586_GRCh38.vcf.gz", tmp_path)
        pattern = tmp_path / "PGS000586_GRCh38_{chrom}.vcf.gz"
    else:
        split_bgen_by_chromosome(data / "bgen/PGS000586_GRCh38.bgen", tmp_path)
        pattern = tmp_path / "chr{chrom}.bgen"
    files = expand_chrom_paths(pattern, fmt)
    assert list(files) == [str(c) for c in range(1, 23)]
    parts = {c: plink.open_genotypes(p, fmt) for c, p in files.items()}
    score = read_scoring_file(data / "PGS000586_hmPOS_GRCh38.txt.gz")
    report = combine_match_reports(
        {
            c: match_variants(score, g.variants, MatchOptions(min_overlap=0))
            for c, g in parts.items()
        }
    )
    counts = report["match_status"].value_counts()
    assert counts["matched"] == 809 and counts["excluded_ambiguous"] == 136
    assert counts["absent"] + counts.get("allele_mismatch", 0) == 78
    tables = [
        compute_scores(
            g,
            score_weights([report[report["chrom_part"] == c]], g.n_variants),
            mean_impute=False,
            dosage_sums=True,
        )
        for c, g in parts.items()
    ]
    ours = sum_score_tables(tables, mean_impute=False).set_index("IID")
    published = pd.read_csv(G1000 / "assets/example_results/scores.txt.gz").set_index("sample_id")
    mine = ours.loc[published.index]
    assert (mine["n_variants"] == 809).all()
    assert np.abs(mine["SUM"].to_numpy() - published["score"].to_numpy()).max() < 1e-6
    np.testing.assert_array_equal(mine["NAMED_ALLELE_DOSAGE_SUM"], published["dosage_sum"])


@pytest.mark.oracle
@pytest.mark.parametrize("version", ["bgen-1.2", "bgen-1.3"])
def test_plink2_bgen_exports_read_as_their_pgen(dosage_data, tmp_path, version):
    # plink2 writes 16-bit probabilities (zlib for v1.2, zstd for v1.3): dosages to 2/65535
    out = dosage_data["dir"]
    run_tool(
        [require_tool("plink2"), "--pfile", str(out / "all"), "--export", version,
         "--out", str(tmp_path / "x")],
        tmp_path,
    )  # fmt: skip
    bgen = plink.open_genotypes(tmp_path / "x.bgen", "bgen")
    pgen = plink.open_genotypes(out / "all", "pgen")
    assert bgen.samples["IID"].tolist() == pgen.samples["IID"].tolist()
    # plink2's BGEN export lists ALT first, so igs counts the pgen's REF (matching swaps it back)
    assert (bgen.variants["a1"] == pgen.variants["a2"]).all()
    assert (bgen.variants["a2"] == pgen.variants["a1"]).all()
    every = np.arange(pgen.n_variants)
    (_, gb), *_ = plink.iter_dosage_chunks(bgen, every, chunk_variants=len(every))
    (_, gp), *_ = plink.iter_dosage_chunks(pgen, every, chunk_variants=len(every))
    np.testing.assert_allclose(gb, 2 - gp, rtol=0, atol=2 / 65535, equal_nan=True)
