"""Helpers shared by the benchmark scripts: simulated data and measured subprocess runs."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

# Runs `cmd` in a child Python that reports the peak RSS of its own children.
_MEASURE = (
    "import resource, subprocess, sys\n"
    "rc = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)\n"
    "sys.stderr.write(rc.stderr.decode()[-2000:] if rc.returncode else '')\n"
    "ru = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
    "print(ru.ru_utime + ru.ru_stime)\n"
    "print(ru.ru_maxrss)\n"
    "sys.exit(rc.returncode)\n"
)


@dataclass
class Measured:
    wall_s: float
    peak_mb: float
    cpu_s: float = 0.0  # user + system CPU time: what a loaded machine changes least


def measure(cmd: list[str], cwd: Path | None = None) -> Measured:
    """Wall time and peak resident memory of one command (fails loudly if it fails)."""
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", _MEASURE, *cmd], capture_output=True, text=True, cwd=cwd
    )
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{proc.stderr}")
    cpu, peak = proc.stdout.strip().splitlines()[-2:]
    return Measured(wall, int(peak) / 1024, float(cpu))


def measure_all(cmds: list[list[str]], cwd: Path | None = None) -> Measured:
    """Summed wall time and the largest peak memory of a sequence of commands."""
    runs = [measure(c, cwd) for c in cmds]
    return Measured(
        sum(r.wall_s for r in runs), max(r.peak_mb for r in runs), sum(r.cpu_s for r in runs)
    )


def simulated_cohort(out: Path, n_samples: int, n_variants: int, seed: int = 7) -> Path:
    """Simulate (once) a cohort with `igs simulate`; returns the genotype prefix."""
    prefix = out / "cohort" / "genotypes"
    stamp = out / "cohort" / "spec.json"
    spec = {"n_samples": n_samples, "n_variants": n_variants, "seed": seed}
    if stamp.is_file() and json.loads(stamp.read_text()) == spec:
        return prefix
    chromosomes = ",".join(str(c) for c in range(1, 23))
    subprocess.run(
        [
            "igs", "simulate", "cohort", "--out-dir", str(out / "cohort"), "--name", "bench",
            "--n-samples", str(n_samples), "--cohort-seed", str(seed),
            "--ancestry-proportions", "0.8,0.15,0.05",
            "--n-variants", str(n_variants), "--chromosomes", chromosomes,
        ],
        check=True,
    )  # fmt: skip
    subprocess.run(
        [
            "igs", "simulate", "scores", "--out-dir", str(out / "scoring_files"),
            "--n-variants", str(n_variants), "--chromosomes", chromosomes,
        ],
        check=True,
    )  # fmt: skip
    stamp.write_text(json.dumps(spec))
    return prefix


def benchmark_arguments(
    description: str, extra: Callable[[argparse.ArgumentParser], None] | None = None
) -> argparse.Namespace:
    """The options every benchmark takes: cohort size, work folder, optional JSON output
    (``extra`` adds a script's own)."""
    parser = argparse.ArgumentParser(description=description)
    if extra is not None:
        extra(parser)
    parser.add_argument("--n-samples", type=int, default=5000)
    parser.add_argument("--n-variants", type=int, default=200_000)
    parser.add_argument("--work-dir", type=Path, default=Path("tmp/bench"))
    parser.add_argument("--json", type=Path, help="Also write the numbers here.")
    args = parser.parse_args()
    args.work_dir.mkdir(parents=True, exist_ok=True)
    return args


def report(title: str, rows: dict[str, Measured], peer: str, ours: str) -> dict:
    """Print a small table and the igs/peer ratios; return them as a dict."""
    print(f"\n{title}")
    print(f"{'tool':<24}{'wall s':>10}{'peak MB':>10}")
    for name, m in rows.items():
        print(f"{name:<24}{m.wall_s:>10.2f}{m.peak_mb:>10.0f}")
    ratio = {
        "wall_ratio": rows[ours].wall_s / rows[peer].wall_s,
        "memory_ratio": rows[ours].peak_mb / rows[peer].peak_mb,
    }
    print(
        f"{ours} / {peer}: wall {ratio['wall_ratio']:.2f}x, peak memory {ratio['memory_ratio']:.2f}x"
    )
    return ratio
