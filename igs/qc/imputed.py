"""QC of imputed genotypes without a genotyped array: hard calls of well-imputed common variants.

A biobank whose genotypes are per-chromosome files (``{chrom}``) or VCF/BGEN dosages, with
``qc.source: compute`` and no ``qc.genotypes``, gets its QC, PCA and kinship on one bed fileset
written by :func:`write_hard_calls`: of every chromosome's variants, those with INFO/R2 at least
``qc.imputed_min_info`` (the file's INFO field; where it has none, minimac's R2 of the dosages,
``var(d) / (2p(1-p))``), a minor allele frequency at least ``qc.imputed_min_maf`` and a hard-call
rate at least ``qc.variant_call_rate``. A dosage within ``qc.imputed_hard_call`` of 0, 1 or 2
becomes that call, else a missing call (plink2's ``--hard-call-threshold``). The call-rate filter
is applied here, before QC, because QC's first step (sample call rate) runs on every variant it
is given: a variant with many ambiguous dosages would otherwise count against everyone. Sex is a
pgen's psam SEX; VCF/BGEN carry none (0: the sex check then only removes ambiguous F).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from igs.errors import InputFormatError
from igs.io.atomic import atomic_paths
from igs.io.plink import (
    VARIANT_COLUMNS,
    X_CHROMS,
    BedWriter,
    iter_dosage_chunks,
    open_genotypes,
    write_bim,
    write_fam,
)
from igs.qc.options import QCOptions

log = logging.getLogger(__name__)

PathLike = str | os.PathLike[str]


@dataclass(frozen=True)
class HardCallCounts:
    """Variants read and kept per chromosome file, and why the others were left out."""

    read: dict[str, int]
    kept: dict[str, int]
    low_info: int
    low_maf: int
    low_call_rate: int


def needs_hard_calls(biobank: dict) -> bool:
    """QC is computed on hard calls of one bed/pgen fileset: per-chromosome ``{chrom}`` or
    VCF/BGEN genotypes without ``qc.genotypes`` (and ``qc.source: compute``) are QC'd on the
    hard calls of their well-imputed common variants (:func:`write_hard_calls`)."""
    from igs.io.chroms import has_chrom_field

    qc, g = biobank.get("qc", {}), biobank["genotypes"]
    if qc.get("source", "compute") != "compute" or "genotypes" in qc:
        return False
    return has_chrom_field(g["path"]) or g["format"] not in ("bed", "pgen")


def hard_calls(dosage: np.ndarray, threshold: float) -> np.ndarray:
    """int8 calls of float dosages: the nearest of 0, 1, 2 when within ``threshold``, else -9
    (missing dosages too)."""
    d = np.asarray(dosage, dtype=np.float64)
    call = np.rint(d)
    ok = np.abs(d - call) <= threshold + 1e-9  # + pgen's 1/16384 rounding
    return np.where(ok & (call >= 0) & (call <= 2), call, -9).astype(np.int8)


def write_hard_calls(
    parts: dict[str, Path | str],
    fmt: str,
    opts: QCOptions,
    out_prefix: PathLike,
    *,
    sample: str | None = None,
) -> HardCallCounts:
    """Write ``out_prefix``.bed/bim/fam: hard calls of the well-imputed common variants of every
    part (``{chromosome: path}``, in order; see the module docstring). ``sample`` is a BGEN's
    ``.sample`` file (may contain ``{chrom}``)."""
    out = Path(out_prefix)
    out.parent.mkdir(parents=True, exist_ok=True)
    read, kept, why = {}, {}, {"info": 0, "maf": 0, "call_rate": 0}
    kept_variants, samples, first = [], None, None
    with atomic_paths([Path(f"{out}{s}") for s in (".bed", ".bim", ".fam")]) as tmp:
        writer = None
        for part, path in parts.items():
            s_file = sample.replace("{chrom}", part) if sample else None
            gset = open_genotypes(path, fmt, sample=s_file)  # type: ignore[arg-type]
            if samples is None:
                samples, first = gset.samples, path
                writer = BedWriter(tmp[0], gset.n_samples)
            elif not gset.samples["IID"].astype(str).equals(samples["IID"].astype(str)):
                raise InputFormatError(
                    f"{path}: its samples differ from those of {first} (IDs or order); every "
                    "chromosome file must hold the same people in the same order."
                )
            v = gset.variants
            info = v["info"].to_numpy(float) if "info" in v else np.full(len(v), np.nan)
            is_x = v["chrom"].astype(str).isin(X_CHROMS).to_numpy()
            females = np.flatnonzero(gset.samples["sex"].to_numpy() == 2)
            keep_part = np.zeros(len(v), dtype=bool)
            assert writer is not None
            for idx, g in iter_dosage_chunks(
                gset, np.arange(len(v)), chunk_variants=opts.chunk_variants, dtype=np.float32
            ):
                calls = hard_calls(g, opts.imputed_hard_call)  # (n, k)
                p = np.nanmean(g, axis=0, dtype=np.float64) / 2.0
                maf = np.minimum(p, 1.0 - p)
                r2 = info[idx]
                no_info = np.isnan(r2)
                if no_info.any():
                    r2 = r2.copy()
                    r2[no_info] = _minimac_r2(g[:, no_info], is_x[idx][no_info], females)
                call_rate = (calls >= 0).mean(axis=0)
                low_info = ~(r2 >= opts.imputed_min_info)
                low_maf = ~low_info & ~(maf >= opts.imputed_min_maf)
                low_call = ~low_info & ~low_maf & (call_rate < opts.variant_call_rate)
                why["info"] += int(low_info.sum())
                why["maf"] += int(low_maf.sum())
                why["call_rate"] += int(low_call.sum())
                ok = ~(low_info | low_maf | low_call)
                if ok.any():
                    writer.append(np.ascontiguousarray(calls[:, ok].T))
                keep_part[idx[ok]] = True
            read[part], kept[part] = len(v), int(keep_part.sum())
            kept_variants.append(v.loc[keep_part, list(VARIANT_COLUMNS)])
            log.info("%s: %d of %d variants kept for QC", path, kept[part], read[part])
        if writer is None or samples is None:
            raise ValueError(f"{out_prefix}: no genotype files given to hard-call")
        writer.close()
        write_bim(tmp[1], pd.concat(kept_variants, ignore_index=True))
        write_fam(tmp[2], samples)
    return HardCallCounts(
        read=read, kept=kept, low_info=why["info"], low_maf=why["maf"],
        low_call_rate=why["call_rate"],
    )  # fmt: skip


def _minimac_r2(g: np.ndarray, is_x: np.ndarray, females: np.ndarray) -> np.ndarray:
    """minimac's R2 of (n, k) dosages per variant (chrX in females), NaN-aware."""
    out = np.empty(g.shape[1])
    for rows, cols in ((slice(None), ~is_x), (females, is_x)):
        if not cols.any():
            continue
        d = g[rows][:, cols].astype(np.float64)
        p = np.nanmean(d, axis=0) / 2.0
        denom = 2.0 * p * (1.0 - p)
        with np.errstate(invalid="ignore", divide="ignore"):
            out[cols] = np.where(denom > 1e-12, np.nanvar(d, axis=0) / denom, 0.0)
    return out
