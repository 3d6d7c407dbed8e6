"""Validate a genotype fileset and summarise it in one streaming pass."""

from __future__ import annotations

import logging
import os
from typing import Any

import numpy as np

from igs.errors import InputFormatError
from igs.io.plink import GenotypeFormat, iter_genotype_chunks, open_genotypes

log = logging.getLogger(__name__)


def summarise_genotypes(
    prefix: str | os.PathLike[str], fmt: GenotypeFormat = "bed", *, chunk_variants: int = 8192
) -> dict[str, Any]:
    """Open ``prefix`` (validating its files), then count samples, variants and missing calls.

    Raises :class:`InputFormatError` for a malformed fileset and for variants with no
    called genotype at all (an all-missing variant usually means a broken export).
    """
    gset = open_genotypes(prefix, fmt)
    n, m = gset.n_samples, gset.n_variants
    missing_per_sample = np.zeros(n, dtype=np.int64)
    all_missing: list[str] = []
    ids = gset.variants["id"].to_numpy()
    for start, stop, g in iter_genotype_chunks(gset, chunk_variants=chunk_variants):
        miss = np.isnan(g)
        missing_per_sample += miss.sum(axis=1)
        empty = np.flatnonzero(miss.all(axis=0))
        all_missing.extend(ids[start + empty].tolist())
        log.info("checked variants %d-%d of %d", start + 1, stop, m)
    if all_missing:
        shown = ", ".join(all_missing[:5])
        raise InputFormatError(
            f"{gset.file(fmt)}: {len(all_missing)} variant(s) have no called genotype in any sample, e.g. {shown}. "
            "Remove them (plink2 --geno 0.999) or check the export."
        )
    sex = gset.samples["sex"].to_numpy()
    chrom_counts = gset.variants["chrom"].value_counts(sort=False)
    return {
        "genotypes": str(gset.prefix),
        "format": fmt,
        "n_samples": n,
        "n_variants": m,
        "n_male": int((sex == 1).sum()),
        "n_female": int((sex == 2).sum()),
        "n_sex_unknown": int((sex == 0).sum()),
        "variants_per_chromosome": {str(k): int(v) for k, v in chrom_counts.items()},
        "overall_call_rate": float(1.0 - missing_per_sample.sum() / max(n * m, 1)),
        "lowest_sample_call_rate": float(1.0 - missing_per_sample.max() / max(m, 1)) if n else None,
    }
