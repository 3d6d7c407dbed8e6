"""The Snakemake workflow: SLURM profile dry-run, a tiny end-to-end run (in folders with spaces),
config errors before any job, nothing written at parse time, a changed value reruns what uses it,
and quoted paths."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from igs.config import load_schema
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
    proc = snakemake("-n", "--forceall", "--profile", str(REPO / "workflow/profiles/slurm"),
                     "--configfile", str(REPO / "config/config.yaml"))  # fmt: skip
    assert proc.returncode == 0, proc.stderr + proc.stdout
    out = proc.stdout + proc.stderr
    for rule in ("simulate_cohort", "simulate_scores", "inputs_check", "qc_run", "share_meta"):
        assert rule in out
    assert "This was a dry-run" in out


def test_no_config_is_a_clear_error(tmp_path):
    """The demo's config is not merged under a user's: without --configfile there is none."""
    proc = snakemake("-n", "--cores", "1", cwd=tmp_path)
    assert proc.returncode != 0
    assert "no configuration: run with --configfile FILE" in proc.stderr + proc.stdout


def test_dry_run_and_unlock_write_nothing(tmp_path):
    (tmp_path / "tiny.yaml").write_text(yaml.safe_dump(TINY))
    for flag in ("-n", "--unlock"):
        proc = snakemake(flag, "--cores", "1", "--configfile", "tiny.yaml", cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
        assert not (tmp_path / "results").exists() and not (tmp_path / "logs").exists(), flag


def test_scores_only_biobank_runs_inputs_qc_scores_and_adjustment(tmp_path):
    """A biobank without phenotypes (beside a simulated one with them, endpoints configured) gets
    inputs, QC, scores (one match and compute job per chromosome fileset) and adjustment only."""
    for prefix in ("chr1", "chr2", "array"):
        for s in ("bed", "bim", "fam"):
            (tmp_path / f"{prefix}.{s}").write_text("")  # a dry run reads no genotypes
    (tmp_path / "S.txt").write_text(
        "#pgs_id=S\nchr_name\tchr_position\teffect_allele\teffect_weight\n"
    )
    cfg = json.loads(json.dumps(SCORED))
    cfg["biobanks"] = [
        cfg["biobanks"][0],
        {"name": "arrays", "genotypes": {"path": "chr{chrom}", "format": "bed"}},
    ]
    if "qc" in load_schema()["properties"]["biobanks"]["items"]["properties"]:
        # QC on a separate array fileset (h11's qc.genotypes); scores on the chromosome files
        cfg["biobanks"][1]["qc"] = {"genotypes": {"path": "array", "format": "bed"}}
    cfg["scores"] = {"scoring_files": ["S.txt"]}
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(cfg))
    proc = snakemake("-n", "--cores", "1", "--configfile", "c.yaml", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr + proc.stdout
    jobs = {}
    for block in (proc.stdout + proc.stderr).split("\nrule ")[1:]:
        rule = block.split(":", 1)[0].strip()
        wildcards = next((ln for ln in block.splitlines() if "wildcards:" in ln), "")
        if "biobank=arrays" in wildcards:
            jobs[rule] = jobs.get(rule, 0) + 1
    assert jobs.pop("config_stage") >= 2  # the qc and scores options (and provenance's)
    assert jobs == {"qc_run": 1, "scores_match": 2, "scores_compute": 2, "scores_sum": 1,
                    "scores_adjust": 1, "provenance": 1}  # fmt: skip


def test_tiny_config_runs_end_to_end(tmp_path):
    """The whole tiny workflow in results and logs folders whose names hold a space."""
    results, logs = tmp_path / "my results", tmp_path / "my logs"
    (tmp_path / "tiny.yaml").write_text(
        yaml.safe_dump({**TINY, "results_dir": "my results", "logs_dir": "my logs"})
    )
    proc = snakemake("--cores", "2", "--configfile", "tiny.yaml", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "unknown biobank" not in proc.stderr  # the catch-all rule never claims a real biobank
    assert not (tmp_path / "my").exists()  # `2> my logs/...` would have written "my"
    for name, n in (("tiny_a", 200), ("tiny_b", 150)):
        summary = json.loads((results / name / "inputs" / "genotype_summary.json").read_text())
        truth = json.loads((results / "simulated" / name / "truth.json").read_text())
        assert summary["n_samples"] == n
        assert summary["n_variants"] == truth["genotypes"]["n_variants"]
        assert (logs / name / "simulate" / "cohort.log").is_file()
        pheno = json.loads((results / name / "pheno" / "summary.json").read_text())
        qc = json.loads((results / name / "qc" / "summary.json").read_text())
        assert pheno["genotype_overlap"]["n_both"] == qc["samples"]["final"]
        assert pheno["endpoints"]["CAD"]["n_events"] > 0
        assert (results / name / "features" / "omics_landmark.parquet").is_file()
    assert json.loads((results / "tiny_b/pheno/summary.json").read_text())["source"].startswith(
        "omop:"
    )
    assert (results / "simulated" / "scoring_files" / "IGS_SIM_T2D.txt.gz").is_file()
    # a second run has nothing to do
    again = snakemake("--cores", "2", "--configfile", "tiny.yaml", "-n", cwd=tmp_path)
    assert "Nothing to be done" in again.stdout + again.stderr
    # a changed seed reruns QC (and what follows it), not the simulation
    again = snakemake("--cores", "2", "--configfile", "tiny.yaml", "-n", "--config", "seed=8",
                      cwd=tmp_path)  # fmt: skip
    out = again.stdout + again.stderr
    assert again.returncode == 0, out
    assert "rule qc_run:" in out and "rule provenance:" in out and "rule pheno_build:" in out
    assert "rule simulate_cohort:" not in out and "rule simulate_scores:" not in out


SCORED = {
    **TINY,
    "pheno": {"endpoints": [{"name": "CAD", "icd10": ["I21"], "score": "IGS_SIM_CAD"}]},
}
OPTION_FILES = [f"results/tiny_a/config/{s}.json" for s in ("qc", "scores", "models", "provenance")]


def test_changed_seed_reruns_qc_and_models_and_provenance_agrees(tmp_path):
    """Each stage reads its options file; a changed seed changes the params of the QC, models and
    provenance options (not the scores'), so those jobs and everything after them rerun, and
    provenance records the seed QC and the models ran with."""
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(SCORED))
    proc = snakemake(*OPTION_FILES, "--cores", "1", "--configfile", "c.yaml", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    proc = snakemake(
        *OPTION_FILES, "-n", "--configfile", "c.yaml", "--config", "seed=8", cwd=tmp_path
    )
    out = proc.stdout + proc.stderr
    rerun = {line.strip()[8:] for line in out.splitlines() if line.strip().startswith("output: ")}
    assert rerun == {OPTION_FILES[0], *OPTION_FILES[2:]}, out  # not scores.json
    assert "Params have changed since last execution" in out
    proc = snakemake(*OPTION_FILES, "--cores", "1", "--configfile", "c.yaml", "--config", "seed=8",
                     cwd=tmp_path)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    seeds = {
        f: json.loads((tmp_path / f).read_text())["config"]["seed"]
        for f in OPTION_FILES
        if "scores" not in f
    }
    assert set(seeds.values()) == {8}, seeds
    assert "seed" not in json.loads((tmp_path / OPTION_FILES[1]).read_text())["config"]


def test_paths_are_quoted_in_every_rule(small_cohort, tmp_path):
    """A genotype path holding shell syntax is passed as one word, never run."""
    weird = tmp_path / "in $(touch PWNED) `touch PWNED2`"
    weird.mkdir()
    for suffix in (".bed", ".bim", ".fam"):
        shutil.copy(small_cohort / f"genotypes{suffix}", weird / f"g{suffix}")
    shutil.copy(small_cohort / "clinical.tsv", weird / "clinical.tsv")
    cfg = {"biobanks": [{"name": "x", "genotypes": {"path": str(weird / "g"), "format": "bed"},
                         "phenotypes": {"source": "table", "clinical": str(weird / "clinical.tsv")}}]}  # fmt: skip
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(cfg))
    proc = snakemake("results/x/inputs/genotype_summary.json", "--cores", "1", "--configfile",
                     "c.yaml", cwd=tmp_path)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert (
        json.loads((tmp_path / "results/x/inputs/genotype_summary.json").read_text())["n_samples"]
        == 600
    )
    assert not list(tmp_path.rglob("PWNED*")) and not list(REPO.glob("PWNED*"))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda c: c["biobanks"][0].update(enigne="local"),
            r"biobanks[0]: unknown key(s) 'enigne'",
        ),
        (
            lambda c: c["biobanks"][0].pop("simulate"),
            "biobanks[0] (tiny_a) needs genotypes (or a `simulate` block)",
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
