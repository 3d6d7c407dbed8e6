"""Compare two results folders file by file: bytes, DuckDB files by their tables' rows, and for
JSON files that differ, the keys that differ.

    python tools/compare_results.py BASELINE NEW [--ignore GLOB ...]

Prints the files only on one side and the files that differ (JSON: with the differing keys);
exits 1 when anything differs.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import sys
from pathlib import Path


def duckdb_rows(path: Path) -> dict[str, list[str]]:
    import duckdb

    with duckdb.connect(str(path), read_only=True) as con:
        tables = [t for (t,) in con.execute("SHOW TABLES").fetchall()]
        return {t: sorted(map(str, con.execute(f'FROM "{t}"').fetchall())) for t in tables}


def json_differences(a: object, b: object, where: str = "") -> list[str]:
    """Key paths at which two JSON values differ."""
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for key in sorted(set(a) | set(b), key=str):
            if key not in a or key not in b:
                out.append(f"{where}/{key} (only in {'new' if key not in a else 'baseline'})")
            else:
                out += json_differences(a[key], b[key], f"{where}/{key}")
        return out
    return [] if a == b else [where or "/"]


def compare(base: Path, new: Path, ignore: list[str]) -> list[str]:
    def files(root: Path) -> set[str]:
        names = {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}
        return {n for n in names if not any(fnmatch.fnmatch(n, g) for g in ignore)}

    a, b = files(base), files(new)
    problems = [f"only in baseline: {n}" for n in sorted(a - b)]
    problems += [f"only in new: {n}" for n in sorted(b - a)]
    for name in sorted(a & b):
        pa, pb = base / name, new / name
        if pa.suffix == ".duckdb":
            if duckdb_rows(pa) != duckdb_rows(pb):
                problems.append(f"differs (DuckDB rows): {name}")
        elif pa.read_bytes() != pb.read_bytes():
            if pa.suffix == ".json":
                keys = json_differences(json.loads(pa.read_text()), json.loads(pb.read_text()))
                problems.append(
                    f"differs: {name}: {', '.join(keys[:8])}{' ...' if len(keys) > 8 else ''}"
                )
            else:
                problems.append(f"differs: {name}")
    return problems


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("baseline", type=Path)
    parser.add_argument("new", type=Path)
    parser.add_argument(
        "--ignore", action="append", default=[], help="glob of relative paths to skip"
    )
    args = parser.parse_args()
    problems = compare(args.baseline, args.new, args.ignore)
    print("\n".join(problems) if problems else "identical")
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
