"""The phenotype stage on files: read a biobank's records and build its endpoints and features."""

from __future__ import annotations

import os
from pathlib import Path

from igs.pheno.build import build_phenotypes
from igs.pheno.options import PhenoOptions


def build_from_options(
    opts: PhenoOptions, out_dir: str | os.PathLike[str], genotype_samples: Path | None = None
) -> None:
    """Build pheno/{endpoint}.parquet, features/*.parquet and pheno/summary.json under out_dir,
    for the samples of a .fam/.psam when given."""
    from igs.pheno.omop import read_omop_records
    from igs.pheno.records import read_table_records

    ph = opts.phenotypes
    if ph["source"] == "omop":
        records = read_omop_records(ph["omop_url"], opts.concepts)
    else:
        records = read_table_records(
            ph["clinical"], ph.get("diagnoses"), ph.get("omics"), ph.get("medications")
        )
    iids = None
    if genotype_samples is not None:
        from igs.io.plink import read_fam, read_psam

        reader = read_psam if Path(genotype_samples).suffix == ".psam" else read_fam
        iids = reader(genotype_samples)["IID"].to_numpy()
    build_phenotypes(
        records, list(opts.endpoints), out_dir, genotype_iids=iids,
        min_genotype_overlap=opts.min_genotype_overlap, landmark_age=opts.landmark_age,
    )  # fmt: skip
