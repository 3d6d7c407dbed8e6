"""Scan a run's files meant to leave the biobanks with the disclosure checker.

    python tools/scan_outgoing.py RESULTS_DIR [--min-cell 5]

For every biobank folder under RESULTS_DIR (one with a pheno/ folder), the outgoing files are its
share bundle and evaluate/*/model.json, plus the run's meta/, report.html and federated/ outputs;
they are checked for that biobank's person IDs (phenotype tables, QC'd .fam), its exact event and
censoring ages, dates and small counts (igs.share.disclosure.check_files). Prints each finding
and a count per biobank; exits 1 when anything is found.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

from igs.share.disclosure import check_files


def outgoing(results: Path, biobank: str) -> list[Path]:
    files = [results / biobank / "share", *sorted(results.glob(f"{biobank}/evaluate/*/model.json"))]
    files += [results / "meta", results / "report.html", *sorted(results.glob("federated/*/*"))]
    return [f for f in files if f.exists()]


def individuals(results: Path, biobank: str) -> tuple[set[str], list[float]]:
    """The biobank's person IDs and its exact event and censoring ages."""
    ids: set[str] = set()
    ages: list[float] = []
    for table in sorted((results / biobank / "pheno").glob("*.parquet")):
        t = pd.read_parquet(table)
        ids |= set(t["IID"].astype(str))
        ages += t["exit_age"].dropna().tolist()
    fam = results / biobank / "qc" / "genotypes.fam"
    if fam.is_file():
        ids |= set(pd.read_csv(fam, sep=r"\s+", header=None)[1].astype(str))
    return ids, ages


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", type=Path)
    parser.add_argument("--min-cell", type=int, default=5)
    args = parser.parse_args()
    found = 0
    for folder in sorted(p.parent for p in args.results.glob("*/pheno")):
        ids, ages = individuals(args.results, folder.name)
        files = outgoing(args.results, folder.name)
        findings = check_files(files, person_ids=ids, ages=ages, min_cell=args.min_cell)
        for f in findings:
            print(f"{folder.name}: {f}")
        print(f"{folder.name}: {len(files)} outgoing files/folders, {len(findings)} finding(s)")
        found += len(findings)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
