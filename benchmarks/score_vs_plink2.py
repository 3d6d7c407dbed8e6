"""Scoring wall time and peak memory: `igs scores match` + `compute` versus `plink2 --score`.

Ten genome-wide scores (each on a random 10-100% of the cohort's variants, like LDpred/PRS-CS
scores) are written once as PGS Catalog files for igs and as one multi-column file for plink2
(`--score-col-nums`, weight 0 where a variant is not in a score). Both tools mean-impute missing
calls and use 2 threads. The script also checks that the SUMs agree.

    python -m benchmarks.score_vs_plink2 --n-samples 5000 --n-variants 200000
"""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd

from benchmarks.common import benchmark_arguments, measure, report, simulated_cohort
from igs.io.plink import read_bim

N_SCORES = 10


def write_scores(prefix: Path, out: Path, seed: int = 11) -> tuple[list[Path], Path]:
    """The PGS Catalog files (one per score) and the plink2 multi-column file for the same weights."""
    out.mkdir(parents=True, exist_ok=True)
    bim = read_bim(f"{prefix}.bim")
    rng = np.random.default_rng(seed)
    effect_is_a1 = rng.random(len(bim)) < 0.5
    effect = np.where(effect_is_a1, bim["a1"], bim["a2"])
    other = np.where(effect_is_a1, bim["a2"], bim["a1"])
    weights = np.zeros((len(bim), N_SCORES))
    paths = []
    for k in range(N_SCORES):
        share = 0.1 + 0.9 * k / (N_SCORES - 1)
        used = rng.random(len(bim)) < share
        weights[used, k] = rng.normal(0, 0.01, used.sum()).round(6)
        rows = pd.DataFrame(
            {
                "rsID": bim["id"][used],
                "chr_name": bim["chrom"][used],
                "chr_position": bim["pos"][used],
                "effect_allele": effect[used],
                "other_allele": other[used],
                "effect_weight": weights[used, k],
            }
        )
        path = out / f"BENCH{k:02d}.txt.gz"
        header = f"#format_version=2.0\n#pgs_id=BENCH{k:02d}\n#genome_build=GRCh38\n"
        with gzip.open(path, "wt") as fh:
            fh.write(header)
            rows.to_csv(fh, sep="\t", index=False)
        paths.append(path)
    plink_file = out / "plink_scores.tsv"
    table = pd.DataFrame(weights, columns=[f"BENCH{k:02d}" for k in range(N_SCORES)])
    table.insert(0, "A1", effect)
    table.insert(0, "ID", bim["id"])
    table.to_csv(plink_file, sep="\t", index=False)
    return paths, plink_file


def compare_sums(igs_scores: Path, plink_sscore: Path) -> float:
    """Largest absolute difference between igs's and plink2's SUM over all samples and scores."""
    ours = pd.read_csv(igs_scores, sep="\t").pivot(index="IID", columns="pgs_id", values="SUM")
    theirs = pd.read_csv(plink_sscore, sep="\t").set_index("IID")
    diffs = [
        np.abs(ours[c].to_numpy() - theirs.loc[ours.index, f"{c}_SUM"].to_numpy()).max()
        for c in ours.columns
    ]
    return float(max(diffs))


def main() -> None:
    args = benchmark_arguments(__doc__.splitlines()[0])
    prefix = simulated_cohort(args.work_dir, args.n_samples, args.n_variants)
    out = args.work_dir / "score"
    pgs_files, plink_file = write_scores(prefix, out / "scoring_files")
    geno = ["--genotypes", str(prefix)]
    match_cmd = ["igs", "scores", "match", *geno, "--genome-build", "GRCh38", "--keep-ambiguous",
                 "--report", str(out / "match_report.tsv.gz"),
                 "--summary", str(out / "match_summary.tsv"), *map(str, pgs_files)]  # fmt: skip
    compute_cmd = ["igs", "scores", "compute", *geno, "--report", str(out / "match_report.tsv.gz"),
                   "--out", str(out / "scores.tsv.gz")]  # fmt: skip
    plink_cmd = [shutil.which("plink2"), "--bfile", str(prefix), "--threads", "2",
                 "--score", str(plink_file), "1", "2", "header-read", "cols=+scoresums",
                 "--score-col-nums", f"3-{2 + N_SCORES}", "--out", str(out / "plink")]  # fmt: skip
    measure(compute_cmd if (out / "match_report.tsv.gz").is_file() else match_cmd)  # warm caches
    match = measure(match_cmd)
    compute = measure(compute_cmd)
    plink = measure(plink_cmd)
    rows = {
        "plink2 --score": plink,
        "igs scores match": match,
        "igs scores compute": compute,
        "igs match + compute": type(match)(
            match.wall_s + compute.wall_s, max(match.peak_mb, compute.peak_mb)
        ),
    }
    title = (
        f"{N_SCORES} scores on {args.n_samples} samples x {args.n_variants} variants (2 threads)"
    )
    ratio = report(title, rows, "plink2 --score", "igs match + compute")
    compute_ratio = compute.wall_s / plink.wall_s
    print(f"igs scores compute alone / plink2: wall {compute_ratio:.2f}x")
    max_diff = compare_sums(out / "scores.tsv.gz", out / "plink.sscore")
    print(f"largest |igs SUM - plink2 SUM|: {max_diff:.2e}")
    if args.json:
        numbers = {k: vars(v) for k, v in rows.items()} | ratio
        args.json.write_text(json.dumps(numbers | {"max_abs_sum_diff": max_diff}, indent=2))


if __name__ == "__main__":
    main()
