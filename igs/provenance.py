"""Provenance of a biobank's results: code, dependencies, configuration and input checksums.

``provenance.json`` holds the igs version and git commit, the versions of the key dependencies,
the resolved configuration with the SHA-256 of its canonical JSON, and the SHA-256 of every
input file (genotypes, scoring files, phenotype sources; a PostgreSQL source is named, with its
user and query removed, but cannot be checksummed). Every URL in the record is redacted
(:func:`igs.redact.redact_urls`) and the configuration checksum is that of the redacted text.
Share bundles and clinician exports carry a copy, so a number that leaves the biobank can be
traced to its inputs.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

from igs.config import genotype_parts, part_file, scoring_files
from igs.io.formats import GENOTYPE_SUFFIXES

PROVENANCE_VERSION = 1
KEY_DEPENDENCIES = (
    "snakemake", "hail", "numpy", "pandas", "scipy", "lifelines", "xgboost", "scikit-learn",
    "scikit-survival", "bed-reader", "pgenlib", "numba", "duckdb", "psycopg",
)  # fmt: skip


def sha256_file(path: str | Path, chunk: int = 1 << 22) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def git_commit() -> str | None:
    """The commit of the igs checkout, when igs runs from one (None for an installed wheel)."""
    root = Path(__file__).resolve().parents[1]
    try:
        out = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if out.returncode != 0:
        return None
    dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                           capture_output=True, text=True, timeout=10).stdout.strip()  # fmt: skip
    return out.stdout.strip() + ("+dirty" if dirty else "")


def dependency_versions() -> dict[str, str | None]:
    versions: dict[str, str | None] = {}
    for name in KEY_DEPENDENCIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def input_files(biobank: dict[str, Any], scoring_files: list[str]) -> list[str]:
    """Every local input file of one biobank (genotypes, scoring files, phenotype sources)."""
    g = biobank["genotypes"]
    parts = genotype_parts(g)
    files = [p + s for p in parts.values() for s in GENOTYPE_SUFFIXES[g["format"]]]
    files += [
        f for key in ("sample", "info_file") for c in parts if (f := part_file(g.get(key), c))
    ]
    files += list(scoring_files)
    ph = biobank.get("phenotypes", {"source": "none"})  # a scores-only biobank has none
    if ph["source"] == "omop":
        if not ph["omop_url"].startswith(("postgresql://", "postgres://")):
            files.append(ph["omop_url"])
    elif ph["source"] == "table":
        files += [ph[k] for k in ("clinical", "diagnoses", "omics") if k in ph]
    return files


def reference_files(reference: dict[str, Any] | None) -> list[str]:
    """The files of the shared reference panel (``scores.ancestry_reference``), if any."""
    if not reference:
        return []
    g = reference["genotypes"]
    files = [g["path"] + s for s in GENOTYPE_SUFFIXES[g["format"]]]
    return [*files, *([g["sample"]] if "sample" in g else []), reference["populations"]]


def provenance(config: dict[str, Any], biobank_name: str) -> dict[str, Any]:
    """The provenance record of one biobank's results (see the module docstring)."""
    import igs
    from igs.config import get_biobank
    from igs.redact import redact_url, redact_urls

    bb = get_biobank(config, biobank_name)
    canonical = redact_urls(json.dumps(config, sort_keys=True, separators=(",", ":"), default=str))
    files = input_files(bb, scoring_files(config, biobank_name))
    files += reference_files(config.get("scores", {}).get("ancestry_reference"))
    record: dict[str, Any] = {
        "provenance_version": PROVENANCE_VERSION,
        "biobank": biobank_name,
        "igs_version": igs.__version__,
        "git_commit": git_commit(),
        "dependencies": dependency_versions(),
        "config_sha256": hashlib.sha256(canonical.encode()).hexdigest(),
        "config": json.loads(canonical),
        "inputs": {f: sha256_file(f) for f in files},
    }
    ph = bb.get("phenotypes", {"source": "none"})
    if ph["source"] == "omop" and ph["omop_url"].startswith(("postgresql://", "postgres://")):
        record["inputs"][redact_url(ph["omop_url"])] = None  # a server: no checksum
    return record
