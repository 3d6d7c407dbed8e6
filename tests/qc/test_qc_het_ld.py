"""QC pass 3 on packed rows: bit planes and homozygosity counts against the int8 path and numpy,
heterozygosity and LD pruning against the plink2 binary (``--het``, ``--indep-pairwise``) on a
file with missing calls and samples left out."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from igs.io import plink
from igs.qc import packed
from igs.qc.het_ld import PruneOptions, heterozygosity_and_pruning, split_runs
from igs.qc.indep_pairwise import pack_planes
from tests.conftest import require_tool, run_tool


def random_calls(rng, n: int, k: int, missing: float = 0.1) -> np.ndarray:
    g = rng.integers(0, 3, (n, k)).astype(np.int8)
    g[rng.random(g.shape) < missing] = -9
    return np.asfortranarray(g)


def sample_order_bits(planes: np.ndarray, interleaved: bool = False) -> np.ndarray:
    """Planes (k, 3, words) as one 0/1 per sample (k, 3, 64 words); ``interleaved``: in the
    order of :func:`packed.ld_planes` (bit 2s of word t is sample 64t + s, bit 2s + 1 sample
    64t + 32 + s)."""
    bits = np.unpackbits(planes.view(np.uint8), axis=-1, bitorder="little")
    if not interleaved:
        return bits
    sample = np.arange(bits.shape[-1])
    return bits[..., 64 * (sample // 64) + 2 * (sample % 32) + (sample % 64) // 32]


@pytest.mark.parametrize("n", [1, 31, 32, 33, 65])
def test_pack_codes_equals_a_call_by_call_packing(n):
    """pgen chunks are packed before pass 3 (and passes 1, 2, 4): any value outside 0..2
    (pgenlib -9, bed-reader -127, or junk) is a missing call."""
    rng = np.random.default_rng(n)
    g = rng.integers(-1, 3, (n, 9)).astype(np.int8)
    g[g < 0] = rng.choice(np.array([-9, -127, 3, 100], dtype=np.int8), int((g < 0).sum()))
    code = {0: 3, 1: 2, 2: 0}  # A1 count -> 2-bit PLINK code; 01 missing
    expected = np.zeros((9, (n + 31) // 32), dtype=np.uint64)
    for j in range(9):
        for i in range(n):
            expected[j, i // 32] |= np.uint64(code.get(int(g[i, j]), 1)) << np.uint64(2 * (i % 32))
    assert (packed.pack_codes(np.asfortranarray(g)) == expected).all()


@pytest.mark.parametrize("n", [1, 31, 32, 33, 64, 65, 97, 200])
def test_planes_from_packed_rows_equal_planes_from_int8_on_the_kept_samples(n):
    rng = np.random.default_rng(n)
    g = random_calls(rng, n, 40)
    keep = rng.random(n) < 0.7
    keep[0] = True
    rows = packed.pack_codes(g)
    selected = np.flatnonzero(rng.random(40) < 0.6)
    planes, counts = packed.ld_planes(rows, selected, packed.plane_sample_bits(keep))
    theirs, their_counts = pack_planes(np.asfortranarray(g[keep][:, selected]))
    ours = sample_order_bits(planes, interleaved=True)
    assert (ours[..., np.flatnonzero(keep)] == sample_order_bits(theirs)[..., : keep.sum()]).all()
    # samples left out and the padding past the last sample are in no plane
    assert not ours[..., np.flatnonzero(~keep)].any() and not ours[..., n:].any()
    assert (counts == their_counts).all()
    assert (counts.sum(axis=1) == keep.sum()).all()


def test_homozygosity_counts_equal_numpy_in_any_chunking():
    rng = np.random.default_rng(7)
    n, k = 70, 600  # more rows than the byte counters hold (255)
    g = random_calls(rng, n, k, missing=0.05)
    p = rng.uniform(0.05, 0.95, k)
    rows = packed.pack_codes(g)

    def sums(chunk):
        het, missing, missing_exp, totals = (np.zeros(n, np.int64), np.zeros(n, np.int64),
                                             np.zeros(n), np.zeros(2))  # fmt: skip
        for s in range(0, k, chunk):
            e = 1 - 2 * p[s : s + chunk] * (1 - p[s : s + chunk])
            packed.add_homozygosity(rows[s : s + chunk], e, het, missing, missing_exp, totals)
        return het, missing, missing_exp, totals

    het, missing, missing_exp, totals = sums(k)
    called = (g >= 0) & (g <= 2)
    assert (het == (g == 1).sum(axis=1)).all()
    assert (missing == (~called).sum(axis=1)).all()
    np.testing.assert_allclose(totals[1] - missing_exp, called @ (1 - 2 * p * (1 - p)))
    assert totals[0] == k
    for chunk in (1, 100, 255, 256):
        for a, b in zip(sums(chunk), (het, missing, missing_exp, totals), strict=True):
            assert (a == b).all()


def test_split_runs_keeps_chromosomes_whole_and_balances_parts():
    chrom = np.array(["1"] * 5 + ["2"] * 3 + ["3"] * 3 + ["1"] * 1)
    part = split_runs(chrom)
    # runs 1 (5), 2 (3), 3 (3), 1 again (1): largest first to the emptier part
    assert part.tolist() == [0] * 5 + [1] * 3 + [1] * 3 + [0]
    assert split_runs(np.array(["7"] * 4)).tolist() == [0] * 4


@pytest.fixture(scope="module")
def cohort_with_missing(small_cohort, tmp_path_factory):
    """The small cohort's common autosomal variants, half of them with 3% of calls missing (so
    that pairs with and without missing calls are tested), and 30 samples with 40% missing,
    as a bed fileset: (gset, the other samples, the variants' A1 frequencies on those)."""
    gset = plink.open_genotypes(small_cohort / "genotypes")
    auto = np.flatnonzero(gset.variants["chrom"].astype(str) != "X")
    g = plink.read_genotype_codes(gset, auto)
    rng = np.random.default_rng(11)
    g[(rng.random(g.shape) < 0.03) & (rng.random(g.shape[1]) < 0.5)] = -9
    bad = rng.choice(gset.n_samples, 30, replace=False)
    g[bad] = np.where(rng.random((30, g.shape[1])) < 0.4, -9, g[bad])
    samples = np.setdiff1d(np.arange(gset.n_samples), bad)
    kept = g[samples]
    called = (kept >= 0) & (kept <= 2)
    p = np.where(called, kept, 0).sum(axis=0) / (2 * called.sum(axis=0))
    common = np.minimum(p, 1 - p) >= 0.01  # plink2 --het leaves out monomorphic variants
    prefix = tmp_path_factory.mktemp("het_ld") / "g"
    with plink.BedWriter(f"{prefix}.bed", gset.n_samples) as writer:
        writer.append(np.ascontiguousarray(g[:, common].T))
    plink.write_bim(f"{prefix}.bim", gset.variants.iloc[auto[common]])
    plink.write_fam(f"{prefix}.fam", gset.samples)
    return plink.open_genotypes(prefix), samples, p[common]


def run_plink2(gset, samples, tmp_path, *args) -> str:
    keep = tmp_path / "keep.txt"
    iids = gset.samples["IID"].to_numpy()[samples]
    keep.write_text("".join(f"{i}\t{i}\n" for i in iids))
    out = tmp_path / "p"
    cmd = [require_tool("plink2"), "--bfile", str(gset.prefix), "--keep", str(keep), *args]
    run_tool([*cmd, "--out", str(out)], tmp_path)
    return str(out)


@pytest.mark.parametrize(("threads", "chunk"), [(1, 10_000), (2, 300)])
def test_heterozygosity_and_pruning_equal_plink2_on_the_kept_samples(
    cohort_with_missing, tmp_path, threads, chunk
):
    gset, samples, p = cohort_with_missing
    chrom = gset.variants["chrom"].astype(str).to_numpy()
    everything = np.ones(gset.n_variants, dtype=bool)
    candidates = np.minimum(p, 1 - p) >= 0.05
    ours = heterozygosity_and_pruning(
        gset, chrom, everything, candidates, p, samples, PruneOptions(50, 5, 0.2),
        chunk_variants=chunk, threads=threads,
    )  # fmt: skip
    ids = gset.variants["id"].to_numpy()
    extract = tmp_path / "candidates.txt"
    extract.write_text("".join(f"{i}\n" for i in ids[candidates]))
    out = run_plink2(gset, samples, tmp_path, "--het", "--extract", str(extract),
                     "--indep-pairwise", "50", "5", "0.2")  # fmt: skip
    pruned_in = set(Path(f"{out}.prune.in").read_text().split())
    assert 20 < (~ours.kept).sum() < 0.9 * len(ours.kept)
    g = plink.read_genotype_codes(gset, np.flatnonzero(candidates), samples)
    complete = ((g >= 0) & (g <= 2)).all(axis=0)  # pairs of every kind of missingness
    assert 0.05 < complete.mean() < 0.8
    assert set(ids[candidates][ours.kept]) == pruned_in
    # heterozygosity over all variants (plink2 again, without --extract)
    het = pd.read_csv(f"{run_plink2(gset, samples, tmp_path, '--het')}.het", sep=r"\s+")
    assert (het["IID"].to_numpy() == gset.samples["IID"].to_numpy()[samples]).all()
    assert (ours.obs_hom == het["O(HOM)"].to_numpy()).all()
    assert (ours.n_called == het["OBS_CT"].to_numpy()).all()
    np.testing.assert_allclose(ours.exp_hom, het["E(HOM)"], rtol=1e-5)
    np.testing.assert_allclose(ours.f, het["F"], atol=1e-5)


def test_one_thread_or_two_and_any_chunk_give_identical_sums(cohort_with_missing):
    gset, samples, p = cohort_with_missing
    chrom = gset.variants["chrom"].astype(str).to_numpy()
    everything = np.ones(gset.n_variants, dtype=bool)
    candidates = np.minimum(p, 1 - p) >= 0.05

    def run(threads, chunk):
        return heterozygosity_and_pruning(
            gset, chrom, everything, candidates, p, samples, PruneOptions(20, 3, 0.1),
            chunk_variants=chunk, threads=threads,
        )  # fmt: skip

    a, b = run(1, 64), run(2, 777)
    for name in ("obs_hom", "exp_hom", "n_called", "kept"):
        assert (getattr(a, name) == getattr(b, name)).all(), name


def test_one_chromosome_without_candidates_counts_heterozygosity_only(cohort_with_missing):
    gset, samples, p = cohort_with_missing
    chrom = gset.variants["chrom"].astype(str).to_numpy()
    first = chrom == chrom[0]  # a single part: the other thread has nothing to do
    none = np.zeros(gset.n_variants, dtype=bool)
    ours = heterozygosity_and_pruning(
        gset, chrom, first, none, p, samples, PruneOptions(), chunk_variants=100, threads=2
    )
    assert len(ours.kept) == 0
    g = plink.read_genotype_codes(gset, np.flatnonzero(first), samples)
    called = (g >= 0) & (g <= 2)
    assert (ours.n_called == called.sum(axis=1)).all()
    assert (ours.obs_hom == (called & (g != 1)).sum(axis=1)).all()
    q = p[first]
    np.testing.assert_allclose(ours.exp_hom, called @ (1 - 2 * q * (1 - q)))
