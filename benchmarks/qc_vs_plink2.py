"""QC wall time and peak memory: igs local engine versus plink2 (and plink1.9 for --check-sex).

Same data and thresholds. plink2 needs several commands for what `igs qc run` does in one;
their wall times are summed and the largest peak memory is taken.

    python -m benchmarks.qc_vs_plink2 --n-samples 5000 --n-variants 200000 --repeats 3
"""

from __future__ import annotations

import json
import shutil
import statistics
from pathlib import Path

from benchmarks.common import (
    Measured,
    benchmark_arguments,
    measure,
    measure_all,
    report,
    simulated_cohort,
)


def plink_qc_commands(prefix: Path, out: Path, pca: tuple[str, ...] = ("10",)) -> list[list[str]]:
    """The plink2/plink1.9 commands equivalent to igs's default QC.

    ``pca`` are the ``--pca`` arguments: plink2's default is an exact eigendecomposition of the
    n x n relationship matrix; ``("approx", "10")`` is its randomized method for large cohorts.
    """
    plink2, plink19 = shutil.which("plink2"), shutil.which("plink1.9")
    b = ["--bfile", str(prefix), "--threads", "2"]
    return [
        [plink2, *b, "--missing", "--freq", "--hardy", "midp", "--het", "--out", f"{out}/stats"],
        [plink2, *b, "--mind", "0.02", "--geno", "0.02", "--maf", "0.01",
         "--indep-pairwise", "50", "5", "0.2", "--out", f"{out}/prune"],
        [plink19, "--bfile", str(prefix), "--check-sex", "--out", f"{out}/sex"],
        # igs uses at most qc.max_pca_variants (20,000) pruned variants for KING and PCA
        [plink2, *b, "--extract", f"{out}/prune.prune.in", "--thin-count", "20000", "--seed", "1",
         "--mind", "0.02",
         "--make-king-table", "--king-table-filter", "0.0442", "--pca", *pca, "--out", f"{out}/king"],
        [plink2, *b, "--mind", "0.02", "--geno", "0.02", "--maf", "0.01", "--hwe", "1e-6", "midp",
         "--make-bed", "--out", f"{out}/qc"],
    ]  # fmt: skip


def qc_options(parser) -> None:
    parser.add_argument(
        "--repeats", type=int, default=3, help="Runs of each tool, interleaved; medians reported."
    )
    parser.add_argument(
        "--plink-pca",
        choices=("exact", "approx"),
        default="exact",
        help="plink2 --pca method (exact needs an n x n matrix: use approx from ~20,000 samples).",
    )


def median_run(runs: list[Measured]) -> Measured:
    """Median wall time, peak memory and CPU time of repeated runs."""
    return Measured(
        statistics.median(r.wall_s for r in runs),
        statistics.median(r.peak_mb for r in runs),
        statistics.median(r.cpu_s for r in runs),
    )


def warm_up(work_dir: Path, prefix: Path) -> None:
    """Compile (or load) igs's numba kernels on a small cohort and read the benchmark fileset
    once, so that neither tool pays for the first read and igs not for compilation (a full
    warm-up run took as long as the benchmark at 50k samples)."""
    small = simulated_cohort(work_dir / "warm_cohort", 600, 5000)
    measure(["igs", "qc", "run", "--genotypes", str(small), "--out-dir", str(work_dir / "warm")])
    for suffix in (".bed", ".bim", ".fam"):
        with open(f"{prefix}{suffix}", "rb") as f:
            while f.read(1 << 24):
                pass


def main() -> None:
    args = benchmark_arguments(__doc__.splitlines()[0], qc_options)
    prefix = simulated_cohort(args.work_dir, args.n_samples, args.n_variants)
    warm_up(args.work_dir, prefix)
    plink_out = args.work_dir / "plink"
    plink_out.mkdir(exist_ok=True)
    pca = ("approx", "10") if args.plink_pca == "approx" else ("10",)
    igs_cmd = ["igs", "qc", "run", "--genotypes", str(prefix), "--ancestry-groups", "3"]
    runs: dict[str, list[Measured]] = {"plink2 + plink1.9": [], "igs qc run (local)": []}
    for i in range(args.repeats):
        runs["plink2 + plink1.9"].append(measure_all(plink_qc_commands(prefix, plink_out, pca)))
        runs["igs qc run (local)"].append(
            measure([*igs_cmd, "--out-dir", str(args.work_dir / "igs")])
        )
        print(
            f"repeat {i + 1}: "
            + ", ".join(
                f"{k} {v[-1].wall_s:.1f} s wall {v[-1].cpu_s:.1f} s CPU {v[-1].peak_mb:.0f} MB"
                for k, v in runs.items()
            ),
            flush=True,
        )
    rows = {k: median_run(v) for k, v in runs.items()}
    title = (
        f"QC of {args.n_samples} samples x {args.n_variants} variants (2 threads; median of "
        f"{args.repeats}; plink2 --pca {args.plink_pca})"
    )
    ratio = report(title, rows, "plink2 + plink1.9", "igs qc run (local)")
    peer, ours = rows["plink2 + plink1.9"], rows["igs qc run (local)"]
    ratio["cpu_ratio"] = ours.cpu_s / peer.cpu_s
    print(
        f"CPU time (user + system): igs {ours.cpu_s:.1f} s, plink {peer.cpu_s:.1f} s, "
        f"ratio {ratio['cpu_ratio']:.2f}x"
    )
    if args.json:
        out = {k: [vars(r) for r in v] for k, v in runs.items()}
        args.json.write_text(
            json.dumps(out | {"median": {k: vars(v) for k, v in rows.items()}} | ratio, indent=2)
        )


if __name__ == "__main__":
    main()
