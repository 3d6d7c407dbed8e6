"""Scoring wall time and peak memory: `igs scores match` + `compute` versus `plink2 --score`.

Ten genome-wide scores (each on a random 10-100% of the cohort's variants, like LDpred/PRS-CS
scores) are written once as PGS Catalog files for igs and as one multi-column file for plink2
(`--score-col-nums`, weight 0 where a variant is not in a score). Both tools mean-impute missing
calls and use 2 threads. The script also checks that the SUMs agree. igs is timed twice: with
the match report (``match --report`` + ``compute --report``) and as the workflow runs it
(``match --part all --weights`` + ``compute --weights --part all``, no report parsing).

    python -m benchmarks.score_vs_plink2 --n-samples 5000 --n-variants 200000

``--dosages`` scores imputed dosages instead (:mod:`benchmarks.dosage_scores` makes them): igs
on the pgen against ``plink2 --pfile --score`` on the same pgen, and igs reading the VCF
(``FORMAT/DS``) against plink2's VCF import + score, as pgsc_calc runs it. ``--per-chrom`` adds
the same on one file per chromosome (igs matches per file and sums; plink2 imports per file).

    python -m benchmarks.score_vs_plink2 --dosages --per-chrom --n-samples 2000 --n-variants 100000
"""

from __future__ import annotations

import gzip
import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from benchmarks.common import (
    Measured,
    benchmark_arguments,
    measure,
    measure_all,
    report,
    simulated_cohort,
)
from igs.io.chroms import chrom_sort_key
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
    theirs = pd.read_csv(plink_sscore, sep="\t").rename(columns={"#IID": "IID"}).set_index("IID")
    diffs = [
        np.abs(ours[c].to_numpy() - theirs.loc[ours.index, f"{c}_SUM"].to_numpy()).max()
        for c in ours.columns
    ]
    return float(max(diffs))


def median_run(runs: list[Measured]) -> Measured:
    """The median wall time of repeated runs and the largest peak memory."""
    return Measured(
        float(np.median([r.wall_s for r in runs])),
        max(r.peak_mb for r in runs),
        float(np.median([r.cpu_s for r in runs])),
    )


def dosage_options(parser) -> None:
    parser.add_argument(
        "--dosages", action="store_true", help="Score imputed dosages (pgen, VCF DS)."
    )
    parser.add_argument(
        "--per-chrom", action="store_true", help="With --dosages: also per-chromosome files."
    )
    parser.add_argument(
        "--inputs", default="pgen,vcf", help="With --dosages: the inputs to time (pgen, vcf)."
    )
    parser.add_argument(
        "--repeats", type=int, default=3, help="Runs of each command; the median wall time."
    )


def plink2_score_args(plink_file: Path, out: Path) -> list[str]:
    return ["--threads", "2", "--score", str(plink_file), "1", "2", "header-read",
            "cols=+scoresums", "--score-col-nums", f"3-{2 + N_SCORES}", "--out", str(out)]  # fmt: skip


def dosage_benchmark(args, prefix: Path, out: Path) -> None:
    """igs against plink2 on the same dosage files (pgen, VCF; merged and per chromosome)."""
    from benchmarks.dosage_scores import make_dosage_files

    inputs = set(args.inputs.split(","))
    files = make_dosage_files(prefix, out / "dosages", vcf="vcf" in inputs)
    pgs_files, plink_file = write_scores(prefix, out / "scoring_files")
    plink2 = shutil.which("plink2")
    chroms = sorted(
        {p.name.split(".")[0][3:] for p in (out / "dosages").glob("chr*.pgen")},
        key=chrom_sort_key,
    )

    def igs(fmt: str, path: Path, tag: str) -> list[str]:
        return [sys.executable, "-m", "benchmarks.dosage_scores", "--format", fmt, "--genotypes",
                str(path), "--out", str(out / f"igs_{tag}.tsv.gz"), *map(str, pgs_files)]  # fmt: skip

    def vcf_import_and_score(vcf: Path, tag: str) -> list[list[str]]:
        tmp = out / f"import_{tag}"
        return [
            [
                plink2,
                "--threads",
                "2",
                "--vcf",
                str(vcf),
                "dosage=DS",
                "--make-pgen",
                "--out",
                str(tmp),
            ],
            [plink2, "--pfile", str(tmp), *plink2_score_args(plink_file, out / f"plink_{tag}")],
        ]

    timed: dict[str, object] = {}
    if "pgen" in inputs:
        timed["plink2 pgen"] = [[plink2, "--pfile", str(files["pgen"]),
                                 *plink2_score_args(plink_file, out / "plink_pgen")]]  # fmt: skip
        timed["igs pgen"] = [igs("pgen", files["pgen"], "pgen")]
    if "vcf" in inputs:
        timed["plink2 VCF import+score"] = vcf_import_and_score(files["vcf"], "vcf")
        timed["igs VCF"] = [igs("vcf", files["vcf"], "vcf")]
    if args.per_chrom and "pgen" in inputs:
        timed["plink2 pgen x22"] = [
            [plink2, "--pfile", str(out / "dosages" / f"chr{c}"),
             *plink2_score_args(plink_file, out / f"plink_pgen_chr{c}")] for c in chroms
        ]  # fmt: skip
        timed["igs pgen x22"] = [igs("pgen", files["pgen_per_chrom"], "pgen_chroms")]
    if args.per_chrom and "vcf" in inputs:
        timed["plink2 VCF x22"] = [
            cmd for c in chroms
            for cmd in vcf_import_and_score(out / "dosages" / f"chr{c}.vcf.gz", f"vcf_chr{c}")
        ]  # fmt: skip
        timed["igs VCF x22"] = [igs("vcf", files["vcf_per_chrom"], "vcf_chroms")]
    # peer and igs alternate within each repeat, so both see the same load
    runs: dict[str, list[Measured]] = {name: [] for name in timed}
    for _ in range(args.repeats):
        for name, cmds in timed.items():
            runs[name].append(measure_all(cmds))  # type: ignore[arg-type]
    rows = {name: median_run(r) for name, r in runs.items()}
    pairs = [(p, o) for p, o in (("plink2 pgen", "igs pgen"), ("plink2 VCF import+score", "igs VCF"),
             ("plink2 pgen x22", "igs pgen x22"), ("plink2 VCF x22", "igs VCF x22")) if o in rows]  # fmt: skip
    title = (
        f"{N_SCORES} dosage scores on {args.n_samples} samples x {args.n_variants} variants "
        f"(median wall of {args.repeats} runs, largest peak)"
    )
    ratios = {}
    print(f"\n{title}\n{'run':<26}{'wall s':>10}{'CPU s':>10}{'peak MB':>10}")
    for name, m in rows.items():
        print(f"{name:<26}{m.wall_s:>10.2f}{m.cpu_s:>10.2f}{m.peak_mb:>10.0f}")
    for peer, ours in pairs:
        r = rows[ours].wall_s / rows[peer].wall_s
        c = rows[ours].cpu_s / rows[peer].cpu_s
        ratios[f"{ours} / {peer}"] = r
        ratios[f"{ours} / {peer} (CPU)"] = c
        print(
            f"{ours} / {peer}: wall {r:.2f}x, CPU {c:.2f}x, peak memory {rows[ours].peak_mb:.0f} MB"
        )
    # each against plink2 on the same input: the VCF holds plink2's 4-decimal DS export
    peers = {"pgen": "pgen", "vcf": "vcf", "pgen_chroms": "pgen", "vcf_chroms": "vcf"}
    tags = [t for t, name in (("pgen", "igs pgen"), ("vcf", "igs VCF"),
            ("pgen_chroms", "igs pgen x22"), ("vcf_chroms", "igs VCF x22")) if name in rows]  # fmt: skip
    diffs = {
        t: compare_sums(out / f"igs_{t}.tsv.gz", out / f"plink_{peers[t]}.sscore") for t in tags
    }
    for t, d in diffs.items():
        print(f"largest |igs {t} SUM - plink2 {peers[t]} SUM|: {d:.2e}")
    if args.json:
        numbers = {k: vars(v) for k, v in rows.items()} | ratios | {"max_abs_sum_diff": diffs}
        args.json.write_text(json.dumps(numbers, indent=2))


def main() -> None:
    args = benchmark_arguments(__doc__.splitlines()[0], dosage_options)
    prefix = simulated_cohort(args.work_dir, args.n_samples, args.n_variants)
    if args.dosages:
        dosage_benchmark(args, prefix, args.work_dir / "score_dosages")
        return
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
    # the workflow's way (one fileset is its part "all"): match writes the weights file that
    # compute reads instead of parsing the whole report
    part_match_cmd = ["igs", "scores", "match", *geno, "--part", "all", "--genome-build", "GRCh38",
                      "--keep-ambiguous", "--report", str(out / "part_report.tsv.gz"),
                      "--summary", str(out / "part_summary.tsv"),
                      "--weights", str(out / "match_weights.parquet"), *map(str, pgs_files)]  # fmt: skip
    part_compute_cmd = ["igs", "scores", "compute", *geno, "--weights",
                        str(out / "match_weights.parquet"), "--part", "all",
                        "--out", str(out / "scores_part.tsv.gz")]  # fmt: skip
    measure(compute_cmd if (out / "match_report.tsv.gz").is_file() else match_cmd)  # warm caches
    names = ("match", "compute", "both", "part match", "part compute", "part both", "plink")
    runs: dict[str, list[Measured]] = {k: [] for k in names}
    for _ in range(args.repeats):  # alternating, so that igs and plink2 see the same load
        for tag, (first, second) in (("", (match_cmd, compute_cmd)),
                                     ("part ", (part_match_cmd, part_compute_cmd))):  # fmt: skip
            m, c = measure(first), measure(second)
            runs[f"{tag}match"].append(m)
            runs[f"{tag}compute"].append(c)
            runs[f"{tag}both"].append(
                Measured(m.wall_s + c.wall_s, max(m.peak_mb, c.peak_mb), m.cpu_s + c.cpu_s)
            )
        runs["plink"].append(measure(plink_cmd))
    med = {k: median_run(v) for k, v in runs.items()}
    plink = med["plink"]
    rows = {
        "plink2 --score": plink,
        "igs scores match": med["match"],
        "igs scores compute": med["compute"],
        "igs match + compute": med["both"],
        "match --part (workflow)": med["part match"],
        "compute --weights": med["part compute"],
        "workflow match+compute": med["part both"],
    }
    title = (
        f"{N_SCORES} scores on {args.n_samples} samples x {args.n_variants} variants (2 threads, "
        f"median wall of {args.repeats} runs)"
    )
    ratio = report(title, rows, "plink2 --score", "igs match + compute")
    workflow = med["part both"]
    print(f"igs workflow match+compute / plink2: wall {workflow.wall_s / plink.wall_s:.2f}x")
    compute_ratio = med["compute"].wall_s / plink.wall_s
    print(f"igs scores compute alone / plink2: wall {compute_ratio:.2f}x")
    print(
        f"CPU s: plink2 {plink.cpu_s:.2f}, igs match {med['match'].cpu_s:.2f}, compute "
        f"{med['compute'].cpu_s:.2f}; igs match + compute / plink2: CPU "
        f"{med['both'].cpu_s / plink.cpu_s:.2f}x; workflow (match --part {med['part match'].cpu_s:.2f}"
        f", compute --weights {med['part compute'].cpu_s:.2f}) / plink2: CPU "
        f"{workflow.cpu_s / plink.cpu_s:.2f}x"
    )
    max_diff = compare_sums(out / "scores.tsv.gz", out / "plink.sscore")
    part_diff = compare_sums(out / "scores_part.tsv.gz", out / "plink.sscore")
    print(f"largest |igs SUM - plink2 SUM|: {max_diff:.2e} (workflow's way: {part_diff:.2e})")
    if args.json:
        numbers = {k: vars(v) for k, v in rows.items()} | ratio
        numbers |= {"workflow_wall_ratio": workflow.wall_s / plink.wall_s,
                    "workflow_cpu_ratio": workflow.cpu_s / plink.cpu_s}  # fmt: skip
        args.json.write_text(json.dumps(numbers | {"max_abs_sum_diff": max_diff}, indent=2))


if __name__ == "__main__":
    main()
