"""Lift scoring-file positions to the target's build with a UCSC chain file (``scores.liftover_chain``).

A chain file is a list of chains, each a header line
``chain score tName tSize tStrand tStart tEnd qName qSize qStrand qStart qEnd id`` followed by
``size dt dq`` lines (an aligned block of ``size`` bases, then gaps of ``dt``/``dq`` bases)
and a last ``size`` line. Coordinates are 0-based, half-open; ``t`` is the source build,
``q`` the destination. A position inside an aligned block maps; anything else is unmapped.
On a ``-`` strand chain the alleles are complemented.
"""

from __future__ import annotations

import gzip
import os
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from igs import columns as C
from igs.errors import InputFormatError
from igs.scores.scorefile import ScoringFile, normalise_chrom

COMPLEMENT = str.maketrans("ACGT", "TGCA")


@dataclass(frozen=True)
class Chain:
    """Aligned blocks by source chromosome: arrays sorted by source start."""

    path: Path
    blocks: dict[str, pd.DataFrame]  # columns t_start, t_end, q_chrom, q_start, q_strand, q_size


def read_chain(path: str | os.PathLike[str]) -> Chain:
    """Parse a chain file (plain or gzip); raise InputFormatError naming the file and line."""
    path = Path(path)
    if not path.is_file():
        raise InputFormatError(f"{path}: chain file not found.")
    opener = gzip.open if path.read_bytes()[:2] == b"\x1f\x8b" else open
    rows: list[tuple] = []
    head = None
    with opener(path, "rt") as fh:
        for n, line in enumerate(fh, start=1):
            fields = line.split()
            if not fields or fields[0].startswith("#"):
                continue
            try:
                if fields[0] == "chain":
                    if len(fields) < 12:
                        raise ValueError("a chain header has 12 or 13 fields")
                    _, _, t_name, _, t_strand, t_start, _, q_name, q_size, q_strand, q_start, _ = (
                        fields[:12]
                    )
                    if t_strand != "+" or q_strand not in "+-":
                        raise ValueError(f"unsupported strands {t_strand}/{q_strand}")
                    head = [normalise_chrom(t_name), int(t_start), normalise_chrom(q_name),
                            int(q_start), q_strand, int(q_size)]  # fmt: skip
                    continue
                if head is None:
                    raise ValueError("alignment data before any 'chain' header")
                if len(fields) not in (1, 3):
                    raise ValueError("an alignment line has 1 or 3 numbers")
                size = int(fields[0])
                t_chrom, t_pos, q_chrom, q_pos, q_strand, q_size = head
                rows.append((t_chrom, t_pos, t_pos + size, q_chrom, q_pos, q_strand, q_size))
                if len(fields) == 3:
                    head[1] = t_pos + size + int(fields[1])
                    head[3] = q_pos + size + int(fields[2])
                else:
                    head = None
            except ValueError as exc:
                raise InputFormatError(
                    f"{path}: line {n} does not parse as a chain file ({exc}): {line.strip()[:80]!r}."
                ) from exc
    if not rows:
        raise InputFormatError(f"{path}: no chains found; is this a UCSC .chain file?")
    table = pd.DataFrame(
        rows, columns=["t_chrom", "t_start", "t_end", "q_chrom", "q_start", "q_strand", "q_size"]
    )
    blocks = {
        c: g.drop(columns="t_chrom").sort_values("t_start", kind="stable").reset_index(drop=True)
        for c, g in table.groupby("t_chrom", sort=False)
    }
    return Chain(path, blocks)


def lift_positions(
    chain: Chain, chroms: pd.Series, positions: pd.Series
) -> tuple[pd.Series, pd.Series, np.ndarray]:
    """Lift 1-based positions: new chromosomes, new positions (NA when unmapped), minus-strand flags."""
    out_chrom = pd.Series("", index=chroms.index, dtype=object)
    out_pos = pd.Series(pd.NA, index=chroms.index, dtype="Int64")
    minus = np.zeros(len(chroms), dtype=bool)
    pos0 = positions.astype("Int64").to_numpy(dtype=np.float64, na_value=np.nan) - 1
    chrom_values = chroms.to_numpy(dtype=object)
    for c, b in chain.blocks.items():
        rows = np.flatnonzero((chrom_values == c) & ~np.isnan(pos0))
        if not len(rows):
            continue
        p = pos0[rows].astype(np.int64)
        k = np.searchsorted(b["t_start"].to_numpy(), p, side="right") - 1
        inside = (k >= 0) & (p < b["t_end"].to_numpy()[np.maximum(k, 0)])
        rows, p, k = rows[inside], p[inside], k[inside]
        q = b["q_start"].to_numpy()[k] + (p - b["t_start"].to_numpy()[k])
        neg = b["q_strand"].to_numpy()[k] == "-"
        q = np.where(neg, b["q_size"].to_numpy()[k] - 1 - q, q)
        out_chrom.iloc[rows] = b["q_chrom"].to_numpy()[k]
        out_pos.iloc[rows] = q + 1
        minus[rows] = neg
    return out_chrom, out_pos, minus


def lift_scoring_file(score: ScoringFile, chain: Chain, target_build: str) -> ScoringFile:
    """The score with its positions on ``target_build``; unmapped rows lose their position
    (they can still match by rsID) and are counted in ``header['liftover_unmapped']``."""
    rows = score.rows.copy()
    chrom, pos, minus = lift_positions(chain, rows[C.CHR_NAME], rows[C.CHR_POSITION])
    had = rows[C.CHR_POSITION].notna().to_numpy()
    rows[C.CHR_NAME], rows[C.CHR_POSITION] = chrom, pos
    for col in (C.EFFECT_ALLELE, C.OTHER_ALLELE):
        rows.loc[minus, col] = rows.loc[minus, col].str.translate(COMPLEMENT)
    unmapped = int((had & pos.isna().to_numpy()).sum())
    header = {**score.header, "liftover_chain": str(chain.path), "liftover_unmapped": str(unmapped)}
    return replace(score, genome_build=target_build, rows=rows, header=header)
