"""Shared fixtures: one small simulated universe and cohort, written once per test session."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from igs.io import plink
from igs.qc import QCOptions, run_local_qc, write_qc_genotypes, write_qc_tables
from igs.simulate import (
    CohortSpec,
    UniverseSpec,
    build_universe,
    simulate_cohort,
    write_scoring_files,
)

REPO = Path(__file__).resolve().parents[1]
SHARED_ORACLE = REPO.parent / "shared" / "oracle"

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
