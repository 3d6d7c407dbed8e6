"""The Hail engine on VCF/BGEN dosages: pgsc_calc's 1000 Genomes example (published scores), the
same numbers as the local engine, the biobank's genome_build and .sample file, per-chromosome
files, and haploid chrX dosages as plink2 scores them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from igs.errors import InputFormatError
from igs.io import plink
from igs.scores import (
    MatchOptions,
    compute_scores,
    match_variants,
    read_scoring_file,
    score_weights,
)
from igs.scores.perchrom import sum_score_tables
from igs.scores.run import compute_files, match_files, target_variants
from tests.conftest import G1000, require_tool, run_tool
from tests.scores.dosage_files import random_dosages, variant_table, write_vcf_with_gt

pytestmark = [pytest.mark.slow, pytest.mark.oracle]  # Spark start-up

hl = pytest.importorskip("hail", reason="the Hail engine needs the optional extra igs[hail]")

DATA = G1000 / "tests/data"
needs_1000g = pytest.mark.skipif(
    not G1000.is_dir(), reason="../shared/oracle/1000g_pgs000586 is absent"
)


@pytest.fixture(scope="module")
def hail_config(tmp_path_factory):
    return {"master": None, "tmp_dir": str(tmp_path_factory.mktemp("hail_tmp"))}


@pytest.fixture(scope="module")
def unphased_bgen(tmp_path_factory) -> Path:
    """pgsc_calc's 1000G BGEN (phased, 16-bit: Hail reads neither) as plink2 rewrites it for
    Hail: phase erased, 8-bit, no sexes (chrX diploid: a male's hom call is 0 or 2, as plink2
    stores it); hard calls, so no dosage changes. Also chr21 and chr22 on their own."""
    out = tmp_path_factory.mktemp("g1000_bgen")
    plink2 = require_tool("plink2")
    run_tool([plink2, "--bgen", str(DATA / "bgen/PGS000586_GRCh38.bgen"), "ref-first", "--sample",
              str(DATA / "bgen/PGS000586_GRCh38.sample"), "--make-pgen", "erase-phase", "--out",
              str(out / "ep")], out)  # fmt: skip
    psam = pd.read_csv(out / "ep.psam", sep="\t")
    psam[["#IID"]].to_csv(out / "ep.psam", sep="\t", index=False)
    run_tool([plink2, "--pfile", str(out / "ep"), "--export", "bgen-1.2", "bits=8", "--out",
              str(out / "all")], out)  # fmt: skip
    for c in ("21", "22"):
        run_tool([plink2, "--pfile", str(out / "ep"), "--chr", c, "--export", "bgen-1.2",
                  "bits=8", "--out", str(out / f"chr{c}")], out)  # fmt: skip
    return out / "all.bgen"


def _published() -> pd.Series:
    return pd.read_csv(G1000 / "assets/example_results/scores.txt.gz").set_index("sample_id")[
        "score"
    ]


def _scores(variants: pd.DataFrame, score, scorer, exclude=()) -> pd.DataFrame:
    opts = MatchOptions(min_overlap=0, exclude_chromosomes=tuple(exclude))
    report = match_variants(score, variants, opts)
    return scorer(score_weights([report], len(variants))).set_index("IID")


@needs_1000g
@pytest.mark.parametrize("fmt", ["vcf", "bgen"])
def test_hail_1000g_equals_pgsc_calc_and_the_local_engine(fmt, unphased_bgen, hail_config):
    from igs.scores.hail_engine import compute_scores_hail

    path = DATA / "vcf/PGS000586_GRCh38.vcf.gz" if fmt == "vcf" else unphased_bgen
    sample = None if fmt == "vcf" else unphased_bgen.with_suffix(".sample")
    score = read_scoring_file(DATA / "PGS000586_hmPOS_GRCh38.txt.gz")
    kw = {"hail_config": hail_config, "genome_build": "GRCh38", "sample": sample}
    variants = target_variants(str(path), fmt, hail_config, engine="hail", genome_build="GRCh38",
                               sample=sample)  # fmt: skip
    assert variants["chrom"].iloc[0] == "chr1"  # GRCh38's contig names, whatever the file's
    gset = plink.open_genotypes(path, fmt, sample=sample)
    for impute, exclude in ((False, ("X",)), (True, ())):
        ours = _scores(variants, score, lambda w, impute=impute: compute_scores_hail(
            str(path), fmt, w, mean_impute=impute, **kw), exclude)  # fmt: skip
        local = _scores(gset.variants, score, lambda w, impute=impute: compute_scores(
            gset, w, mean_impute=impute), exclude)  # fmt: skip
        assert set(ours.index) == set(local.index)
        np.testing.assert_allclose(ours["SUM"], local.loc[ours.index, "SUM"], rtol=0, atol=1e-6)
        if exclude:  # pgsc_calc's run: autosomes only, no imputation, 809 variants
            published = _published()
            assert (ours.loc[published.index, "n_variants"] == 809).all()
            diff = ours.loc[published.index, "SUM"].to_numpy() - published.to_numpy()
            assert np.abs(diff).max() < 1e-6


@needs_1000g
def test_hail_reads_the_sample_file_given(unphased_bgen, hail_config, tmp_path):
    from igs.scores.hail_engine import hail_target_variants

    # a .sample elsewhere, with other IDs: the scores carry them (ID_2), in order
    ids = plink.open_genotypes(unphased_bgen, "bgen").samples["IID"].tolist()
    text = "ID_1 ID_2 missing\n0 0 0\n" + "".join(f"f{i} renamed{i} 0\n" for i in range(len(ids)))
    (tmp_path / "other.sample").write_text(text)
    (tmp_path / "short.sample").write_text("ID_1 ID_2 missing\n0 0 0\nx y 0\n")
    report = tmp_path / "r.tsv.gz"
    variants = target_variants(str(unphased_bgen), "bgen", hail_config, engine="hail",
                               genome_build="GRCh38")  # fmt: skip
    match_files(variants, [str(DATA / "PGS000586_hmPOS_GRCh38.txt.gz")], "GRCh38", MatchOptions(),
                report)  # fmt: skip
    compute_files(str(unphased_bgen), "bgen", report, tmp_path / "s.tsv.gz", engine="hail",
                  hail_config=hail_config, genome_build="GRCh38", sample=tmp_path / "other.sample")  # fmt: skip
    out = pd.read_csv(tmp_path / "s.tsv.gz", sep="\t")
    assert out["IID"].tolist() == [f"renamed{i}" for i in range(len(ids))]
    with pytest.raises(
        InputFormatError, match=r"short\.sample: lists 1 samples but .*all\.bgen holds"
    ):
        compute_files(str(unphased_bgen), "bgen", report, tmp_path / "t.tsv.gz", engine="hail",
                      hail_config=hail_config, genome_build="GRCh38", sample=tmp_path / "short.sample")  # fmt: skip
    with pytest.raises(
        InputFormatError, match=r"PGS000586_GRCh38\.bgen: phased BGEN; Hail reads unphased"
    ):
        hail_target_variants(str(DATA / "bgen/PGS000586_GRCh38.bgen"), "bgen", hail_config)


@needs_1000g
def test_hail_per_chromosome_files_sum_to_the_local_merged_file(
    unphased_bgen, hail_config, tmp_path
):
    """{chrom} parts as the workflow runs them (match and compute per file, the part's .sample),
    summed: equal to the local engine on the merged file restricted to those chromosomes."""
    score = str(DATA / "PGS000586_hmPOS_GRCh38.txt.gz")
    tables = []
    for c in ("21", "22"):
        part = unphased_bgen.parent / f"chr{c}.bgen"
        sample = part.with_suffix(".sample")
        variants = target_variants(str(part), "bgen", hail_config, engine="hail", sample=sample,
                                   genome_build="GRCh38")  # fmt: skip
        match_files(variants, [score], "GRCh38", MatchOptions(), tmp_path / f"r{c}.tsv.gz")
        compute_files(str(part), "bgen", tmp_path / f"r{c}.tsv.gz", tmp_path / f"s{c}.tsv.gz",
                      engine="hail", hail_config=hail_config, genome_build="GRCh38", sample=sample,
                      mean_impute=False)  # fmt: skip
        tables.append(pd.read_csv(tmp_path / f"s{c}.tsv.gz", sep="\t", dtype={"IID": str}))
    ours = sum_score_tables(tables, mean_impute=False).set_index("IID")
    gset = plink.open_genotypes(unphased_bgen, "bgen")
    others = tuple(c for c in gset.variants["chrom"].unique() if c not in ("21", "22"))
    local = _scores(gset.variants, read_scoring_file(score),
                    lambda w: compute_scores(gset, w, mean_impute=False), others)  # fmt: skip
    assert local["n_variants"].iloc[0] > 0
    np.testing.assert_allclose(ours["SUM"], local.loc[ours.index, "SUM"], rtol=0, atol=1e-6)
    np.testing.assert_array_equal(ours["n_variants"], local.loc[ours.index, "n_variants"])


@pytest.mark.parametrize("field", ["DS", "GP"])
def test_hail_haploid_chrx_dosages_equal_plink2(field, hail_config, tmp_path):
    from igs.scores.hail_engine import compute_scores_hail

    n, m = 60, 40
    samples = [f"S{i}" for i in range(n)]
    variants = [(c, p + 3_000_000 * (c == "X"), i, r, a)
                for c, p, i, r, a in variant_table(m, ("1", "X"), seed=31)]  # fmt: skip
    d = random_dosages(n, m, seed=32, missing=0.03)
    haploid = np.array([v[0] == "X" for v in variants])[:, None] & (np.arange(n) < 30)
    d[haploid] = np.round(d[haploid] / 2 * 8192) / 8192
    write_vcf_with_gt(tmp_path / "x.vcf.gz", variants, samples, d, haploid, field)
    rng = np.random.default_rng(33)
    weights = rng.normal(0, 0.01, m).round(8)
    lines = [
        f"{c}\t{p}\t{a}\t{r}\t{w}" for (c, p, _, r, a), w in zip(variants, weights, strict=True)
    ]
    head = "#pgs_id=H\nchr_name\tchr_position\teffect_allele\tother_allele\teffect_weight\n"
    (tmp_path / "H.txt").write_text(head + "\n".join(lines) + "\n")
    pd.DataFrame(
        {"ID": [v[2] for v in variants], "A": [v[4] for v in variants], "W": weights}
    ).to_csv(tmp_path / "p.txt", sep="\t", index=False)
    vcf = str(tmp_path / "x.vcf.gz")
    v37 = target_variants(vcf, "vcf", hail_config, engine="hail", genome_build="GRCh37")
    assert set(v37["chrom"]) == {"1", "X"}  # the build's contig names
    v38 = target_variants(vcf, "vcf", hail_config, engine="hail", genome_build="GRCh38")
    assert set(v38["chrom"]) == {"chr1", "chrX"}
    score = read_scoring_file(tmp_path / "H.txt")
    for impute in (True, False):
        ours = _scores(v38, score, lambda w, impute=impute: compute_scores_hail(
            vcf, "vcf", w, mean_impute=impute, hail_config=hail_config, genome_build="GRCh38"))  # fmt: skip
        prefix = tmp_path / f"p{impute}"
        run_tool([require_tool("plink2"), "--vcf", vcf, f"dosage={field}", "--score",
                  str(tmp_path / "p.txt"), "1", "2", "3", "header-read", "cols=+scoresums",
                  *([] if impute else ["no-mean-imputation"]), "--out", str(prefix)], tmp_path)  # fmt: skip
        theirs = pd.read_csv(f"{prefix}.sscore", sep="\t").set_index("#IID")["W_SUM"]
        assert np.abs(ours.loc[theirs.index, "SUM"].to_numpy() - theirs.to_numpy()).max() < 1e-6
