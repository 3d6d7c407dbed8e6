"""One simulated biobank: genotypes (bed and pgen), health records, omics and the truth."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from igs import __version__
from igs import columns as C
from igs.io import plink
from igs.io.tables import write_csv_gz
from igs.simulate.genotypes import SampleLayout, draw_genotypes
from igs.simulate.imputed import (
    ARRAY_FILES,
    ARRAY_PREFIX,
    IMPUTATION_TRUTH,
    ImputedWriter,
    draw_quality,
    impute_dosages,
    imputed_files,
)
from igs.simulate.phenotypes import simulate_health_records
from igs.simulate.universe import POPULATIONS, Universe

log = logging.getLogger(__name__)

COHORT_FILES = (
    "genotypes.bed",
    "genotypes.bim",
    "genotypes.fam",
    "genotypes.pgen",
    "genotypes.pvar",
    "genotypes.psam",
    "clinical.tsv",
    "diagnoses.tsv",
    "medications.tsv",
    "omics.tsv.gz",
    "truth.json",
    "truth_samples.tsv.gz",
)


@dataclass(frozen=True)
class CohortSpec:
    """Size, make-up and planted defects of one simulated biobank."""

    name: str
    n_samples: int
    seed: int = 1
    ancestry_proportions: tuple[float, ...] = (0.80, 0.15, 0.05)
    n_related_pairs: int = 5
    n_sex_mismatches: int = 4
    n_het_outliers: int = 6  # half with excess heterozygosity, half inbred
    n_low_callrate_samples: int = 4
    missing_rate: float = 0.002
    low_callrate: float = 0.06  # missing rate of planted low call-rate samples and variants
    frac_low_callrate_variants: float = 0.005
    frac_hwe_fail_variants: float = 0.002
    frac_array_missing: float = 0.01  # universe variants this biobank did not genotype
    # imputed: also write per-chromosome imputed dosages of every universe variant and a
    # genotyped-array fileset of this share of the genotyped variants (igs.simulate.imputed)
    imputed: bool = False
    array_fraction: float = 0.5

    def validate(self, universe: Universe) -> None:
        planted = (
            2 * self.n_related_pairs
            + self.n_sex_mismatches
            + self.n_het_outliers
            + self.n_low_callrate_samples
        )
        if self.n_samples < max(50, 2 * planted):
            raise ValueError(
                f"cohort {self.name!r}: n_samples={self.n_samples} is too small; need >= {max(50, 2 * planted)}"
            )
        if len(self.ancestry_proportions) != len(universe.spec.fst):
            raise ValueError(
                f"cohort {self.name!r}: {len(self.ancestry_proportions)} ancestry proportions given, "
                f"the universe has {len(universe.spec.fst)} ancestry groups"
            )
        if not np.isclose(sum(self.ancestry_proportions), 1.0):
            raise ValueError(
                f"cohort {self.name!r}: ancestry proportions must sum to 1, got {self.ancestry_proportions}"
            )


def simulate_cohort(
    universe: Universe,
    spec: CohortSpec,
    out_dir: str | os.PathLike[str],
    *,
    chunk_variants: int = 2048,
) -> dict:
    """Write one biobank's files (``cohort_files(spec, universe)``) into ``out_dir`` and return
    its truth (with ``spec.imputed`` also the imputed dosages and the array fileset).

    Everything is written to a temporary directory first and moved into place at
    the end, so an interrupted run leaves no partial cohort behind.
    """
    spec.validate(universe)
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng([universe.spec.seed, spec.seed, 1])
    n = spec.n_samples

    iid = np.array([f"{spec.name}_{i:06d}" for i in range(1, n + 1)])
    population = rng.choice(len(spec.ancestry_proportions), p=spec.ancestry_proportions, size=n)
    male = rng.random(n) < 0.5
    special = rng.permutation(n)
    cursor = 0

    def take(k: int) -> np.ndarray:
        nonlocal cursor
        out = np.sort(special[cursor : cursor + k])
        cursor += k
        return out

    pairs = (
        take(2 * spec.n_related_pairs).reshape(-1, 2)
        if spec.n_related_pairs
        else np.empty((0, 2), int)
    )
    pairs = rng.permuted(pairs, axis=1)
    population[pairs[:, 1]] = population[pairs[:, 0]]
    sex_mismatch = take(spec.n_sex_mismatches)
    het_high = take(spec.n_het_outliers // 2)
    het_low = take(spec.n_het_outliers - spec.n_het_outliers // 2)
    low_call_samples = take(spec.n_low_callrate_samples)
    layout = SampleLayout(
        population=population, male=male, parent_child=pairs, inbred=het_low, contaminated=het_high
    )
    reported_male = male.copy()
    reported_male[sex_mismatch] = ~reported_male[sex_mismatch]

    m = len(universe.variants)
    keep = rng.random(m) >= spec.frac_array_missing
    low_call_var = rng.random(m) < spec.frac_low_callrate_variants
    hwe_fail = (
        (rng.random(m) < spec.frac_hwe_fail_variants)
        & ~low_call_var
        & (universe.variants["chrom"] != "X").to_numpy()
    )
    sample_missing = np.full(n, spec.missing_rate)
    sample_missing[low_call_samples] = spec.low_callrate

    scores = list(universe.weights)
    prs = np.zeros((len(scores), n))
    weight_matrix = np.stack([universe.weights[s] for s in scores])  # (scores, m)

    variants_out = universe.variants.loc[keep, list(plink.VARIANT_COLUMNS)].reset_index(drop=True)
    samples = pd.DataFrame(
        {"FID": iid, "IID": iid, "sex": np.where(reported_male, 1, 2).astype(np.int8)}
    )

    # imputation draws come from their own stream: the rest of the cohort is the same either way
    irng = np.random.default_rng([universe.spec.seed, spec.seed, 2])
    quality = draw_quality(irng, m) if spec.imputed else np.ones(m)
    on_array = keep & (irng.random(m) < spec.array_fraction) if spec.imputed else keep

    tmp_dir = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    try:
        import pgenlib

        imputer = None
        with contextlib.ExitStack() as stack:
            bed = stack.enter_context(plink.BedWriter(tmp_dir / "genotypes.bed", n))
            pgen = stack.enter_context(
                pgenlib.PgenWriter(bytes(tmp_dir / "genotypes.pgen"), n, int(keep.sum()), True)
            )
            if spec.imputed:
                array = stack.enter_context(plink.BedWriter(tmp_dir / f"{ARRAY_PREFIX}.bed", n))
                imputer = ImputedWriter(tmp_dir, universe.variants, samples)
            for start, stop, g in draw_genotypes(
                universe, layout, rng, chunk_variants=chunk_variants
            ):
                prs += weight_matrix[:, start:stop] @ g.astype(np.float64)
                if imputer is not None:
                    prior = 2.0 * universe.freqs[:, start:stop][population].T
                    imputer.append(start, stop, impute_dosages(g, prior, quality[start:stop], irng))
                _damage_hwe(g, hwe_fail[start:stop], rng)
                _plant_missing(g, sample_missing, low_call_var[start:stop], spec.low_callrate, rng)
                if imputer is not None:
                    array.append(g[on_array[start:stop]])
                g = g[keep[start:stop]]
                bed.append(g)
                pgen.append_biallelic_batch(np.ascontiguousarray(g))
                log.info("%s: simulated variants %d-%d of %d", spec.name, start + 1, stop, m)
        if imputer is not None:
            imputer.close()
            array_variants = universe.variants.loc[on_array, list(plink.VARIANT_COLUMNS)]
            plink.write_bim(tmp_dir / f"{ARRAY_PREFIX}.bim", array_variants)
            plink.write_fam(tmp_dir / f"{ARRAY_PREFIX}.fam", samples)
            write_csv_gz(
                pd.DataFrame(
                    {
                        "id": universe.variants["id"],
                        "chrom": universe.variants["chrom"],
                        "on_array": on_array,
                        "r2": quality,
                        "info": imputer.info,
                    }
                ),
                tmp_dir / IMPUTATION_TRUTH,
                sep="\t",
                float_format="%.6g",
            )
        plink.write_bim(tmp_dir / "genotypes.bim", variants_out)
        plink.write_fam(tmp_dir / "genotypes.fam", samples)
        plink.write_pvar(tmp_dir / "genotypes.pvar", variants_out)
        plink.write_psam(tmp_dir / "genotypes.psam", samples)

        people = pd.DataFrame({C.IID: iid, "male": male, "reported_male": reported_male})
        for k, s in enumerate(scores):
            people[f"prs_raw_{s}"] = prs[k]
            people[f"prs_z_{s}"] = (prs[k] - prs[k].mean()) / prs[k].std()
        clinical, diagnoses, omics, person_truth, model_truth, medications = (
            simulate_health_records(people, rng)
        )
        clinical.to_csv(tmp_dir / "clinical.tsv", sep="\t", index=False)
        diagnoses.to_csv(tmp_dir / "diagnoses.tsv", sep="\t", index=False)
        medications.to_csv(tmp_dir / "medications.tsv", sep="\t", index=False)
        write_csv_gz(omics, tmp_dir / "omics.tsv.gz", sep="\t")

        per_person = (
            people.drop(columns=["male", "reported_male"])
            .assign(
                population=np.array(POPULATIONS)[population],
                genetic_sex=np.where(male, "male", "female"),
                reported_sex=np.where(reported_male, "male", "female"),
            )
            .merge(person_truth, on=C.IID)
        )
        write_csv_gz(per_person, tmp_dir / "truth_samples.tsv.gz", sep="\t", float_format="%.6g")
        vid = universe.variants["id"].to_numpy()
        truth = {
            "igs_version": __version__,
            "universe": universe.spec.to_dict(),
            "cohort": asdict(spec),
            "genotypes": {
                "n_samples": n,
                "n_variants": int(keep.sum()),
                "counted_allele": "bim column 5 (A1) = pvar ALT",
                "populations": {
                    p: int((population == k).sum())
                    for k, p in enumerate(POPULATIONS[: len(spec.ancestry_proportions)])
                },
            },
            "planted": {
                "related_pairs": [[iid[a], iid[b]] for a, b in pairs],
                "related_pairs_kinship": 0.25,
                "sex_mismatch": iid[sex_mismatch].tolist(),
                "heterozygosity_high": iid[het_high].tolist(),
                "heterozygosity_low": iid[het_low].tolist(),
                "low_callrate_samples": iid[low_call_samples].tolist(),
                "low_callrate_variants": vid[keep & low_call_var].tolist(),
                "hwe_fail_variants": vid[keep & hwe_fail].tolist(),
                "array_missing_variants": vid[~keep].tolist(),
            },
            "model": model_truth,
        }
        if spec.imputed:
            truth["imputation"] = {
                "dosages": "imputed/chr{chrom}.pgen (every universe variant; INFO R2 realised)",
                "array": f"{ARRAY_PREFIX}.bed ({int(on_array.sum())} variants, planted defects kept)",
                "n_imputed_variants": m,
                "n_array_variants": int(on_array.sum()),
                "per_variant": IMPUTATION_TRUTH,
            }
        (tmp_dir / "truth.json").write_text(
            json.dumps(truth, indent=2, default=_json_default) + "\n"
        )
        _move_into_place(tmp_dir, out_dir, cohort_files(spec, universe))
    finally:
        shutil.rmtree(tmp_dir, ignore_errors=True)
    return truth


def _damage_hwe(g: np.ndarray, rows: np.ndarray, rng: np.random.Generator) -> None:
    """Turn 60% of heterozygous calls at the chosen variants into homozygotes (genotyping error)."""
    for r in np.flatnonzero(rows):
        het = np.flatnonzero(g[r] == 1)
        hit = het[rng.random(len(het)) < 0.6]
        g[r, hit] = rng.choice(np.array([0, 2], dtype=np.int8), size=len(hit))


def _plant_missing(
    g: np.ndarray,
    sample_rate: np.ndarray,
    low_rows: np.ndarray,
    low_rate: float,
    rng: np.random.Generator,
) -> None:
    rate = np.broadcast_to(sample_rate, g.shape).copy()
    rate[low_rows] = np.maximum(rate[low_rows], low_rate)
    g[rng.random(g.shape, dtype=np.float32) < rate] = plink.MISSING_INT8


def cohort_files(spec: CohortSpec, universe: Universe) -> tuple[str, ...]:
    """The files a cohort's folder holds: ``COHORT_FILES``, and with ``spec.imputed`` the array
    fileset, the per-variant imputation truth and ``imputed/chr{N}.pgen/pvar/psam``."""
    if not spec.imputed:
        return COHORT_FILES
    chroms = list(dict.fromkeys(universe.variants["chrom"].astype(str)))
    return (*COHORT_FILES, *ARRAY_FILES, IMPUTATION_TRUTH, *imputed_files(chroms))


def _move_into_place(tmp_dir: Path, out_dir: Path, names: tuple[str, ...]) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    for name in names:
        (out_dir / name).parent.mkdir(parents=True, exist_ok=True)
        os.replace(tmp_dir / name, out_dir / name)


def _json_default(obj: object) -> object:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, tuple):
        return list(obj)
    raise TypeError(f"not JSON serialisable: {type(obj)}")
