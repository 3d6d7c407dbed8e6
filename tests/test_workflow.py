"""The Snakemake workflow: SLURM profile dry-run, a tiny end-to-end run, and config errors before any job."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO

pytestmark = pytest.mark.workflow

TINY = {
    "simulation": {"seed": 7, "n_variants": 2000, "chromosomes": ["1", "2"]},
    "biobanks": [
        {"name": "tiny_a", "simulate": {"n_samples": 200, "seed": 5}},
        {
            "name": "tiny_b",
            "simulate": {
                "n_samples": 150,
                "seed": 6,
                "ancestry_proportions": [0.5, 0.3, 0.2],
                "phenotype_source": "omop",
            },
        },
    ],
    "pheno": {"endpoints": [{"name": "CAD", "icd10": ["I21", "I25.1"]}]},
}


def snakemake_command(*args: str, cwd: Path = REPO) -> list[str]:
    """The snakemake command line of this environment for the repository's Snakefile."""
    exe = shutil.which("snakemake", path=str(Path(sys.executable).parent)) or "snakemake"
    return [exe, "-s", str(REPO / "Snakefile"), "--directory", str(cwd), *args]


def snakemake(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    return subprocess.run(
        snakemake_command(*args, cwd=cwd), capture_output=True, text=True, env=env, cwd=cwd
    )


def test_slurm_profile_dry_run_of_demo():
    proc = snakemake("-n", "--forceall", "--profile", str(REPO / "workflow/profiles/slurm"))
    assert proc.returncode == 0, proc.stderr + proc.stdout
    out = proc.stdout + proc.stderr
    for rule in ("simulate_cohort", "simulate_scoring_files", "inputs_check_genotypes"):
        assert rule in out
    assert "This was a dry-run" in out


def test_tiny_config_runs_end_to_end(tmp_path):
    (tmp_path / "tiny.yaml").write_text(yaml.safe_dump(TINY))
    proc = snakemake("--cores", "2", "--configfile", "tiny.yaml", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "unknown biobank" not in proc.stderr  # the catch-all rule never claims a real biobank
    for name, n in (("tiny_a", 200), ("tiny_b", 150)):
        summary = json.loads(
            (tmp_path / "results" / name / "inputs" / "genotype_summary.json").read_text()
        )
        truth = json.loads((tmp_path / "results" / "simulated" / name / "truth.json").read_text())
        assert summary["n_samples"] == n
        assert summary["n_variants"] == truth["genotypes"]["n_variants"]
        assert (tmp_path / "logs" / name / "simulate" / "cohort.log").is_file()
        pheno = json.loads((tmp_path / "results" / name / "pheno" / "summary.json").read_text())
        qc = json.loads((tmp_path / "results" / name / "qc" / "summary.json").read_text())
        assert pheno["genotype_overlap"]["n_both"] == qc["samples"]["final"]
        assert pheno["endpoints"]["CAD"]["n_events"] > 0
        assert (tmp_path / "results" / name / "features" / "omics_landmark.parquet").is_file()
    assert json.loads((tmp_path / "results/tiny_b/pheno/summary.json").read_text())[
        "source"
    ].startswith("omop:")
    assert (tmp_path / "results" / "simulated" / "scoring_files" / "IGS_SIM_T2D.txt.gz").is_file()
    # a second run has nothing to do
    again = snakemake("--cores", "2", "--configfile", "tiny.yaml", "-n", cwd=tmp_path)
    assert "Nothing to be done" in again.stdout + again.stderr


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda c: c["biobanks"][0].update(enigne="local"),
            r"biobanks[0]: unknown key(s) 'enigne'",
        ),
        (
            lambda c: c["biobanks"][0].pop("simulate"),
            "biobanks[0] (tiny_a) needs genotypes and phenotypes",
        ),
        (
            lambda c: c.update(scores={"scoring_files": ["missing.txt"]}),
            "scores.scoring_files[3]: file missing.txt not found",
        ),
    ],
    ids=["typo", "no-inputs", "missing-file"],
)
def test_bad_config_fails_before_any_job(tmp_path, change, message):
    cfg = json.loads(json.dumps(TINY))
    change(cfg)
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump(cfg))
    proc = snakemake("--cores", "1", "--configfile", "bad.yaml", cwd=tmp_path)
    assert proc.returncode != 0
    assert message in proc.stderr + proc.stdout
    assert not (tmp_path / "results").exists()


def test_target_of_unknown_biobank_fails_before_any_job(tmp_path):
    (tmp_path / "tiny.yaml").write_text(yaml.safe_dump(TINY))
    # (a target goes before --configfile, which takes several values)
    proc = snakemake("results/west/qc/summary.json", "--cores", "1", "--configfile", "tiny.yaml",
                     cwd=tmp_path)  # fmt: skip
    assert proc.returncode != 0
    assert "unknown biobank 'west'; the config defines: tiny_a, tiny_b" in proc.stderr + proc.stdout
    assert not (tmp_path / "results" / "tiny_a").exists()
