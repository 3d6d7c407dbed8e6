"""The phenotype stage for one biobank: validated records -> endpoint tables and features.

Outputs (under the biobank's results folder), written atomically:

* ``pheno/{endpoint}.parquet``: one row per genotyped person (``ENDPOINT_COLUMNS``);
* ``features/covariates.parquet`` and ``features/omics_landmark.parquet``;
* ``pheno/summary.json``: the source, genotype/phenotype overlap, per endpoint the people
  included, prevalent cases excluded, exclusions by reason and events by record source,
  covariate missingness, measurement and medication counts.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from igs import columns as C
from igs.errors import InputFormatError
from igs.io.atomic import atomic_paths
from igs.pheno.endpoints import EndpointSpec, build_endpoint, summarise_endpoint
from igs.pheno.features import covariate_table, omics_landmark_features
from igs.pheno.records import HealthRecords, validate_records

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class GenotypeOverlap:
    n_phenotyped: int
    n_genotyped: int
    n_both: int
    share_of_genotyped: float


def restrict_to_genotyped(
    records: HealthRecords, genotype_iids: np.ndarray, min_overlap: float
) -> tuple[HealthRecords, GenotypeOverlap]:
    """Keep only persons with genotypes; fail when too few genotyped samples have records."""
    ids = pd.Index(np.asarray(genotype_iids, dtype=str))
    has = records.persons[C.IID].isin(ids)
    overlap = GenotypeOverlap(
        n_phenotyped=len(records.persons),
        n_genotyped=len(ids),
        n_both=int(has.sum()),
        share_of_genotyped=float(has.sum() / max(len(ids), 1)),
    )
    if overlap.share_of_genotyped < min_overlap:
        example = ids[~ids.isin(records.persons[C.IID])][:3].tolist()
        raise InputFormatError(
            f"{records.source}: only {overlap.n_both} of {overlap.n_genotyped} genotyped samples "
            f"({overlap.share_of_genotyped:.0%}) have health records (pheno.min_genotype_overlap "
            f"{min_overlap:.0%}); {overlap.n_phenotyped} persons have records. Genotype IDs without "
            f"records, e.g. {example}: do the ID columns use the same identifiers?"
        )
    keep = set(records.persons.loc[has, C.IID])

    def only(df: pd.DataFrame) -> pd.DataFrame:
        return df[df[C.IID].isin(keep)].reset_index(drop=True)

    return (
        replace(
            records,
            persons=only(records.persons),
            covariates=only(records.covariates),
            diagnoses=only(records.diagnoses),
            measurements=only(records.measurements),
            medications=only(records.medications),
        ),
        overlap,
    )


def build_phenotypes(
    records: HealthRecords,
    endpoints: list[EndpointSpec],
    out_dir: str | os.PathLike[str],
    *,
    genotype_iids: np.ndarray | None = None,
    min_genotype_overlap: float = 0.8,
    landmark_age: float | None = None,
) -> dict:
    """Validate, build every output and write them; returns the summary."""
    validate_records(records)
    overlap = None
    if genotype_iids is not None:
        records, overlap = restrict_to_genotyped(records, genotype_iids, min_genotype_overlap)
    out = Path(out_dir)
    tables = {ep.name: build_endpoint(records, ep) for ep in endpoints}
    covariates = covariate_table(records)
    omics = omics_landmark_features(records, landmark_age)
    summary = {
        "source": records.source,
        "genotype_overlap": asdict(overlap) if overlap else None,
        "landmark": "study entry" if landmark_age is None else f"age {landmark_age}",
        "endpoints": {name: asdict(summarise_endpoint(name, t)) for name, t in tables.items()},
        "covariates_missing": {
            c: int(covariates[c].isna().sum()) for c in (C.BMI, C.SBP, C.SMOKING)
        },
        "n_measurements": len(records.measurements),
        "n_analytes": int(records.measurements[C.ANALYTE].nunique()),
        "n_medications": len(records.medications),
    }
    files = {f"pheno/{name}.parquet": t for name, t in tables.items()}
    files |= {"features/covariates.parquet": covariates, "features/omics_landmark.parquet": omics}
    paths = [out / f for f in files] + [out / "pheno" / "summary.json"]
    for p in paths:
        p.parent.mkdir(parents=True, exist_ok=True)
    with atomic_paths(paths) as tmps:
        for tmp, table in zip(tmps, files.values(), strict=False):
            table.to_parquet(tmp, index=False)
        tmps[-1].write_text(json.dumps(summary, indent=2, default=_json_default) + "\n")
    for name, s in summary["endpoints"].items():
        log.info(
            "%s: %d included, %d events, excluded %s",
            name,
            s["n_included"],
            s["n_events"],
            s["excluded"],
        )
    return summary


def _json_default(obj: object) -> object:
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (np.floating,)):
        return None if np.isnan(obj) else float(obj)
    raise TypeError(type(obj))
