"""Draw genotypes for one cohort from the shared universe, one chunk of LD blocks at a time.

Haplotypes come from a latent Gaussian AR(1) process along each LD block (a
haplotype carries the counted allele where its latent value is below the
ancestry group's frequency quantile), so neighbouring variants are in LD and
allele frequencies differ by ancestry group. Related pairs, inbred and
contaminated samples are planted at the haplotype or genotype level.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from igs.simulate.universe import Universe


@dataclass(frozen=True)
class SampleLayout:
    """Who is who in a simulated cohort, as indices into the sample list."""

    population: np.ndarray  # int, ancestry group per sample
    male: np.ndarray  # bool, genetic sex
    parent_child: np.ndarray  # (k, 2) int: child inherits one haplotype of parent
    inbred: np.ndarray  # int: samples with long runs of homozygosity (low heterozygosity)
    contaminated: (
        np.ndarray
    )  # int: samples whose DNA is mixed with an unseen person's (excess heterozygosity)


def chunk_ranges(block: np.ndarray, chunk_variants: int) -> list[tuple[int, int]]:
    """Split variants into chunks of about ``chunk_variants`` that end on block boundaries."""
    starts = np.flatnonzero(np.r_[True, block[1:] != block[:-1]])
    ranges, begin = [], 0
    for s in starts[1:]:
        if s - begin >= chunk_variants:
            ranges.append((begin, int(s)))
            begin = int(s)
    ranges.append((begin, len(block)))
    return ranges


def draw_genotypes(
    universe: Universe,
    layout: SampleLayout,
    rng: np.random.Generator,
    *,
    chunk_variants: int = 2048,
) -> Iterator[tuple[int, int, np.ndarray]]:
    """Yield ``(start, stop, G)`` with G int8 of shape (stop - start, n_samples): true a1 counts.

    No missing calls here; the caller plants them after using the true genotypes.
    """
    v = universe.variants
    block = v["block"].to_numpy()
    rho = v["rho"].to_numpy()
    is_x = (v["chrom"] == "X").to_numpy()
    thresholds = universe.thresholds  # (groups, m)
    n = len(layout.population)
    # Each contaminated sample gets an unseen contaminating person of its own ancestry group,
    # simulated as extra haplotypes after the cohort's own.
    ghosts = np.arange(n, n + len(layout.contaminated))
    hap_pop = np.repeat(np.r_[layout.population, layout.population[layout.contaminated]], 2)
    parents, children = layout.parent_child[:, 0], layout.parent_child[:, 1]
    male_idx = np.flatnonzero(layout.male)

    for start, stop in chunk_ranges(block, chunk_variants):
        k = stop - start
        b = block[start:stop]
        new_block = np.r_[True, b[1:] != b[:-1]]
        z = rng.standard_normal((k, len(hap_pop)), dtype=np.float32)
        for j in range(1, k):
            if not new_block[j]:
                r = rho[start + j]
                z[j] *= np.sqrt(1.0 - r * r)
                z[j] += r * z[j - 1]
        haps = z < thresholds[:, start:stop].T[:, hap_pop]
        del z

        local_block = np.cumsum(new_block) - 1
        n_local = int(local_block[-1]) + 1
        if len(children):
            pick = rng.integers(0, 2, size=(n_local, len(children)))[local_block]  # (k, pairs)
            src = np.where(pick == 1, haps[:, 2 * parents + 1], haps[:, 2 * parents])
            haps[:, 2 * children] = src
        if len(layout.inbred):
            autozygous = rng.random((n_local, len(layout.inbred))) < 0.35
            a = autozygous[local_block]
            haps[:, 2 * layout.inbred + 1] = np.where(
                a, haps[:, 2 * layout.inbred], haps[:, 2 * layout.inbred + 1]
            )

        g = haps[:, 0::2].astype(np.int8) + haps[:, 1::2].astype(np.int8)
        x_rows = np.flatnonzero(is_x[start:stop])
        if len(x_rows) and len(male_idx):
            g[np.ix_(x_rows, male_idx)] = 2 * haps[np.ix_(x_rows, 2 * male_idx)].astype(np.int8)
        if len(layout.contaminated):
            # A mixed sample shows both people's alleles: called het wherever the contaminant
            # carries an allele the sample lacks (at 30% of autosomal sites, as allele balance allows).
            auto_rows = np.flatnonzero(~is_x[start:stop])
            own = g[np.ix_(auto_rows, layout.contaminated)]
            other = g[np.ix_(auto_rows, ghosts)]
            hit = (rng.random(own.shape) < 0.3) & (
                ((own == 0) & (other > 0)) | ((own == 2) & (other < 2))
            )
            own[hit] = 1
            g[np.ix_(auto_rows, layout.contaminated)] = own
        yield start, stop, g[:, :n]
