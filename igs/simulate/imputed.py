"""A simulated biobank as imputation servers deliver it: per-chromosome dosages with INFO.

Files (beside the cohort's hard calls): ``imputed/chr{N}.pgen/.pvar/.psam`` (every universe
variant, dosages, the realised R2 in the pvar's INFO column as ``R2=``) and ``array.bed/bim/fam``
(the genotyped array: a subset of the variants, hard calls with the array's planted missing
calls and genotyping errors), used for QC through ``qc.genotypes``.

Why pgen and not ``chr{N}.dose.vcf.gz``: pgenlib writes the dosages of a whole chunk in one
compiled call, where a DS VCF needs every value formatted as text and bgzipped; and every scoring
job reads them again: igs read all dosages of the demo's north chr1 (2,000 people x 3,840
variants) in 0.57 s from the pgen and 1.10 s from plink2's DS VCF export of it (median of 3 on a
loaded machine, 1.9x). The pvar keeps the INFO field (``R2=``) that ``scores.min_info`` reads,
as in a VCF.

Imputation model. Variant j has a planted quality ``r2_j`` in [1/3, 1] (``draw_quality``: most
near 1, a tail down to 0.35). Each dosage moves a share ``s`` of the way from the prior mean
``2 f`` to the true genotype ``g``: ``d = 2 f + s (g - 2 f)``, where ``f`` is the allele
frequency of the person's ancestry group (which the reference panel matches; a haploid male on
chrX counts twice, as plink2 stores it). ``s`` is 1 (the genotype is known) with probability
``q_j = (3 r2_j - 1) / 2``, else uniform on (0, 1) (partly informed), independently per
genotype, so ``E[s^2] = r2_j``: the dosage variance is ``r2_j var(g)`` and minimac's
``R2 = var(dosage) / (2 p (1 - p))`` (``p`` the dosage allele frequency; chrX in females)
estimates ``r2_j``. This realised R2, computed on the written dosages, is the INFO. Partly
informed dosages mostly lie between two integers, so hard calls at plink2's threshold (0.1)
leave them missing rather than wrong, as with real imputed data. Dosages are stored at pgen's
resolution (1/16384).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from igs.io import plink

DOSAGE_UNIT = 16384.0  # pgen stores dosages in units of 1/16384
IMPUTED_DIR = "imputed"
ARRAY_PREFIX = "array"
ARRAY_FILES = tuple(f"{ARRAY_PREFIX}{s}" for s in (".bed", ".bim", ".fam"))
IMPUTATION_TRUTH = "truth_imputation.tsv.gz"


def imputed_files(chromosomes: list[str] | tuple[str, ...]) -> list[str]:
    """The per-chromosome pgen files (relative to the cohort folder) for ``chromosomes``."""
    return [f"{IMPUTED_DIR}/chr{c}{s}" for c in chromosomes for s in (".pgen", ".pvar", ".psam")]


def draw_quality(rng: np.random.Generator, m: int, *, well_imputed: float = 0.85) -> np.ndarray:
    """Planted imputation quality per variant: a share ``well_imputed`` with ``1 - Beta(1, 100)``
    (mean 0.99), the rest uniform on [0.35, 0.95]."""
    good = rng.random(m) < well_imputed
    return np.where(good, 1.0 - rng.beta(1.0, 100.0, size=m), rng.uniform(0.35, 0.95, size=m))


def impute_dosages(
    g: np.ndarray,
    prior_mean: np.ndarray,
    r2: np.ndarray,
    rng: np.random.Generator,
) -> np.ndarray:
    """Dosages (k, n) float32 of true counts ``g`` (k, n): ``prior_mean + s (g - prior_mean)``
    with ``s`` 1 with probability ``(3 r2 - 1) / 2`` per variant, else uniform on (0, 1), rounded
    to pgen's 1/16384 (see the module docstring)."""
    known = (3.0 * np.clip(r2, 1 / 3, 1.0) - 1.0) / 2.0
    s = rng.random(g.shape, dtype=np.float32)
    s[rng.random(g.shape, dtype=np.float32) < known[:, None]] = 1.0
    d = prior_mean + s * (g - prior_mean)
    return (np.round(d * DOSAGE_UNIT) / DOSAGE_UNIT).astype(np.float32)


def realised_r2(dosage: np.ndarray, rows: np.ndarray | None = None) -> np.ndarray:
    """minimac's R2 per variant of (k, n) dosages, over the samples ``rows`` (all when None):
    ``var(d) / (2 p (1 - p))`` with ``p = mean(d) / 2``; 0 for a monomorphic variant."""
    d = np.asarray(dosage, dtype=np.float64)
    if rows is not None:
        d = d[:, rows]
    p = d.mean(axis=1) / 2.0
    denom = 2.0 * p * (1.0 - p)
    with np.errstate(invalid="ignore", divide="ignore"):
        r2 = np.where(denom > 1e-12, d.var(axis=1) / denom, 0.0)
    return r2


class ImputedWriter:
    """Stream dosages into one pgen fileset per chromosome (``imputed/chr{N}``), variants in
    ``variants`` order; the pvar (with ``R2=`` INFO) and psam are written on ``close``."""

    def __init__(
        self, out_dir: str | os.PathLike[str], variants: pd.DataFrame, samples: pd.DataFrame
    ) -> None:
        import pgenlib

        self.dir = Path(out_dir) / IMPUTED_DIR
        self.dir.mkdir(parents=True, exist_ok=True)
        self.variants = variants.reset_index(drop=True)
        self.samples = samples
        self.chrom = self.variants["chrom"].astype(str).to_numpy()
        self.info = np.full(len(self.variants), np.nan)
        female = samples["sex"].to_numpy() == 2
        self._female = np.flatnonzero(female)
        self.chromosomes = list(dict.fromkeys(self.chrom))
        self._writers = {
            c: pgenlib.PgenWriter(
                bytes(self.dir / f"chr{c}.pgen"),
                len(samples),
                int((self.chrom == c).sum()),
                True,
                dosage_present=True,
            )
            for c in self.chromosomes
        }

    def append(self, start: int, stop: int, dosage: np.ndarray) -> None:
        """Append variants ``start:stop`` (dosages (k, n) float32, counted allele a1)."""
        chrom = self.chrom[start:stop]
        for c in dict.fromkeys(chrom):
            rows = np.flatnonzero(chrom == c)
            block = np.ascontiguousarray(dosage[rows], dtype=np.float32)
            self._writers[c].append_dosages_batch(block)
            females = self._female if c in plink.X_CHROMS else None
            self.info[start + rows] = realised_r2(block, females)

    def close(self) -> None:
        for w in self._writers.values():
            w.close()
        v = self.variants.assign(info=self.info)
        for c in self.chromosomes:
            part = v[self.chrom == c]
            pvar = pd.DataFrame(
                {
                    "#CHROM": part["chrom"],
                    "POS": part["pos"],
                    "ID": part["id"],
                    "REF": part["a2"],
                    "ALT": part["a1"],
                    "INFO": [f"R2={x:.4f}" for x in part["info"]],
                }
            )
            pvar.to_csv(self.dir / f"chr{c}.pvar", sep="\t", index=False)
            plink.write_psam(self.dir / f"chr{c}.psam", self.samples)
