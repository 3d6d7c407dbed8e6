"""Packed-genotype QC kernels and LD pruning on tiny hand-computed inputs."""

from __future__ import annotations

import numpy as np
import pytest

from igs.io.plink import BedWriter, open_genotypes, write_bim, write_fam
from igs.qc import packed
from igs.qc.ld import LDPruner

# 5 samples x 3 variants of A1 counts, -9 missing; written as PLINK 1 bytes by hand below.
G = np.array(
    [
        [2, 0, -9],
        [1, 1, 2],
        [-9, 2, 2],
        [0, 1, -9],
        [1, 0, 1],
    ],
    dtype=np.int8,
)
# variant-major bytes: 2 bits per sample, first sample low; 00 hom A1, 01 missing, 10 het, 11 hom A2
BED_ROWS = [
    [0b11_01_10_00, 0b10],  # 2 1 . 0 | 1
    [0b10_00_10_11, 0b11],  # 0 1 2 1 | 0
    [0b01_00_00_01, 0b10],  # . 2 2 . | 1
]


def test_pack_codes_gives_the_plink_bytes():
    rows = packed.pack_codes(np.asfortranarray(G))
    assert rows.view(np.uint8)[:, :2].tolist() == BED_ROWS


def test_group_counts_and_sample_missing_by_hand():
    rows = packed.pack_codes(np.asfortranarray(G))
    group = np.array([0, 1, 0, -1, 1])  # sample 3 left out
    counts = packed.group_counts(rows, packed.group_masks(group, 2))
    # (variant, group, [A1 count 0, 1, 2, missing]); group 0 = samples 0, 2; group 1 = 1, 4
    assert counts[:, 0].tolist() == [[0, 0, 1, 1], [1, 0, 1, 0], [0, 0, 1, 1]]
    assert counts[:, 1].tolist() == [[0, 2, 0, 0], [1, 1, 0, 0], [0, 1, 1, 0]]
    missing = np.zeros(5, dtype=np.int64)
    packed.add_sample_missing(rows, missing)
    assert missing.tolist() == [1, 0, 1, 1, 0]


def test_subset_samples_keeps_their_codes_in_order():
    rows = packed.pack_codes(np.asfortranarray(G))
    out = packed.subset_samples(rows, np.array([1, 3, 4]))
    # samples 1, 3, 4: variant 0 = 1 0 1, variant 1 = 1 1 0, variant 2 = 2 . 1
    assert out[:, 0].tolist() == [0b10_11_10, 0b11_10_10, 0b10_01_00]


@pytest.mark.parametrize("n", [1, 31, 32, 33, 64, 130, 517])
def test_subset_samples_equals_unpack_index_repack(n):
    """Against numpy: unpack every 2-bit code, take the kept samples, pack them again. Kept
    sets with long runs (the shifted-word path), scattered samples and the tail word."""
    rng = np.random.default_rng(n)
    k = 7
    codes = rng.integers(0, 4, size=(k, n)).astype(np.uint8)
    padded = np.zeros((k, 32 * ((n + 31) // 32)), dtype=np.uint8)
    padded[:, :n] = codes
    rows = np.zeros((k, padded.shape[1] // 32), dtype=np.uint64)
    for b in range(32):
        rows |= padded[:, b::32].astype(np.uint64) << np.uint64(2 * b)
    runs = np.flatnonzero(rng.random(n) > 0.03)  # long runs with a few removed
    scattered = np.flatnonzero(rng.random(n) > 0.5)
    for keep in (runs, scattered, np.arange(n), np.arange(n)[n // 2 :], np.array([n - 1])):
        if not len(keep):
            continue
        kept = np.zeros((k, 4 * ((len(keep) + 3) // 4)), dtype=np.uint8)
        kept[:, : len(keep)] = codes[:, keep]
        expected = kept[:, 0::4] | kept[:, 1::4] << 2 | kept[:, 2::4] << 4 | kept[:, 3::4] << 6
        np.testing.assert_array_equal(packed.subset_samples(rows, keep), expected)


def test_packed_rows_of_a_bed_are_its_bytes(tmp_path):
    import pandas as pd

    variants = pd.DataFrame(
        {"chrom": "1", "id": ["a", "b", "c"], "cm": 0, "pos": [1, 2, 3], "a1": "A", "a2": "G"}
    )
    samples = pd.DataFrame({"FID": list("vwxyz"), "IID": list("vwxyz"), "sex": 0})
    with BedWriter(tmp_path / "g.bed", 5) as writer:
        writer.append_packed(np.array(BED_ROWS, dtype=np.uint8))
    write_bim(tmp_path / "g.bim", variants)
    write_fam(tmp_path / "g.fam", samples)
    gset = open_genotypes(tmp_path / "g")
    [(idx, rows)] = list(packed.iter_packed_rows(gset, None, 10))
    assert idx.tolist() == [0, 1, 2]
    assert rows.view(np.uint8)[:, :2].tolist() == BED_ROWS


def test_ld_pruner_drops_a_copy_and_keeps_an_independent_variant():
    rng = np.random.default_rng(1)
    a = rng.integers(0, 3, 200).astype(np.int8)
    b = rng.integers(0, 3, 200).astype(np.int8)
    g = np.column_stack([a, a, b, 2 - a])
    g[5, 1] = -9  # a missing call does not hide the copy
    pruner = LDPruner(np.array([1, 2, 3, 4]), np.zeros(4), window=2, r2=0.2)
    pruner.add(np.asfortranarray(g[:, :1]))
    pruner.add(np.asfortranarray(g[:, 1:]))
    # variant 1 is variant 0 (r2 ~ 1); variant 3 (= 2 - a) is 3 back from the kept variant 0,
    # outside the window of 2, and only the dropped variant 1 is 2 back
    assert pruner.kept.tolist() == [True, False, True, True]


def mean_imputed_r2(x: np.ndarray, y: np.ndarray) -> float:
    """Squared correlation as the pruner defines it, with numpy: each variant standardized on
    its called samples, a missing call set to 0, the cross product divided by all samples."""

    def standardize(v):
        ok = v >= 0
        z = np.zeros(len(v))
        z[ok] = (v[ok] - v[ok].mean()) / v[ok].std()
        return z

    return float((standardize(x) @ standardize(y) / len(x)) ** 2)


def test_ld_pruner_threshold_is_the_mean_imputed_r2_with_missing_calls():
    rng = np.random.default_rng(4)
    x = rng.integers(0, 3, 300).astype(np.int8)
    y = np.where(rng.random(300) < 0.6, x, rng.integers(0, 3, 300)).astype(np.int8)
    x[rng.choice(300, 12, replace=False)] = -9
    y[rng.choice(300, 9, replace=False)] = -127
    r2 = mean_imputed_r2(x, y)
    assert 0.1 < r2 < 0.9
    for threshold, second_kept in ((r2 - 1e-9, False), (r2 + 1e-9, True)):
        pruner = LDPruner(np.array([1, 2]), np.zeros(2), window=5, r2=threshold)
        pruner.add(np.asfortranarray(np.column_stack([x, y])))
        assert pruner.kept.tolist() == [True, second_kept]
