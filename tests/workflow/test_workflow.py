"""The Snakemake workflow: SLURM profile dry-run, a tiny end-to-end run (in folders with spaces),
config errors before any job, nothing written at parse time, a changed value reruns what uses it,
and quoted paths."""

from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest
import yaml

from igs.config import load_schema
from tests.conftest import REPO, snakemake

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
    inputs, QC, scores (one match job of all chromosome filesets, one compute job per fileset) and
    adjustment only."""
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
    # inputs_check: the chromosome files are checked too (#16: it used to skip {chrom} paths)
    assert jobs == {"inputs_check": 1, "qc_run": 1, "scores_match": 1, "scores_compute": 2,
                    "scores_sum": 1, "scores_adjust": 1, "provenance": 1}  # fmt: skip


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


def test_qc_source_provided_none_and_separate_qc_genotypes(small_cohort, tmp_path):
    """qc.source picks the rule per biobank: provided tables (qc_samples), none (qc_samples),
    compute on qc.genotypes (qc_run reads the array fileset, not the biobank's genotypes)."""
    iids = pd.read_csv(small_cohort / "genotypes.fam", sep=r"\s+", header=None)[1].astype(str)
    (tmp_path / "excl.tsv").write_text(f"IID\treason\n{iids[0]}\thet_missing_outlier\n")
    pd.DataFrame({"IID": iids, "PC1": 0.5, "PC2": -0.5}).to_csv(
        tmp_path / "pcs.tsv", sep="\t", index=False
    )
    (tmp_path / "rel.dat").write_text("ID1 ID2 HetHet IBS0 Kinship\n")
    shutil.copy(small_cohort / "clinical.tsv", tmp_path / "clinical.tsv")
    ph = {"source": "table", "clinical": str(tmp_path / "clinical.tsv")}
    geno = {"path": str(small_cohort / "genotypes"), "format": "pgen"}
    provided = {"exclusions": "excl.tsv", "pcs": "pcs.tsv", "kinship": "rel.dat"}
    cfg = {"biobanks": [
        {"name": "p", "genotypes": geno, "phenotypes": ph, "qc": {"source": "provided", "provided": provided}},
        {"name": "n", "genotypes": geno, "phenotypes": ph, "qc": {"source": "none"}},
        {"name": "c", "genotypes": geno,
         "phenotypes": ph, "qc": {"genotypes": {"path": str(small_cohort / "genotypes"), "format": "bed"}}},
    ]}  # fmt: skip
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(cfg))
    targets = [f"results/{b}/qc/summary.json" for b in "pnc"]
    proc = snakemake(*targets, "--cores", "1", "--configfile", "c.yaml", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr

    def read(b: str, f: str) -> pd.DataFrame:
        return pd.read_csv(tmp_path / f"results/{b}/qc/{f}", sep="\t", keep_default_na=False)

    assert list(read("p", "sample_qc.tsv.gz")["qc_fail"]).count("het_missing_outlier") == 1
    assert (read("p", "pcs.tsv")["PC1"] == 0.5).all()
    assert (read("n", "sample_qc.tsv.gz")["qc_fail"] == "").all()
    summary = json.loads((tmp_path / "results/c/qc/summary.json").read_text())
    assert summary["input"] == {"genotypes": str(small_cohort / "genotypes"), "format": "bed"}
    assert not (tmp_path / "results/p/qc/genotypes.bed").exists()
    assert "qc_samples" in proc.stderr and "qc_run" in proc.stderr


def test_changed_recalibration_table_reruns_evaluation_and_export(tmp_path):
    """The population tables of models.recalibration are rule inputs: editing the one a
    biobank's recalibration.country names reruns its evaluation and its export (outputs made
    up to date with --touch, so nothing is computed)."""
    table = tmp_path / "pop table.tsv"
    shutil.copy(REPO / "igs/resources/recalibration/synthetic_gbd.tsv", table)
    cfg = {**SCORED, "biobanks": [{**SCORED["biobanks"][0], "recalibration": {"country": "Northland"}}],
           "models": {"recalibration": {"tables": {"Northland": table.name}}}}  # fmt: skip
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(cfg))
    target = ("results/tiny_a/export/CAD_risk.csv", "--configfile", "c.yaml")
    plan = snakemake(*target, "-n", "--forceall", cwd=tmp_path)
    assert plan.returncode == 0, plan.stderr
    outputs = [f.strip() for line in plan.stdout.splitlines() if line.startswith("    output: ")
               for f in line.removeprefix("    output: ").split(",")]  # fmt: skip
    assert outputs
    for f in map(tmp_path.joinpath, outputs):
        f.parent.mkdir(parents=True, exist_ok=True)
        f.mkdir() if f.name == "CAD" and f.parent.name == "fhir" else f.write_text("")
    assert snakemake(*target, "--touch", "--cores", "1", cwd=tmp_path).returncode == 0
    assert "Nothing to be done" in snakemake(*target, "-n", cwd=tmp_path).stdout
    rates = pd.read_csv(table, sep="\t")
    rates.loc[0, "rate"] *= 2
    rates.to_csv(table, sep="\t", index=False)
    out = snakemake(*target, "-n", cwd=tmp_path).stdout
    rules = {
        line.removeprefix("rule ").rstrip(":")
        for line in out.splitlines()
        if line.startswith("rule ")
    }
    assert rules == {"models_evaluate", "export_clinician"}, out
    assert f"Updated input files: {table.name}" in out
