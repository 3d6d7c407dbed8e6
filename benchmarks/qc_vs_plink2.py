"""QC wall time and peak memory: igs local engine versus plink2 (and plink1.9 for --check-sex).

Same data and thresholds. plink2 needs several commands for what `igs qc run` does in one;
their wall times are summed and the largest peak memory is taken.

    python benchmarks/qc_vs_plink2.py --n-samples 5000 --n-variants 200000
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from benchmarks.common import benchmark_arguments, measure, measure_all, report, simulated_cohort


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


def main() -> None:
    args = benchmark_arguments(__doc__.splitlines()[0])
    prefix = simulated_cohort(args.work_dir, args.n_samples, args.n_variants)
    # warm the numba cache and the page cache so neither tool pays for the first read
    measure(
        ["igs", "qc", "run", "--genotypes", str(prefix), "--out-dir", str(args.work_dir / "warm")]
    )
    plink_out = args.work_dir / "plink"
    plink_out.mkdir(exist_ok=True)
    igs_cmd = ["igs", "qc", "run", "--genotypes", str(prefix), "--ancestry-groups", "3"]
    rows = {
        "plink2 + plink1.9": measure_all(plink_qc_commands(prefix, plink_out)),
        "igs qc run (local)": measure([*igs_cmd, "--out-dir", str(args.work_dir / "igs")]),
    }
    title = f"QC of {args.n_samples} samples x {args.n_variants} variants (2 threads)"
    ratio = report(title, rows, "plink2 + plink1.9", "igs qc run (local)")
    if args.json:
        args.json.write_text(json.dumps({k: vars(v) for k, v in rows.items()} | ratio, indent=2))


if __name__ == "__main__":
    main()
