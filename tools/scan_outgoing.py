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

from igs.share.disclosure import check_files, individuals, outgoing_files


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", type=Path)
    parser.add_argument("--min-cell", type=int, default=5)
    args = parser.parse_args()
    found = 0
    for folder in sorted(p.parent for p in args.results.glob("*/pheno")):
        ids, ages = individuals(args.results, folder.name)
        files = outgoing_files(args.results, folder.name)
        findings = check_files(files, person_ids=ids, ages=ages, min_cell=args.min_cell)
        for f in findings:
            print(f"{folder.name}: {f}")
        print(f"{folder.name}: {len(files)} outgoing files/folders, {len(findings)} finding(s)")
        found += len(findings)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
