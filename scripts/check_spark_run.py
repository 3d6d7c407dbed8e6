"""The Hail engine on a Spark standalone cluster against the local engine, for scripts/test-spark.sh.

Simulates a tiny cohort and the scoring files, runs ``igs qc run`` and ``igs scores compute``
with ``--engine local`` and with ``--engine hail`` (the config's ``hail.master`` names the
cluster), compares the two engines' outputs as tests/test_qc_hail.py and
tests/test_scores_hail.py do, and checks through the master's JSON status that the Hail
applications ran on the cluster's workers.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

UNIVERSE = ["--seed", "11", "--n-variants", "3000", "--chromosomes", "1,2,3"]
N_SAMPLES = 300


def igs(*args: str, log: Path) -> float:
    """Run one igs command (stderr to log); returns its wall time in seconds."""
    t0 = time.perf_counter()
    with log.open("a") as err:
        err.write(f"$ igs {' '.join(args)}\n")
        err.flush()
        proc = subprocess.run(["igs", *args], stderr=err, stdout=err)
    if proc.returncode != 0:
        raise SystemExit(f"FAILED: igs {' '.join(args)} (exit {proc.returncode}); see {log}")
    return time.perf_counter() - t0


def master_status(ui: str) -> dict:
    with urllib.request.urlopen(f"{ui}/json/", timeout=10) as r:
        return json.load(r)


def compare_qc(local: Path, hail: Path) -> list[str]:
    """Differences between the two engines' QC outputs (tests/test_qc_hail.py's criteria)."""
    problems = []
    text = {"qc_fail": str}  # empty when the sample or variant passes
    ours = pd.read_csv(local / "sample_qc.tsv.gz", sep="\t", dtype=text).fillna({"qc_fail": ""})
    theirs = pd.read_csv(hail / "sample_qc.tsv.gz", sep="\t", dtype=text).fillna({"qc_fail": ""})
    for col in ("IID", "qc_fail", "genetic_sex", "ancestry_group"):
        if not (ours[col].astype(str) == theirs[col].astype(str)).all():
            problems.append(f"sample_qc column {col} differs")
    for col, atol in (("call_rate", 1e-9), ("het_f", 1e-6)):
        if not np.allclose(ours[col], theirs[col], atol=atol, equal_nan=True):
            problems.append(f"sample_qc column {col} differs by more than {atol}")
    ov = pd.read_csv(local / "variant_qc.tsv.gz", sep="\t", dtype=text).fillna({"qc_fail": ""})
    tv = pd.read_csv(hail / "variant_qc.tsv.gz", sep="\t", dtype=text).fillna({"qc_fail": ""})
    auto = (ov["chrom"].astype(str) != "X").to_numpy()
    for col in ("call_rate", "a1_freq"):
        if not np.allclose(ov.loc[auto, col], tv.loc[auto, col], atol=1e-6, equal_nan=True):
            problems.append(f"variant_qc column {col} differs on autosomes")
    if not np.allclose(ov.loc[auto, "hwe_p"], tv.loc[auto, "hwe_p"], rtol=1e-6, equal_nan=True):
        problems.append("variant_qc hwe_p differs on autosomes")
    if not (ov.loc[auto, "qc_fail"] == tv.loc[auto, "qc_fail"]).all():
        problems.append("variant_qc qc_fail differs on autosomes")
    po = pd.read_csv(local / "pcs.tsv", sep="\t")
    pt = pd.read_csv(hail / "pcs.tsv", sep="\t")
    for pc in ("PC1", "PC2"):
        r = abs(np.corrcoef(po[pc], pt[pc])[0, 1])
        if not r > 0.99:
            problems.append(f"{pc} correlation between engines {r:.4f} <= 0.99")
    so = json.loads((local / "summary.json").read_text())
    st = json.loads((hail / "summary.json").read_text())
    if so["samples"]["final"] != st["samples"]["final"]:
        problems.append(f"final samples {so['samples']['final']} != {st['samples']['final']}")
    print(
        f"QC: {len(ours)} samples ({st['samples']['final']} kept), {len(ov)} variants "
        f"({st['variants']['final']} kept by Hail, {so['variants']['final']} locally)"
    )
    return problems


def compare_scores(local: Path, hail: Path) -> list[str]:
    """Differences between the two engines' scores (written with 7 significant digits)."""
    ours = pd.read_csv(local, sep="\t").sort_values(["pgs_id", "IID"], ignore_index=True)
    theirs = pd.read_csv(hail, sep="\t").sort_values(["pgs_id", "IID"], ignore_index=True)
    try:
        pd.testing.assert_frame_equal(ours, theirs, check_exact=False, rtol=1e-6, atol=1e-9)
    except AssertionError as exc:
        return [f"scores differ: {exc}"]
    print(f"scores: {len(ours)} rows ({ours['pgs_id'].nunique()} scores) equal")
    return []


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--work", type=Path, required=True, help="scratch folder")
    parser.add_argument("--master", required=True, help="e.g. spark://localhost:7077")
    parser.add_argument("--ui", required=True, help="master web UI, e.g. http://localhost:8080")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    w: Path = args.work
    log = w / "igs.log"
    sim = w / "sim"
    igs("simulate", "scores", "--out-dir", str(sim / "scoring_files"), *UNIVERSE, log=log)
    igs("simulate", "cohort", "--out-dir", str(sim / "cohort"), "--name", "spark",
        "--n-samples", str(N_SAMPLES), "--cohort-seed", "3",
        "--ancestry-proportions", "0.7,0.2,0.1", *UNIVERSE, log=log)  # fmt: skip
    genotypes = str(sim / "cohort" / "genotypes")
    config = {
        "biobanks": [
            {
                "name": "spark",
                "engine": "hail",
                "genotypes": {"path": genotypes, "format": "bed"},
                "phenotypes": {
                    "source": "table",
                    "clinical": str(sim / "cohort" / "clinical.tsv"),
                    "diagnoses": str(sim / "cohort" / "diagnoses.tsv"),
                },
            }
        ],
        "qc": {"ancestry_groups": 3},
        "hail": {"master": args.master, "tmp_dir": str(w / "hail_tmp")},
    }
    cfg = w / "config.yaml"
    cfg.write_text(yaml.safe_dump(config))

    times = {}
    for engine in ("local", "hail"):
        times[f"qc {engine}"] = igs(
            "qc", "run", "--genotypes", genotypes, "--engine", engine, "--config", str(cfg),
            "--out-dir", str(w / f"qc_{engine}"), log=log,
        )  # fmt: skip
    qc_prefix = str(w / "qc_local" / "genotypes")
    report = w / "match_report.tsv.gz"
    scoring_files = sorted(str(p) for p in (sim / "scoring_files").glob("*.txt.gz"))
    igs("scores", "match", "--genotypes", qc_prefix, "--genome-build", "GRCh38",
        "--report", str(report), "--summary", str(w / "match_summary.tsv"), *scoring_files,
        log=log)  # fmt: skip
    for engine in ("local", "hail"):
        times[f"scores {engine}"] = igs(
            "scores", "compute", "--genotypes", qc_prefix, "--engine", engine, "--config",
            str(cfg), "--report", str(report), "--dosage-sums",
            "--out", str(w / f"scores_{engine}.tsv.gz"), log=log,
        )  # fmt: skip
    print("wall times (s): " + ", ".join(f"{k} {v:.1f}" for k, v in times.items()))

    problems = compare_qc(w / "qc_local", w / "qc_hail")
    problems += compare_scores(w / "scores_local.tsv.gz", w / "scores_hail.tsv.gz")

    # The Hail applications ran on this cluster, with executors on every worker.
    status = master_status(args.ui)
    apps = [a for a in status.get("completedapps", []) + status.get("activeapps", [])]
    hail_apps = [a for a in apps if a.get("name") == "Hail"]
    print(f"cluster: {len(status.get('workers', []))} workers, Hail applications: {len(hail_apps)}")
    if len(hail_apps) < 2:
        problems.append(
            f"the master ran {len(hail_apps)} Hail applications, expected 2 (QC, scores)"
        )
    executor_dirs = sorted(w.glob("worker*/app-*/*/stderr"))
    workers_used = {p.parts[len(w.parts)] for p in executor_dirs}
    print(f"executor logs: {len(executor_dirs)} on workers {sorted(workers_used)}")
    if len(workers_used) < args.workers:
        problems.append(
            f"executors ran on {sorted(workers_used)}, not on all {args.workers} workers"
        )
    for p in problems:
        print(f"FAILED: {p}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
