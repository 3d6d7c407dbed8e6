"""Sample QC without computing it: the biobank's own (``qc.source: provided``) or none at all.

``provided`` takes three tables, as UK Biobank ships them (whitespace- or tab-separated, with a
header): the exclusions (``IID`` and ``reason``, one row per excluded person: its reason becomes
``qc_fail``), the PCs (``IID``, ``PC1``..) and the kinship table (``ID1``, ``ID2``, ``Kinship``
as in ``ukb_rel.dat``, or plink2's ``IID1``, ``IID2``, ``KINSHIP``). Of each pair above
``qc.kinship`` among the people not excluded, the fewest are removed with reason
``relatedness`` (:func:`igs.qc.relatedness.samples_to_remove`: most relatives first, then the
larger IID). ``none`` passes everyone and writes no PCs. Both write sample_qc.tsv.gz, pcs.tsv,
king_pairs.tsv.gz and summary.json like the computed QC (no genotypes, loadings or variant QC).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from igs.errors import InputFormatError
from igs.io.atomic import atomic_paths
from igs.io.tables import write_csv_gz
from igs.qc.options import QCOptions
from igs.qc.relatedness import samples_to_remove

PathLike = str | os.PathLike[str]
SAMPLE_FILES = ("sample_qc.tsv.gz", "pcs.tsv", "king_pairs.tsv.gz", "summary.json")
KINSHIP_COLUMNS = (("ID1", "ID2", "Kinship"), ("IID1", "IID2", "KINSHIP"))


@dataclass(frozen=True)
class ProvidedQC:
    """The paths of a biobank's own sample QC tables (``qc.provided`` in the config)."""

    exclusions: Path
    pcs: Path
    kinship: Path


def genotyped_samples(path: str, fmt: str, *, sample: str | None = None) -> pd.DataFrame:
    """FID and IID of the people in a genotype fileset (the first file of a ``{chrom}`` set)."""
    from igs.io.chroms import expand_chrom_paths, has_chrom_field

    if has_chrom_field(path):
        chrom, first = next(iter(expand_chrom_paths(path, fmt).items()))
        path = str(first)
        sample = sample.replace("{chrom}", chrom) if sample else None
    if fmt in ("bed", "pgen"):
        from igs.io.plink import open_genotypes

        samples = open_genotypes(path, fmt).samples  # type: ignore[arg-type]
    elif fmt == "vcf":
        from igs.io.dosage import open_vcf

        samples = open_vcf(path).samples
    else:
        from igs.io.dosage import open_bgen

        samples = open_bgen(path, sample).samples
    return samples[["FID", "IID"]].astype(str).reset_index(drop=True)


def read_table(path: PathLike, what: str, columns: tuple[str, ...]) -> pd.DataFrame:
    """A whitespace- or tab-separated table with a header that must have ``columns``."""
    path = Path(path)
    if not path.is_file():
        raise InputFormatError(f"{path}: {what} file not found (qc.provided).")
    try:
        table = pd.read_csv(path, sep=r"\s+", dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise InputFormatError(f"{path}: {what} table cannot be read ({exc}).") from exc
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise InputFormatError(
            f"{path}: {what} table has no column(s) {', '.join(missing)}; "
            f"it has {', '.join(table.columns)}."
        )
    return table


def provided_qc(
    samples: pd.DataFrame, files: ProvidedQC, opts: QCOptions
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """sample_qc, pcs and king_pairs of every genotyped person from the provided tables."""
    iids = samples["IID"].astype(str)
    excl = read_table(files.exclusions, "sample exclusions", ("IID", "reason"))
    blank = excl["reason"].str.strip() == ""
    if blank.any():
        raise InputFormatError(
            f"{files.exclusions}: {int(blank.sum())} exclusion(s) without a reason, "
            f"e.g. IID {excl.loc[blank, 'IID'].iloc[0]}."
        )
    reason = excl.drop_duplicates("IID").set_index("IID")["reason"]
    fail = iids.map(reason).fillna("").to_numpy(dtype=object)

    pcs_in = read_table(files.pcs, "PCs", ("IID", "PC1"))
    pc_cols = [c for c in pcs_in.columns if c.startswith("PC") and c[2:].isdigit()]
    pcs_in = pcs_in.drop_duplicates("IID").set_index("IID")
    lacking = ~iids.isin(pcs_in.index)
    if lacking.any():
        raise InputFormatError(
            f"{files.pcs}: {int(lacking.sum())} genotyped sample(s) have no PCs, "
            f"e.g. {iids[lacking].iloc[0]}."
        )
    try:
        values = pcs_in.loc[iids, pc_cols].astype(float).to_numpy()
    except ValueError as exc:
        raise InputFormatError(f"{files.pcs}: PC values must be numbers ({exc}).") from exc

    king = _read_kinship(files.kinship)
    keep = set(iids[fail == ""])
    in_both = king["IID1"].isin(keep) & king["IID2"].isin(keep)
    related = king[in_both & (king["KINSHIP"] > opts.kinship)]
    fail[iids.isin(samples_to_remove(related)).to_numpy()] = "relatedness"
    n_relatives = pd.concat([related["IID1"], related["IID2"]]).value_counts()

    sample_qc = samples[["FID", "IID"]].copy()
    sample_qc["ancestry_group"] = np.where(fail == "", 0, -1)
    sample_qc["n_relatives"] = iids.map(n_relatives).fillna(0).astype(np.int64).to_numpy()
    sample_qc["qc_fail"] = fail
    pcs = samples[["FID", "IID"]].copy()
    pcs[pc_cols] = values
    pcs["pca_fit"] = False  # the biobank's PCA, not igs's
    return sample_qc, pcs, king


def no_qc(samples: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """``qc.source: none``: everyone passes, no PCs and no kinship."""
    sample_qc = samples[["FID", "IID"]].copy()
    sample_qc["ancestry_group"] = 0
    sample_qc["n_relatives"] = 0
    sample_qc["qc_fail"] = ""
    king = pd.DataFrame(columns=["IID1", "IID2", "KINSHIP"])
    return sample_qc, samples[["FID", "IID"]].copy(), king


def write_sample_qc(
    out_dir: PathLike,
    source: str,
    genotypes: str,
    sample_qc: pd.DataFrame,
    pcs: pd.DataFrame,
    king: pd.DataFrame,
    provided: ProvidedQC | None = None,
) -> None:
    """Write sample_qc, pcs, king_pairs and summary.json together (all or none)."""
    fail = sample_qc["qc_fail"]
    summary = {
        "source": source,
        "input": {"genotypes": genotypes, **({k: str(v) for k, v in vars(provided).items()} if provided else {})},
        "samples": {
            "input": len(sample_qc),
            "removed": {str(k): int(v) for k, v in fail[fail != ""].value_counts().sort_index().items()},
            "final": int((fail == "").sum()),
        },
        "pcs": [c for c in pcs.columns if c.startswith("PC")],
    }  # fmt: skip
    with atomic_paths([Path(out_dir) / f for f in SAMPLE_FILES]) as tmp:
        write_csv_gz(sample_qc, tmp[0], sep="\t")
        pcs.to_csv(tmp[1], sep="\t", index=False, float_format="%.8g")
        write_csv_gz(king, tmp[2], sep="\t")
        tmp[3].write_text(json.dumps(summary, indent=2) + "\n")


def _read_kinship(path: Path) -> pd.DataFrame:
    header = pd.read_csv(path, sep=r"\s+", nrows=0).columns if Path(path).is_file() else []
    names = next((c for c in KINSHIP_COLUMNS if set(c) <= set(header)), KINSHIP_COLUMNS[0])
    table = read_table(path, "kinship", names)
    try:
        kinship = table[names[2]].astype(float)
    except ValueError as exc:
        raise InputFormatError(f"{path}: kinship values must be numbers ({exc}).") from exc
    return pd.DataFrame({"IID1": table[names[0]], "IID2": table[names[1]], "KINSHIP": kinship})
