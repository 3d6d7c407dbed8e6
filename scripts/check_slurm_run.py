"""Checks of a workflow run through SLURM, for scripts/test-slurm.sh.

Every job snakemake submitted must appear in SLURM's job completion log as COMPLETED, their
number must equal the workflow's jobs less its local rules, at least two of them must have
overlapped in time, and every result file must equal the local run's byte for byte.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

# snakemake-executor-plugin-slurm: "Job 4 has been submitted with SLURM jobid 5 (log: ...)."
SUBMITTED = re.compile(r"has been submitted with SLURM jobid (\d+)")
# The workflow's rules that snakemake runs itself (target rules), not through SLURM.
LOCAL_RULES = frozenset({"all"})
# DuckDB files record their own block layout, so their bytes (and the hash provenance.json keeps
# of them) differ between two runs; the tables read from them are compared instead.
UNCOMPARED_SUFFIXES = (".duckdb",)


@dataclass(frozen=True)
class SlurmJob:
    """One finished job from the jobcomp/filetxt log."""

    job_id: int
    state: str
    start: datetime
    end: datetime


def read_jobcomp(path: Path) -> dict[int, SlurmJob]:
    """Jobs of a ``JobCompType=jobcomp/filetxt`` log (``Key=value`` pairs, one job a line)."""
    jobs = {}
    for line in path.read_text().splitlines():
        fields = dict(re.findall(r"(\w+)=(\S*)", line))
        if "JobId" not in fields:
            continue
        job = SlurmJob(
            job_id=int(fields["JobId"]),
            state=fields["JobState"],
            start=datetime.fromisoformat(fields["StartTime"]),
            end=datetime.fromisoformat(fields["EndTime"]),
        )
        jobs[job.job_id] = job
    return jobs


def job_counts(log: str) -> dict[str, int]:
    """The first "Job stats" table of a snakemake log: rule -> number of jobs."""
    counts: dict[str, int] = {}
    lines = log.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("Job stats:"))
    for line in lines[start + 3 :]:
        parts = line.split()
        if len(parts) != 2 or not parts[1].isdigit():
            break
        counts[parts[0]] = int(parts[1])
    return counts


def overlapping_pairs(jobs: list[SlurmJob]) -> list[tuple[int, int]]:
    """Pairs of jobs whose run intervals intersect (seconds resolution, strict)."""
    ordered = sorted(jobs, key=lambda j: j.start)
    return [
        (a.job_id, b.job_id)
        for i, a in enumerate(ordered)
        for b in ordered[i + 1 :]
        if b.start < a.end
    ]


def file_digest(path: Path) -> str:
    """sha256 of a file; of provenance.json without the hashes of uncompared inputs."""
    data = path.read_bytes()
    if path.name == "provenance.json":
        record = json.loads(data)
        record["inputs"] = {
            k: v for k, v in record["inputs"].items() if not k.endswith(UNCOMPARED_SUFFIXES)
        }
        data = json.dumps(record, sort_keys=True).encode()
    return hashlib.sha256(data).hexdigest()


def file_digests(root: Path) -> dict[str, str]:
    """Digest of every result file under root, keyed by its relative path."""
    return {
        str(p.relative_to(root)): file_digest(p)
        for p in sorted(root.rglob("*"))
        if p.is_file() and not p.name.endswith(UNCOMPARED_SUFFIXES)
    }


def check(jobcomp: Path, snakemake_log: Path, local: Path, slurm: Path) -> list[str]:
    """Problems found (empty when the run passes), printing what was checked."""
    problems = []
    log = snakemake_log.read_text()
    submitted = {int(x) for x in SUBMITTED.findall(log)}
    counts = job_counts(log)
    expected = sum(n for rule, n in counts.items() if rule not in LOCAL_RULES | {"total"})
    jobs = read_jobcomp(jobcomp)
    print(f"workflow jobs outside local rules: {expected}; submitted to SLURM: {len(submitted)}")
    if len(submitted) != expected:
        problems.append(f"{len(submitted)} jobs submitted to SLURM, the workflow has {expected}")
    missing = sorted(submitted - jobs.keys())
    if missing:
        problems.append(f"SLURM jobs {missing} are not in the completion log {jobcomp}")
    failed = [j for j in jobs.values() if j.job_id in submitted and j.state != "COMPLETED"]
    if failed:
        problems.append(f"SLURM jobs not COMPLETED: {[(j.job_id, j.state) for j in failed]}")
    ran = [jobs[i] for i in sorted(submitted & jobs.keys())]
    pairs = overlapping_pairs(ran)
    print(f"SLURM job pairs that overlapped in time: {len(pairs)} (e.g. {pairs[:3]})")
    if not pairs:
        problems.append("no two SLURM jobs overlapped in time")
    ours, theirs = file_digests(local), file_digests(slurm)
    print(f"result files compared: {len(ours)} local, {len(theirs)} SLURM")
    if ours.keys() != theirs.keys():
        problems.append(f"different result files: {sorted(ours.keys() ^ theirs.keys())}")
    differ = sorted(k for k in ours.keys() & theirs.keys() if ours[k] != theirs[k])
    if differ:
        problems.append(f"result files that differ from the local run: {differ}")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jobcomp", type=Path, required=True)
    parser.add_argument("--snakemake-log", type=Path, required=True)
    parser.add_argument("--local", type=Path, required=True, help="results/ of the local run")
    parser.add_argument("--slurm", type=Path, required=True, help="results/ of the SLURM run")
    args = parser.parse_args(argv)
    problems = check(args.jobcomp, args.snakemake_log, args.local, args.slurm)
    for p in problems:
        print(f"FAILED: {p}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
