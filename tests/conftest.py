"""Shared fixtures: one small simulated universe and cohort, written once per test session."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from igs.io import plink
from igs.models import (
    SurvivalData,
)
from igs.qc import QCOptions, run_local_qc, write_qc_genotypes, write_qc_tables
from igs.share.bundle import write_bundle
from igs.simulate import (
    CohortSpec,
    UniverseSpec,
    build_universe,
    simulate_cohort,
    write_scoring_files,
)

REPO = Path(__file__).resolve().parents[1]
SHARED_ORACLE = REPO.parent / "shared" / "oracle"
# pgsc_calc's 1000 Genomes example (VCF, BGEN, PGS000586, published scores, population panel)
G1000 = SHARED_ORACLE / "1000g_pgs000586"

# 15% of variants on chrX so that the sex check has several hundred sites, as real arrays do.
SMALL_UNIVERSE = UniverseSpec(
    seed=11, n_variants=4000, chromosomes=("1", "2", "3"), x_fraction=0.15
)
QC_OPTS = QCOptions(ancestry_groups=3, chunk_variants=700)
SMALL_COHORT = CohortSpec(name="small", n_samples=600, seed=3, ancestry_proportions=(0.7, 0.2, 0.1))


def require_tool(name: str) -> str:
    """Path of an oracle command-line tool; the Makefile installs them, so absence is a failure."""
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} not found on PATH; run `make system-deps` (Debian package {name}).")
    return path


def run_tool(args: list[str], cwd: Path) -> None:
    proc = subprocess.run(args, cwd=cwd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise AssertionError(f"{' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")


@pytest.fixture(scope="session")
def small_universe():
    return build_universe(SMALL_UNIVERSE)


@pytest.fixture(scope="session")
def small_cohort(tmp_path_factory, small_universe) -> Path:
    """Folder with the small cohort's files (genotypes.*, clinical.tsv, truth.json, ...)."""
    out = tmp_path_factory.mktemp("cohort") / "small"
    simulate_cohort(small_universe, SMALL_COHORT, out, chunk_variants=700)
    return out


@pytest.fixture(scope="session")
def small_imputed_cohort(tmp_path_factory, small_universe) -> Path:
    """The small cohort (same people and hard calls) also written as imputed per-chromosome pgen
    dosages with INFO plus an array fileset (``CohortSpec.imputed``)."""
    out = tmp_path_factory.mktemp("cohort") / "small"
    spec = dataclasses.replace(SMALL_COHORT, imputed=True)
    simulate_cohort(small_universe, spec, out, chunk_variants=700)
    return out


@pytest.fixture(scope="session")
def small_truth(small_cohort) -> dict:
    return json.loads((small_cohort / "truth.json").read_text())


@pytest.fixture(scope="session")
def small_scoring_files(tmp_path_factory, small_universe) -> Path:
    out = tmp_path_factory.mktemp("scores")
    write_scoring_files(small_universe, out)
    return out


@pytest.fixture(scope="session")
def qc_run(small_cohort, tmp_path_factory):
    """QC of the small cohort written to a folder: (result, out_dir)."""
    gset = plink.open_genotypes(small_cohort / "genotypes")
    result = run_local_qc(gset, QC_OPTS)
    out = tmp_path_factory.mktemp("qc")
    write_qc_tables(result, out)
    write_qc_genotypes(gset, result, out, QC_OPTS)
    return result, out


# Helpers shared by several test modules.
def run_igs(*args, cwd=REPO):
    return subprocess.run(
        [sys.executable, "-m", "igs.cli", *args], capture_output=True, text=True, cwd=cwd
    )


def write_fileset(prefix: Path, g: np.ndarray, *, iids=None, ids=None, fmt: str = "bed") -> None:
    """Write a tiny fileset from an int8 (variants, samples) matrix of A1 counts."""
    k, n = g.shape
    samples = pd.DataFrame(
        {
            "FID": iids or [f"s{i}" for i in range(n)],
            "IID": iids or [f"s{i}" for i in range(n)],
            "sex": 1,
        }
    )
    variants = pd.DataFrame(
        {
            "chrom": "1",
            "id": ids or [f"rs{j}" for j in range(k)],
            "cm": 0.0,
            "pos": np.arange(1, k + 1) * 100,
            "a1": "A",
            "a2": "G",
        }
    )
    if fmt == "bed":
        with plink.BedWriter(f"{prefix}.bed", n) as w:
            w.append(g)
        plink.write_bim(f"{prefix}.bim", variants)
        plink.write_fam(f"{prefix}.fam", samples)
    else:
        import pgenlib

        with pgenlib.PgenWriter(f"{prefix}.pgen".encode(), n, k, True) as w:
            w.append_biallelic_batch(np.ascontiguousarray(g, dtype=np.int8))
        plink.write_pvar(f"{prefix}.pvar", variants)
        plink.write_psam(f"{prefix}.psam", samples)


def planted(n: int = 3000, seed: int = 3) -> tuple[SurvivalData, dict[str, float]]:
    """Age-scale Gompertz survival with delayed entry, censoring and a competing death; the log
    hazard ratios are per unit of each feature."""
    rng = np.random.default_rng(seed)
    log_hr = {"prs": 0.5, "sex_male": 0.6, "bmi": 0.05, "omics": 0.4}
    x = pd.DataFrame(
        {
            "sex_male": rng.integers(0, 2, n).astype(float),
            "bmi": rng.normal(27, 4, n),
            "prs": rng.normal(size=n),
            "PC1": rng.normal(size=n),
            "omics": rng.normal(size=n),
            "noise": rng.normal(size=n),
        }
    )
    eta = sum(b * x[k].to_numpy() for k, b in log_hr.items()) - 0.05 * 27
    entry = rng.uniform(40, 70, n)
    lam, gam = 1.5e-3, 0.08  # hazard lam * exp(gam * (age - 40)) * exp(eta)
    u = rng.random(n)
    # conditional on being event-free at entry: invert the Gompertz cumulative hazard
    h_entry = lam / gam * (np.exp(gam * (entry - 40)) - 1)
    onset = 40 + np.log1p((h_entry - np.log(u) / np.exp(eta)) * gam / lam) / gam
    death = entry + rng.exponential(25, n)
    end = entry + rng.uniform(5, 20, n)
    stop = np.minimum.reduce([onset, death, end, np.full(n, 85.0)])
    data = SurvivalData("planted", np.arange(n).astype(str), entry, stop, onset <= stop,
                        (death <= stop) & (onset > stop), x,
                        {"clinical": ["sex_male", "bmi"], "prs": ["prs", "PC1"], "omics": ["omics", "noise"]})  # fmt: skip
    return data, log_hr


def planted_scores(n: int = 400, seed: int = 1) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    iid = [f"s{i}" for i in range(n)]
    pcs = pd.DataFrame(rng.normal(size=(n, 4)), columns=[f"PC{i}" for i in range(1, 5)])
    pcs.insert(0, "IID", iid)
    scores = pd.DataFrame({"IID": iid, "pgs_id": "P", "SUM": rng.normal(size=n)})
    return scores, pcs


def survival_inputs(n: int = 300, seed: int = 2):
    rng = np.random.default_rng(seed)
    iid = [f"s{i}" for i in range(n)]
    endpoint = pd.DataFrame({"IID": iid, "start": 50.0, "stop": 50 + rng.uniform(1, 10, n),
                             "event": rng.random(n) < 0.2, "competing_death": False, "excluded": ""})  # fmt: skip
    covariates = pd.DataFrame({"IID": iid, "sex": rng.choice(["male", "female"], n),
                               "bmi": rng.normal(27, 4, n), "sbp": rng.normal(130, 15, n),
                               "smoking": rng.choice(["never", "former", "current"], n)})  # fmt: skip
    scores = pd.DataFrame({"IID": iid, "pgs_id": "P", "Z_norm2": rng.normal(size=n)})
    _, pcs = planted_scores(n)
    return endpoint, covariates, scores, pcs


HR_VALUES = {"hr": 1.5, "hr_low": 1.2, "hr_high": 1.8, "log_hr": 0.405, "se": 0.1, "p": 0.01}


def bundle_inputs(tmp_path: Path):  # type: ignore[no-untyped-def]
    """The stage outputs one CAD share bundle is built from (phenotype summary, HR per SD,
    percentile HRs, comparison, calibration, match summary), with large counts; returns the
    bundle's BundleFiles and the evaluation folder, to which a test adds its own tables."""
    from igs.share.bundle import BundleFiles

    (tmp_path / "pheno").mkdir()
    (tmp_path / "pheno/summary.json").write_text(json.dumps({"endpoints": {"CAD": {
        "n_included": 1000, "n_events": 100, "n_competing_deaths": 50, "excluded": {"prevalent": 20}}}}))  # fmt: skip
    ev = tmp_path / "evaluate/CAD"
    ev.mkdir(parents=True)
    pd.DataFrame([{"group": "all", "n": 1000, "n_events": 100, **HR_VALUES}]).to_csv(
        ev / "hr_per_sd.tsv", sep="\t", index=False
    )
    pd.DataFrame([{"group": "0-50", "n": 500, "n_events": 40, **HR_VALUES},
                  {"group": "50-100", "n": 500, "n_events": 60, **HR_VALUES}]).to_csv(
        ev / "percentile_hr.tsv", sep="\t", index=False)  # fmt: skip
    pd.DataFrame({"model": ["clinical/cox"], "n_train": [700], "n_test": [300], "events_test": [30],
                  "harrell_c": [0.7]}).to_csv(ev / "comparison.tsv", sep="\t", index=False)  # fmt: skip
    pd.DataFrame({"model": ["clinical/cox"], "bin": [1], "n": [300], "predicted": [0.1],
                  "observed": [0.1]}).to_csv(ev / "calibration.tsv", sep="\t", index=False)  # fmt: skip
    (tmp_path / "scores").mkdir()
    pd.DataFrame({"pgs_id": ["X"], "n_variants": [10], "matched": [9], "match_rate": [0.9]}).to_csv(
        tmp_path / "scores/match_summary.tsv", sep="\t", index=False
    )
    files = BundleFiles(
        tmp_path / "pheno/summary.json", tmp_path / "scores/match_summary.tsv", {"CAD": ev}
    )
    return files, ev


def bundle(tmp_path, name: str, log_hr: float, se: float):
    tables = {
        "counts.tsv": pd.DataFrame({"endpoint": ["CAD"], "n_included": [1000], "n_events": [80]}),
        "models.tsv": pd.DataFrame(
            {
                "endpoint": ["CAD"],
                "model": ["clinical/cox"],
                "harrell_c": [0.7],
                "harrell_c_low": [0.66],
                "harrell_c_high": [0.74],
            }
        ),
        "prs_effects.tsv": pd.DataFrame(
            {
                "endpoint": ["CAD"],
                "effect": ["hr_per_sd"],
                "group": ["all"],
                "n": [1000],
                "n_events": [80],
                "log_hr": [log_hr],
                "se": [se],
            }
        ),
        "calibration.tsv": pd.DataFrame(
            {
                "endpoint": ["CAD"],
                "model": ["clinical/cox"],
                "bin": [1],
                "n": [100],
                "predicted": [0.02],
                "observed": [0.03],
            }
        ),
        "match.tsv": pd.DataFrame(
            {"pgs_id": ["P"], "n_variants": [10], "matched": [9], "match_rate": [0.9]}
        ),
        "__suppressed__": pd.DataFrame({"table": ["counts.tsv"], "rows_suppressed": [0]}),
    }
    return write_bundle(tables, tmp_path / name, name, 5)


def snakemake_command(*args: str, cwd: Path = REPO) -> list[str]:
    """The snakemake command line of this environment for the repository's Snakefile."""
    exe = shutil.which("snakemake", path=str(Path(sys.executable).parent)) or "snakemake"
    return [exe, "-s", str(REPO / "Snakefile"), "--directory", str(cwd), *args]


def snakemake(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    return subprocess.run(
        snakemake_command(*args, cwd=cwd), capture_output=True, text=True, env=env, cwd=cwd
    )


def assert_equal_to_plink_precision(ours: np.ndarray, theirs: np.ndarray) -> None:
    # plink2 prints 6 significant digits: compare at that precision
    np.testing.assert_allclose(ours, theirs, rtol=5e-6, atol=5e-7)


def random_score(gset: plink.GenotypeSet, seed: int, chromosomes: tuple[str, ...]) -> pd.DataFrame:
    """A match report over every variant of `chromosomes` with N(0, 1) weights, random effect
    allele, and every fifth variant dominant or recessive when `models` is set."""
    rng = np.random.default_rng(seed)
    v = gset.variants[gset.variants["chrom"].isin(chromosomes)]
    swapped = rng.random(len(v)) < 0.5
    return pd.DataFrame(
        {
            "pgs_id": f"R{seed}",
            "target_index": v.index.to_numpy(),
            "effect_allele": np.where(swapped, v["a2"], v["a1"]),
            "effect_weight": rng.normal(size=len(v)).round(4),
            "match_status": "matched",
            "match_type": np.where(swapped, "swapped", "exact"),
            "is_dominant": False,
            "is_recessive": False,
        }
    )


def plink2_scores(
    prefix: Path, report: pd.DataFrame, variants: pd.DataFrame, tmp_path: Path, impute: bool
) -> pd.DataFrame:
    m = report[report["match_status"] == "matched"]
    v = variants.iloc[m["target_index"].to_numpy(dtype=int)]
    allele = np.where(m["match_type"].isin(["swapped", "flipped_swapped"]), v["a2"], v["a1"])
    pgs = m["pgs_id"].iloc[0]
    pd.DataFrame(
        {"ID": v["id"].to_numpy(), "A": allele, "W": m["effect_weight"].to_numpy()}
    ).to_csv(tmp_path / f"{pgs}.txt", sep="\t", index=False)
    args = [
        require_tool("plink2"),
        "--bfile",
        str(prefix),
        "--score",
        str(tmp_path / f"{pgs}.txt"),
        "1",
        "2",
        "3",
        "header-read",
        "cols=+scoresums",
        *([] if impute else ["no-mean-imputation"]),
        "--out",
        str(tmp_path / pgs),
    ]
    run_tool(args, tmp_path)
    return pd.read_csv(tmp_path / f"{pgs}.sscore", sep="\t")
