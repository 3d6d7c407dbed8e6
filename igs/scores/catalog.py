"""Resolve ``scores.pgs_ids`` to scoring files in ``scores.cache_dir``.

For each PGS Catalog ID the harmonised file for the target's build is chosen, as the PGS
Catalog names it (``PGS000586_hmPOS_GRCh38.txt.gz``), flat in the cache folder or in the
Catalog's FTP layout (``PGS000586/ScoreFiles/Harmonized/...``). Nothing is downloaded: a
missing file is an error that says how to fetch it (``pgscatalog-download``, from
pgscatalog-core, writes exactly these names).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from igs.errors import InputFormatError

PGS_ID = re.compile(r"PGS\d{6}\Z")
BUILDS = ("GRCh37", "GRCh38")


def harmonised_name(pgs_id: str, build: str) -> str:
    return f"{pgs_id}_hmPOS_{build}.txt.gz"


def resolve_pgs_ids(
    pgs_ids: list[str] | tuple[str, ...], cache_dir: str | os.PathLike[str], build: str
) -> list[Path]:
    """The harmonised scoring file for each ID on ``build``, in the order given."""
    cache = Path(cache_dir)
    if build not in BUILDS:  # the config schema allows only these
        raise ValueError(f"genome build {build!r}: harmonised files exist for {BUILDS}")
    if not cache.is_dir():
        raise InputFormatError(f"{cache}: scores.cache_dir not found (needed for scores.pgs_ids).")
    out = []
    for pgs_id in pgs_ids:
        if not PGS_ID.match(pgs_id):
            raise InputFormatError(
                f"scores.pgs_ids: {pgs_id!r} is not a PGS Catalog ID (PGS + 6 digits)."
            )
        name = harmonised_name(pgs_id, build)
        candidates = [
            cache / name,
            cache / pgs_id / name,
            cache / pgs_id / "ScoreFiles" / "Harmonized" / name,
        ]
        found = next((p for p in candidates if p.is_file()), None)
        if found is None:
            others = sorted(p.name for p in cache.rglob(f"{pgs_id}*") if p.is_file())
            hint = f" (the cache has {', '.join(others)})" if others else ""
            raise InputFormatError(
                f"{cache / name}: {pgs_id} for {build} is not in scores.cache_dir{hint}, and igs does "
                f"not download while offline. Fetch it with `pgscatalog-download --pgs {pgs_id} "
                f"--build {build} -o {cache}`."
            )
        out.append(found)
    return out
