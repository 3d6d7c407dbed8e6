"""LD pruning against the plink2 binary's ``--indep-pairwise``: the same kept set, exactly."""

from __future__ import annotations

import numpy as np
import pytest

from igs.io import plink
from igs.qc.indep_pairwise import IndepPairwise, indep_pairwise
from tests.conftest import QC_OPTS, require_tool, run_tool


@pytest.fixture(scope="module")
def autosomes_with_missing(small_cohort, tmp_path_factory):
    """The small cohort's autosomes with 3% of calls set missing (plink2 computes r^2 over the
    samples called in both variants), as a bed fileset: (prefix, int8 genotypes, variants)."""
    gset = plink.open_genotypes(small_cohort / "genotypes")
    auto = np.flatnonzero(gset.variants["chrom"].astype(str) != "X")
    g = plink.read_genotype_codes(gset, auto)
    rng = np.random.default_rng(5)
    g[rng.random(g.shape) < 0.03] = -9
    g = np.asfortranarray(g)
    prefix = tmp_path_factory.mktemp("prune") / "auto"
    variants = gset.variants.iloc[auto].reset_index(drop=True)
    with plink.BedWriter(f"{prefix}.bed", gset.n_samples) as writer:
        writer.append(np.ascontiguousarray(g.T))
    plink.write_bim(f"{prefix}.bim", variants)
    plink.write_fam(f"{prefix}.fam", gset.samples)
    return prefix, g, variants


def plink2_prune_in(prefix, window: int, step: int, r2: float, tmp_path) -> set[str]:
    out = tmp_path / f"p{window}_{step}_{r2}"
    args = ["--bfile", str(prefix), "--indep-pairwise", str(window), str(step), str(r2)]
    run_tool([require_tool("plink2"), *args, "--out", str(out)], tmp_path)
    return set((tmp_path / f"{out.name}.prune.in").read_text().split())


@pytest.mark.parametrize(("window", "step", "r2"), [(50, 5, 0.2), (20, 3, 0.1), (7, 2, 0.5)])
def test_kept_set_equals_plink2_indep_pairwise(autosomes_with_missing, tmp_path, window, step, r2):
    prefix, g, variants = autosomes_with_missing
    chroms = variants["chrom"].astype(str).to_numpy()
    kept = indep_pairwise(g, chroms, window=window, step=step, r2=r2)
    theirs = plink2_prune_in(prefix, window, step, r2, tmp_path)
    # a real test: some variants are pruned, most are not
    assert 20 < (~kept).sum() < 0.9 * len(kept)
    assert set(variants["id"].to_numpy()[kept]) == theirs


def test_streamed_chunks_give_the_one_shot_result(autosomes_with_missing):
    _, g, variants = autosomes_with_missing
    chroms = variants["chrom"].astype(str).to_numpy()
    whole = indep_pairwise(g, chroms, window=30, step=4, r2=0.2)
    for chunk in (1, 13, 500):
        pruner = IndepPairwise(chroms, window=30, step=4, r2=0.2)
        for start in range(0, g.shape[1], chunk):
            pruner.add(np.asfortranarray(g[:, start : start + chunk]))
        assert (pruner.kept == whole).all()


def test_of_a_pair_in_ld_the_lower_maf_goes_and_the_later_on_a_tie():
    rng = np.random.default_rng(2)
    common = rng.integers(0, 3, 400).astype(np.int8)
    rarer = np.where(common == 2, 1, 0).astype(np.int8)  # correlated, lower MAF
    chroms = np.zeros(2)
    # lower MAF first: the first goes
    assert indep_pairwise(np.column_stack([rarer, common]), chroms).tolist() == [False, True]
    # lower MAF second: the second goes
    assert indep_pairwise(np.column_stack([common, rarer]), chroms).tolist() == [True, False]
    # a copy (same MAF): the later goes
    assert indep_pairwise(np.column_stack([common, common]), chroms).tolist() == [True, False]


def test_monomorphic_variants_go_unless_alone_on_their_chromosome():
    rng = np.random.default_rng(3)
    a, b = (rng.integers(0, 3, 300).astype(np.int8) for _ in range(2))
    het = np.ones(300, dtype=np.int8)
    hom = np.full(300, 2, dtype=np.int8)
    g = np.column_stack([a, het, b, hom, hom])
    kept = indep_pairwise(g, np.array([1, 1, 1, 1, 2]), r2=0.99)
    assert kept.tolist() == [True, False, True, False, True]


def test_local_qc_prunes_as_plink2_on_the_same_samples_and_candidates(
    qc_run, small_cohort, tmp_path
):
    """igs QC prunes the common autosomal variants that pass the preliminary filters, on the
    samples that pass the call rate: plink2 on those gives the same set (fewer than
    max_pca_variants are kept here, so none is thinned away)."""
    result, _ = qc_run
    s, v = result.samples, result.variants
    candidates = v["used_for_sample_qc"] & (v["chrom"].astype(str) != "X")
    assert candidates.sum() > 1000
    gset = plink.open_genotypes(small_cohort / "genotypes")
    s_ok = np.flatnonzero(s["qc_fail"].to_numpy() != "call_rate")
    g = plink.read_genotype_codes(gset, np.flatnonzero(candidates), s_ok)
    called = (g >= 0) & (g <= 2)
    p = np.where(called, g, 0).sum(axis=0) / (2 * called.sum(axis=0))  # MAF on those samples
    common = np.minimum(p, 1 - p) >= QC_OPTS.prune_min_maf
    ids = v["id"].to_numpy()[np.flatnonzero(candidates)[common]]
    keep = tmp_path / "keep.txt"
    keep.write_text("".join(f"{i}\t{i}\n" for i in s["IID"].to_numpy()[s_ok]))
    extract = tmp_path / "extract.txt"
    extract.write_text("".join(f"{i}\n" for i in ids))
    args = ["--bfile", str(small_cohort / "genotypes"), "--keep", str(keep)]
    args += ["--extract", str(extract), "--indep-pairwise", "50", "5", "0.2"]
    run_tool([require_tool("plink2"), *args, "--out", str(tmp_path / "p")], tmp_path)
    theirs = set((tmp_path / "p.prune.in").read_text().split())
    assert len(theirs) < QC_OPTS.max_pca_variants
    assert set(v.loc[v["used_for_relatedness"], "id"]) == theirs
