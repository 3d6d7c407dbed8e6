"""KING-robust kinship (as ``plink2 --make-king-table`` and ``hl.king``) and unrelated sets."""

from __future__ import annotations

import numpy as np
import pandas as pd

from igs.qc import kernels
from igs.qc.packed import genotype_rows

KING_COLUMNS = ("IID1", "IID2", "NSNP", "HETHET", "IBS0", "KINSHIP")


def king_table(
    g: np.ndarray,
    iids: np.ndarray,
    *,
    min_kinship: float = 0.0442,
    block_bytes: int = 4 << 20,
    rows: np.ndarray | None = None,
) -> pd.DataFrame:
    """Pairs with KING-robust kinship above ``min_kinship`` (default: 3rd degree).

    ``g`` is int8 (n_samples, n_variants) or packed PLINK rows (n_variants, words) of uint64;
    ``rows`` (sorted indices; default all, required for packed rows) picks the samples without
    copying ``g``, and ``iids`` are those samples' IDs. Kinship is the between-family estimator
    ``1/2 - (het_i + het_j - 2 hethet + 4 ibs0) / (4 min(het_i, het_j))`` over variants
    called in both samples, which is what plink2 and Hail report. ``HETHET`` and
    ``IBS0`` are proportions of ``NSNP`` as in plink2's ``.kin0``.
    """
    packed, rows = genotype_rows(g, rows, "king_table")
    bits = kernels.pack_genotype_bits(g, packed, rows)
    n = len(rows)
    # at least two tiles of rows per block, so that both threads have work
    rows_per_block = max(2 * kernels.KING_TILE, block_bytes // max(1, n * 20))
    found = []
    for r0 in range(0, n, rows_per_block):
        r1 = min(n, r0 + rows_per_block)
        # int32 counts (exact; no float64 copy of the block), float64 from the division on
        c = kernels.king_pair_counts(bits, r0, r1)
        hethet, ibs0, het_i, het_j, n_both = (c[..., q] for q in range(5))
        with np.errstate(invalid="ignore", divide="ignore"):
            kin = 0.5 - (het_i + het_j - 2 * hethet + 4 * ibs0) / (4 * np.minimum(het_i, het_j))
        upper = np.arange(n)[None, :] > (np.arange(r0, r1)[:, None])
        ri, j = np.nonzero(upper & (kin > min_kinship))
        found.append(
            pd.DataFrame(
                {
                    "IID1": iids[r0 + ri],
                    "IID2": iids[j],
                    "NSNP": n_both[ri, j].astype(np.int64),
                    "HETHET": hethet[ri, j] / n_both[ri, j],
                    "IBS0": ibs0[ri, j] / n_both[ri, j],
                    "KINSHIP": kin[ri, j],
                }
            )
        )
    if not found:
        return pd.DataFrame(columns=list(KING_COLUMNS))
    return pd.concat(found, ignore_index=True)


def samples_to_remove(pairs: pd.DataFrame, priority: pd.Series | None = None) -> list[str]:
    """Fewest samples whose removal leaves no related pair (greedy vertex cover).

    Repeatedly removes the sample with the most remaining relatives; ties go to the
    lower ``priority`` (e.g. call rate), then to the larger ID, so results are deterministic.
    """
    edges = {tuple(sorted(e)) for e in pairs[["IID1", "IID2"]].itertuples(index=False)}
    removed: list[str] = []
    while edges:
        degree: dict[str, int] = {}
        for a, b in edges:
            degree[a] = degree.get(a, 0) + 1
            degree[b] = degree.get(b, 0) + 1
        top = max(degree.values())
        tied = sorted(s for s, d in degree.items() if d == top)
        if priority is not None:
            tied.sort(key=lambda s: (priority.get(s, np.inf), [-ord(ch) for ch in s]))
        else:
            tied.sort(reverse=True)
        drop = tied[0]
        removed.append(drop)
        edges = {e for e in edges if drop not in e}
    return removed
