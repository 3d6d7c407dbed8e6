"""Scale curve: QC + scoring wall time and peak memory against samples and variants, with plink2.

Two sweeps on simulated cohorts (22 autosomes + chrX, three ancestries):
samples (default 1k, 5k, 20k, 50k at 50k variants) and variants (50k, 200k, 1M at 5k samples).
At each point it times `igs qc run`, then `igs scores match` + `igs scores compute` of ten
genome-wide scores on the QC'd genotypes, and the plink2/plink1.9 commands that do the same
(`benchmarks.qc_vs_plink2` with `--pca approx`, plink2's randomized PCA for large cohorts,
as igs's is randomized too; `benchmarks.score_vs_plink2`). It writes `scale.tsv` (one row per
point, step and tool), `scale.png` (log-log wall time and peak memory against size) and prints
each step's growth exponent (least-squares slope of log time on log size).

    python -m benchmarks.scale                          # the full grid (hours on 2 cores)
    python -m benchmarks.scale --samples 1000,5000 --variants 50000 --base-samples 1000

Each point's numbers are saved as soon as they are measured (`points/`), so an interrupted run
continues where it stopped. Run it on an otherwise idle machine: every tool uses 2 threads.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd

from benchmarks.common import Measured, measure, measure_all, simulated_cohort
from benchmarks.qc_vs_plink2 import plink_qc_commands
from benchmarks.score_vs_plink2 import N_SCORES, compare_sums, write_scores

STEPS = {  # step -> (igs tool, peer tool)
    "qc": ("igs qc run", "plink2 + plink1.9"),
    "scoring": ("igs scores match + compute", "plink2 --score"),
}


def parse_sizes(text: str) -> list[int]:
    return [int(float(x)) for x in text.split(",") if x]


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=parse_sizes, default=[1000, 5000, 20000, 50000])
    parser.add_argument("--variants", type=parse_sizes, default=[50_000, 200_000, 1_000_000])
    parser.add_argument(
        "--base-samples", type=int, default=5000, help="Samples of the variant sweep."
    )
    parser.add_argument(
        "--base-variants", type=int, default=50_000, help="Variants of the sample sweep."
    )
    parser.add_argument("--work-dir", type=Path, default=Path("tmp/bench/scale"))
    parser.add_argument(
        "--keep-data", action="store_true", help="Keep each point's simulated cohort (disk heavy)."
    )
    return parser.parse_args()


def grid(args: argparse.Namespace) -> list[tuple[int, int]]:
    """The (samples, variants) points of both sweeps, smallest first, each once."""
    points = {(n, args.base_variants) for n in args.samples}
    points |= {(args.base_samples, m) for m in args.variants}
    return sorted(points, key=lambda p: (p[0] * p[1], p))


def measure_point(n: int, m: int, work: Path) -> list[dict]:
    """Simulate one cohort and time QC and scoring with igs and with plink2."""
    prefix = simulated_cohort(work, n, m)
    qc_dir, plink_dir, score_dir = work / "igs_qc", work / "plink_qc", work / "score"
    for d in (qc_dir, plink_dir, score_dir):
        d.mkdir(parents=True, exist_ok=True)
    qc_cmd = ["igs", "qc", "run", "--genotypes", str(prefix), "--ancestry-groups", "3",
              "--out-dir", str(qc_dir)]  # fmt: skip
    rows = {
        ("qc", "igs"): measure(qc_cmd),
        ("qc", "peer"): measure_all(plink_qc_commands(prefix, plink_dir, ("approx", "10"))),
    }
    qc_prefix = qc_dir / "genotypes"
    pgs_files, plink_file = write_scores(qc_prefix, score_dir / "scoring_files")
    report = score_dir / "match_report.tsv.gz"
    match = measure(
        ["igs", "scores", "match", "--genotypes", str(qc_prefix), "--genome-build", "GRCh38",
         "--keep-ambiguous", "--report", str(report), "--summary", str(score_dir / "summary.tsv"),
         *map(str, pgs_files)]
    )  # fmt: skip
    compute = measure(
        ["igs", "scores", "compute", "--genotypes", str(qc_prefix), "--report", str(report),
         "--out", str(score_dir / "scores.tsv.gz")]
    )  # fmt: skip
    rows[("scoring", "igs")] = Measured(
        match.wall_s + compute.wall_s, max(match.peak_mb, compute.peak_mb)
    )
    rows[("scoring", "peer")] = measure(
        [shutil.which("plink2"), "--bfile", str(qc_prefix), "--threads", "2",
         "--score", str(plink_file), "1", "2", "header-read", "cols=+scoresums",
         "--score-col-nums", f"3-{2 + N_SCORES}", "--out", str(score_dir / "plink")]
    )  # fmt: skip
    max_diff = compare_sums(score_dir / "scores.tsv.gz", score_dir / "plink.sscore")
    if max_diff > 1e-3:
        raise SystemExit(f"igs and plink2 scores differ by {max_diff} at {n} x {m}")
    return [
        {"n_samples": n, "n_variants": m, "step": step, "tool": STEPS[step][who == "peer"],
         "wall_s": round(r.wall_s, 3), "peak_mb": round(r.peak_mb, 1)}
        for (step, who), r in rows.items()
    ]  # fmt: skip


def growth_exponents(table: pd.DataFrame, args: argparse.Namespace) -> pd.DataFrame:
    """Slope of log(wall) and log(peak memory) on log(size) for each sweep, step and tool."""
    out = []
    sweeps = {
        "samples": (table["n_variants"] == args.base_variants, "n_samples"),
        "variants": (table["n_samples"] == args.base_samples, "n_variants"),
    }
    for sweep, (rows, size) in sweeps.items():
        for (step, tool), t in table[rows].groupby(["step", "tool"], sort=False):
            if t[size].nunique() < 2:
                continue
            x = np.log(t[size].to_numpy(float))
            out.append(
                {
                    "sweep": sweep,
                    "step": step,
                    "tool": tool,
                    "sizes": f"{t[size].min()}-{t[size].max()}",
                    "time_exponent": np.polyfit(x, np.log(t["wall_s"]), 1)[0],
                    "memory_exponent": np.polyfit(x, np.log(t["peak_mb"]), 1)[0],
                }
            )
    return pd.DataFrame(out)


def plot(table: pd.DataFrame, args: argparse.Namespace, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    fig, axes = plt.subplots(2, 2, figsize=(10, 8))
    sweeps = [
        (table["n_variants"] == args.base_variants, "n_samples", f"samples ({args.base_variants:,} variants)"),
        (table["n_samples"] == args.base_samples, "n_variants", f"variants ({args.base_samples:,} samples)"),
    ]  # fmt: skip
    for col, (rows, size, label) in enumerate(sweeps):
        for row, (value, ylabel) in enumerate(
            (("wall_s", "wall time (s)"), ("peak_mb", "peak memory (MB)"))
        ):
            ax = axes[row, col]
            for (_step, tool), t in table[rows].groupby(["step", "tool"], sort=False):
                t = t.sort_values(size)
                style = "-o" if tool.startswith("igs") else "--s"
                ax.plot(t[size], t[value], style, label=tool)
            ax.set_xscale("log")
            ax.set_yscale("log")
            sizes = sorted(table.loc[rows, size].unique())
            ax.set_xticks(sizes, [f"{v / 1e6:g}M" if v >= 1e6 else f"{v / 1e3:g}k" for v in sizes])
            ax.xaxis.set_minor_locator(matplotlib.ticker.NullLocator())
            ax.set_xlabel(label)
            ax.set_ylabel(ylabel)
            ax.grid(True, which="both", alpha=0.3)
    axes[0, 0].legend(fontsize=8)
    fig.suptitle("igs vs plink2, QC and 10 scores, 2 threads")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    args = arguments()
    points_dir = args.work_dir / "points"
    points_dir.mkdir(parents=True, exist_ok=True)
    points = grid(args)
    # the first igs run also compiles the numba kernels into the cache: do it off the clock
    warm = args.work_dir / "warm"
    prefix = simulated_cohort(warm, 500, 5000)
    measure(["igs", "qc", "run", "--genotypes", str(prefix), "--out-dir", str(warm / "qc")])
    rows = []
    for n, m in points:
        saved = points_dir / f"n{n}_m{m}.json"
        if not saved.is_file():
            print(f"measuring {n:,} samples x {m:,} variants", flush=True)
            work = args.work_dir / f"n{n}_m{m}"
            point = measure_point(n, m, work)
            saved.write_text(json.dumps(point, indent=1))
            if not args.keep_data:
                shutil.rmtree(work)
        rows += json.loads(saved.read_text())
    table = pd.DataFrame(rows)
    table = table[
        [(n, m) in points for n, m in zip(table["n_samples"], table["n_variants"], strict=True)]
    ]
    table.to_csv(args.work_dir / "scale.tsv", sep="\t", index=False)
    plot(table, args, args.work_dir / "scale.png")
    pd.set_option("display.width", 200)
    print(f"\nQC and scoring ({N_SCORES} scores), wall s and peak MB, 2 threads")
    print(table.to_string(index=False))
    for step, (ours, peer) in STEPS.items():
        t = table[table["step"] == step].set_index(["n_samples", "n_variants", "tool"])
        ratio = (t.xs(ours, level="tool")["wall_s"] / t.xs(peer, level="tool")["wall_s"]).round(2)
        print(f"\n{step}: igs / peer wall time\n{ratio.to_string()}")
    exps = growth_exponents(table, args)
    print("\ngrowth exponents (time ~ size^k, memory ~ size^k)")
    print(exps.round(2).to_string(index=False))
    exps.to_csv(args.work_dir / "scale_exponents.tsv", sep="\t", index=False)
    print(f"\nwrote {args.work_dir / 'scale.tsv'} and {args.work_dir / 'scale.png'}")


if __name__ == "__main__":
    main()
