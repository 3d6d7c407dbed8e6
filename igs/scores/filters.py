"""Variant filters for scoring imputed data: ``scores.min_info`` and ``scores.min_maf``.

A matched variant whose imputation quality (INFO/R2) is below ``min_info``, or whose minor
allele frequency in the target is below ``min_maf``, is not scored: its match status becomes
``filtered_info`` / ``filtered_maf`` and ``filter_reason`` says why (value and threshold).
Variants without an INFO value are kept (genotyped, or the file has none). Array filters such
as HWE are deliberately not applied to scores.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from igs.errors import InputFormatError
from igs.io.plink import X_CHROMS, GenotypeSet, iter_dosage_chunks
from igs.scores.engine import _dosage_imputation

INFO_ID_COLUMNS = ("ID", "SNP", "rsid", "id", "variant_id")
INFO_VALUE_COLUMNS = ("R2", "Rsq", "INFO", "info", "DR2")


def a1_frequencies(
    gset: GenotypeSet, variant_index: np.ndarray, *, chunk_variants: int = 1024
) -> np.ndarray:
    """Counted-allele (a1) frequency of the selected variants over called genotypes.

    On chrX a male counts as one allele (as ``plink2 --freq``). One streaming pass.
    """
    variant_index = np.asarray(variant_index, dtype=np.int64)
    out = np.full(len(variant_index), np.nan)
    chrom = gset.variants["chrom"].to_numpy(dtype=str)
    is_male = gset.samples["sex"].to_numpy() == 1
    done = 0
    for idx, g in iter_dosage_chunks(gset, variant_index, chunk_variants=chunk_variants):
        is_x = np.isin(chrom[idx], X_CHROMS)
        out[done : done + len(idx)] = _dosage_imputation(g, is_x, is_male) / 2.0
        done += len(idx)
    return out


def read_info_file(path: str | os.PathLike[str]) -> pd.Series:
    """A per-chromosome info file (minimac ``.info``, or any TSV with an ID and an R2/INFO
    column) as a Series of INFO values indexed by variant ID."""
    path = Path(path)
    if not path.is_file():
        raise InputFormatError(f"{path}: info file not found.")
    df = pd.read_csv(path, sep=r"\s+", dtype=str)
    id_col = next((c for c in INFO_ID_COLUMNS if c in df.columns), None)
    value_col = next((c for c in INFO_VALUE_COLUMNS if c in df.columns), None)
    if id_col is None or value_col is None:
        raise InputFormatError(
            f"{path}: an info file needs a variant ID column ({', '.join(INFO_ID_COLUMNS)}) and an "
            f"INFO column ({', '.join(INFO_VALUE_COLUMNS)}); found {list(df.columns)}."
        )
    return pd.Series(pd.to_numeric(df[value_col], errors="coerce").to_numpy(), index=df[id_col])


def filter_matches(
    report: pd.DataFrame,
    variants: pd.DataFrame,
    *,
    min_info: float | None = None,
    min_maf: float | None = None,
    a1_freq: pd.Series | None = None,
    info: pd.Series | None = None,
    in_reference: np.ndarray | None = None,
) -> pd.DataFrame:
    """The report with matched rows failing a filter re-labelled, and a ``filter_reason`` column.

    ``info`` (by target index) defaults to ``variants["info"]`` when present; ``a1_freq`` is the
    a1 frequency by target index (from :func:`a1_frequencies`), needed when ``min_maf`` is set.
    ``in_reference`` (bool by target index) marks the variants a reference panel also has
    (``scores.ancestry_reference``); the others become ``not_in_reference``, as pgsc_calc scores
    only variants in both when it compares with a reference.
    """
    report = report.copy()
    if "filter_reason" not in report.columns:
        report["filter_reason"] = ""
    matched = (report["match_status"] == "matched").to_numpy()
    target = report["target_index"].fillna(-1).to_numpy(dtype=np.int64)
    if min_info is not None:
        if info is None and "info" in variants.columns:
            info = pd.Series(variants["info"].to_numpy(), index=np.arange(len(variants)))
        if info is not None:
            value = np.full(len(report), np.nan)
            value[matched] = info.reindex(target[matched]).to_numpy(dtype=float)
            low = matched & (value < min_info)
            report.loc[low, "match_status"] = "filtered_info"
            report.loc[low, "filter_reason"] = [
                f"info {v:.4g} < min_info {min_info:g}" for v in value[low]
            ]
            matched &= ~low
    if min_maf is not None:
        if a1_freq is None:
            raise ValueError("min_maf needs the target's allele frequencies (a1_freq)")
        freq = np.full(len(report), np.nan)
        freq[matched] = a1_freq.reindex(target[matched]).to_numpy(dtype=float)
        maf = np.minimum(freq, 1.0 - freq)
        low = matched & (maf < min_maf)
        report.loc[low, "match_status"] = "filtered_maf"
        report.loc[low, "filter_reason"] = [f"maf {v:.4g} < min_maf {min_maf:g}" for v in maf[low]]
        matched &= ~low
    if in_reference is not None:
        absent = matched & ~in_reference[np.maximum(target, 0)]
        report.loc[absent, "match_status"] = "not_in_reference"
        report.loc[absent, "filter_reason"] = (
            "not in the reference panel (scores.ancestry_reference)"
        )
    report.loc[report["match_status"] != "matched", "match_type"] = None
    return report
