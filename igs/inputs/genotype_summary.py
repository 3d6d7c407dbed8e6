"""Validate a biobank's genotypes and summarise them in one streaming pass per file.

The genotypes are a PLINK fileset (bed/pgen), a VCF or a BGEN (with its ``.sample``), or one of
these per chromosome when the path holds ``{chrom}``; every file is opened with the reader
scoring uses (so a missing chromosome file, a pattern matching nothing, a BGEN without its
sample file or a VCF without DS/GP/GT fails here, naming the file) and read through.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import numpy as np

from igs.errors import InputFormatError
from igs.io.chroms import CHROM_FIELD, expand_chrom_paths, has_chrom_field
from igs.io.plink import GenotypeFormat, GenotypeSet, iter_genotype_chunks, open_genotypes

log = logging.getLogger(__name__)
PathLike = str | os.PathLike[str]


def summarise_genotypes(
    prefix: PathLike,
    fmt: GenotypeFormat = "bed",
    *,
    sample: PathLike | None = None,
    chromosomes: list[str] | None = None,
    chunk_variants: int = 8192,
) -> dict[str, Any]:
    """Open every genotype file of ``prefix`` (validating it), then count samples, variants
    and missing calls; ``sample`` (a BGEN's .sample) and ``prefix`` may contain ``{chrom}``.

    Raises :class:`InputFormatError` for a malformed or missing file, for chromosome files
    with other samples than the first, and for variants with no called genotype at all (an
    all-missing variant usually means a broken export).
    """
    if has_chrom_field(prefix):
        parts = {c: str(p) for c, p in expand_chrom_paths(prefix, fmt, chromosomes).items()}
    else:
        parts = {"all": str(prefix)}
    first: GenotypeSet | None = None
    n_missing, n_variants, per_chrom = None, 0, {}
    for part, path in parts.items():
        part_sample = None if sample is None else str(sample).replace(CHROM_FIELD, part)
        gset = open_genotypes(path, fmt, sample=part_sample)
        if first is None:
            first = gset
        elif not gset.samples["IID"].equals(first.samples["IID"]):
            raise InputFormatError(
                f"{_data_file(path, fmt)}: has other samples (or another order) than "
                f"{_data_file(first.prefix, fmt)}; "
                "every chromosome file must hold the same samples in the same order."
            )
        missing = _missing_per_sample(gset, fmt, chunk_variants)
        n_missing = missing if n_missing is None else n_missing + missing
        n_variants += gset.n_variants
        for k, v in gset.variants["chrom"].value_counts(sort=False).items():
            per_chrom[str(k)] = per_chrom.get(str(k), 0) + int(v)
    assert first is not None and n_missing is not None
    n, m = first.n_samples, n_variants
    sex = first.samples["sex"].to_numpy()
    return {
        "genotypes": str(prefix) if len(parts) > 1 else str(first.prefix),
        "format": fmt,
        "files": {c: str(_data_file(p, fmt)) for c, p in parts.items()},
        "n_samples": n,
        "n_variants": m,
        "n_male": int((sex == 1).sum()),
        "n_female": int((sex == 2).sum()),
        "n_sex_unknown": int((sex == 0).sum()),
        "variants_per_chromosome": per_chrom,
        "overall_call_rate": float(1.0 - n_missing.sum() / max(n * m, 1)),
        "lowest_sample_call_rate": float(1.0 - n_missing.max() / max(m, 1)) if n else None,
    }


def _data_file(path: PathLike, fmt: str) -> Path:
    """The data file of a part: the .bed/.pgen of a PLINK prefix, else the VCF/BGEN itself."""
    return Path(f"{path}.{fmt}") if fmt in ("bed", "pgen") else Path(path)


def _missing_per_sample(gset: GenotypeSet, fmt: str, chunk_variants: int) -> np.ndarray:
    """Missing calls per sample over every variant; raises for a variant called in nobody."""
    missing_per_sample = np.zeros(gset.n_samples, dtype=np.int64)
    all_missing: list[str] = []
    ids = gset.variants["id"].to_numpy()
    for start, stop, g in iter_genotype_chunks(gset, chunk_variants=chunk_variants):
        miss = np.isnan(g)
        missing_per_sample += miss.sum(axis=1)
        empty = np.flatnonzero(miss.all(axis=0))
        all_missing.extend(ids[start + empty].tolist())
        log.info("%s: checked variants %d-%d of %d", gset.prefix, start + 1, stop, gset.n_variants)
    if all_missing:
        shown = ", ".join(all_missing[:5])
        raise InputFormatError(
            f"{_data_file(gset.prefix, fmt)}: {len(all_missing)} variant(s) have no called genotype in any sample, e.g. {shown}. "
            "Remove them (plink2 --geno 0.999) or check the export."
        )
    return missing_per_sample
