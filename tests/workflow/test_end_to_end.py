"""One simulated biobank through every stage with the workflow (QC, scores, ancestry adjustment,
phenotypes from OMOP, models): the planted score effect is recovered, the integrative model beats
the clinical one, and the saved model applies through `igs models apply`. A second run of the same
config, killed twice in the middle of a stage and resumed, gives byte-identical results."""

from __future__ import annotations

import json
import math
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

from tests.conftest import REPO, require_tool, run_igs, snakemake, snakemake_command

pytestmark = pytest.mark.workflow

CONFIG = {
    "simulation": {"seed": 11, "n_variants": 3000, "chromosomes": ["1", "2", "3"]},
    "qc": {"ancestry_groups": 3},
    "biobanks": [
        {"name": "one", "simulate": {"n_samples": 4000, "seed": 21, "phenotype_source": "omop"},
         "recalibration": {"country": "Northland"}}
    ],
    "pheno": {"endpoints": [{"name": "CAD", "icd10": ["I21", "I25.1"], "score": "IGS_SIM_CAD"}]},
    "models": {"n_bootstrap": 30, "n_folds": 3, "penalizers": [0.0, 0.01],
               "recalibration": {"n_draws": 100, "tables": {
                   "Northland": str(REPO / "igs/resources/recalibration/synthetic_gbd.tsv")}}},
}  # fmt: skip


@pytest.fixture(scope="module")
def first_run(tmp_path_factory) -> Path:
    """The workflow run once, uninterrupted, on CONFIG."""
    tmp_path = tmp_path_factory.mktemp("first_run")
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(CONFIG))
    proc = snakemake("--cores", "2", "--configfile", "c.yaml", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return tmp_path


def test_simulated_biobank_end_to_end(first_run):
    tmp_path = first_run
    ev = tmp_path / "results/one/evaluate/CAD"
    truth = json.loads((tmp_path / "results/simulated/one/truth.json").read_text())
    planted = truth["model"]["diseases"]["CAD"]["log_hr"]["prs_sd"]
    hr = pd.read_csv(ev / "hr_per_sd.tsv", sep="\t").set_index("group").loc["all"]
    assert hr["hr_low"] < math.exp(planted) < hr["hr_high"]
    comp = pd.read_csv(ev / "comparison.tsv", sep="\t").set_index("model")
    assert comp.loc["clinical_prs_omics/cox", "harrell_c"] > comp.loc["clinical/cox", "harrell_c"]
    # the workflow hands the simulation's truth to the evaluation: the oracle C is filled in
    assert comp["oracle_harrell_c"].notna().all() and comp["oracle_harrell_c"].nunique() == 1
    steps = pd.read_csv(ev / "contributions.tsv", sep="\t")
    assert list(steps["step"]) == ["clinical", "+prs", "+omics"]
    assert (
        comp.loc["clinical_prs/cox", "cv_harrell_c_mean"]
        > comp.loc["clinical/cox", "cv_harrell_c_mean"]
    )
    for plot in ("cumulative_incidence", "calibration", "td_auc", "percentile_hr"):
        assert (ev / f"{plot}.png").stat().st_size > 5000

    # the share bundle holds no individual-level value and no cell below min_cell
    share = tmp_path / "results/one/share"
    text = "".join(p.read_text() for p in share.iterdir())
    fam = pd.read_csv(tmp_path / "results/one/qc/genotypes.fam", sep=r"\s+", header=None)
    assert not any(iid in text for iid in fam[1].astype(str))
    assert not re.search(r"\d{4}-\d{2}-\d{2}", text)
    raw = pd.read_csv(tmp_path / "results/one/scores/scores.tsv.gz", sep="\t")["SUM"]
    # a leaked score column would match most of 300 values; one value may equal another number
    # of the bundle to 6 digits by chance (a person's SUM was the female CAD log HR, 0.528335)
    assert sum(f"{v:.6g}" in text for v in raw.sample(300, random_state=0)) <= 1
    for name in ("counts.tsv", "prs_effects.tsv", "calibration.tsv"):
        table = pd.read_csv(share / name, sep="\t")
        counts = table[[c for c in table.columns if c.startswith(("n", "excluded_"))]].to_numpy(
            float
        )
        assert not ((counts > 0) & (counts < 5)).any(), name
    assert (tmp_path / "results/meta/pooled.tsv").is_file()
    # both the bundle and the export carry the provenance record, checksummed in the manifest
    prov = (tmp_path / "results/one/provenance.json").read_text()
    assert (share / "provenance.json").read_text() == prov
    assert "provenance.json" in json.loads((share / "manifest.json").read_text())["sha256"]
    assert (tmp_path / "results/one/export/CAD_provenance.json").read_text() == prov

    # the clinician export: one row and one valid FHIR R4 RiskAssessment per QC'd person
    from fhir.resources.R4B.riskassessment import RiskAssessment

    export = pd.read_csv(tmp_path / "results/one/export/CAD_risk.csv")
    assert len(export) == len(fam) and export["IID"].is_unique
    inside = (export["risk_low"] <= export["risk"]) & (export["risk"] <= export["risk_high"])
    assert inside.all() and export["risk"].between(0, 1).all()
    assert set(export["risk_category"]) <= {"low", "intermediate", "high"}
    assert export["flag_prevalent"].sum() > 0 and not export["flag_low_variant_match"].any()
    fhir = sorted((tmp_path / "results/one/export/fhir/CAD").glob("*.json"))
    assert len(fhir) == len(export)
    resource = RiskAssessment.model_validate_json(fhir[0].read_text())
    row = export.set_index("IID").loc[resource.subject.identifier.value]
    assert float(resource.prediction[0].probabilityDecimal) == pytest.approx(row["risk"], abs=1e-6)
    # beside it, the risk recalibrated to Northland's population, with its interval
    recal = export.dropna(subset=["risk_recalibrated"])
    assert len(recal) == export["prs_z"].notna().sum() > 0
    assert set(recal["recalibration_country"]) == {"Northland"}
    assert recal["risk_recalibrated"].between(0, 1).all()
    assert (recal["risk_recalibrated_low"] <= recal["risk_recalibrated"]).all()
    assert (recal["risk_recalibrated"] <= recal["risk_recalibrated_high"]).all()
    if pd.notna(row["risk_recalibrated"]):
        second = resource.prediction[1]
        assert float(second.probabilityDecimal) == pytest.approx(row["risk_recalibrated"], abs=1e-6)
        assert "Northland" in second.outcome.text
    curves = pd.read_csv(share / "recalibrated_incidence.tsv", sep="\t")
    assert set(curves["location"]) == {"Northland"} and "top_10%" in set(curves["group"])
    assert "IGS_SIM_CAD" in resource.note[0].text and row["model_version"] in resource.note[0].text

    # the run report is one self-contained file that a headless browser renders
    report = tmp_path / "results/report.html"
    page = report.read_text()
    assert "Biobank one" in page and "Meta-analysis" in page and "model comparison" in page
    assert "http://" not in page.replace("http://unitsofmeasure.org", "") and "<script" not in page
    assert page.count("data:image/png;base64,") >= 6
    assert "recalibrated to each population" in page
    shot = tmp_path / "report.png"
    subprocess.run([require_tool("chromium"), "--headless", "--no-sandbox", "--disable-gpu",
                    "--window-size=1200,2000", f"--screenshot={shot}", report.as_uri()],
                   capture_output=True, timeout=120, check=True)  # fmt: skip
    import matplotlib.image

    pixels = matplotlib.image.imread(shot)
    assert pixels.shape[:2] == (2000, 1200) and pixels[..., :3].std() > 0.05  # not a blank page

    # snakemake's own report carries the evaluation plots, the forest plot and the run report
    proc = snakemake("--configfile", "c.yaml", "--report", "smk_report.zip", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    import zipfile

    names = zipfile.ZipFile(tmp_path / "smk_report.zip").namelist()
    for plot in ("cumulative_incidence.png", "calibration.png", "forest_CAD.png", "report.html"):
        assert any(n.endswith(plot) for n in names), plot

    r = tmp_path / "results/one"
    proc = run_igs("models", "apply", "--model", str(ev / "model.json"),
                   "--options", str(r / "config/models.json"), "--endpoint-table", str(r / "pheno/CAD.parquet"),
                   "--covariates", str(r / "features/covariates.parquet"),
                   "--omics", str(r / "features/omics_landmark.parquet"),
                   "--scores", str(r / "scores/scores_adjusted.tsv.gz"), "--pcs", str(r / "qc/pcs.tsv"),
                   "--out", str(tmp_path / "risk.tsv"), "--metrics", str(tmp_path / "ext.json"), cwd=tmp_path)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    ext = json.loads((tmp_path / "ext.json").read_text())
    assert ext["harrell_c"] > 0.6 and 0.7 < ext["observed_expected"] < 1.4
    assert len(pd.read_csv(tmp_path / "risk.tsv", sep="\t")) == ext["n"]


def test_nothing_individual_leaves_the_biobank(first_run):
    """The disclosure checker passes on every file meant to leave the biobank (the share bundle,
    the model artifact `igs apply-model` ships, the meta-analysis, the run report), and is not
    blind on these data: the fitted baseline's exact event ages would be caught."""
    from igs.share.disclosure import check_files, individuals, outgoing_files

    r = first_run / "results"
    pheno = pd.read_parquet(r / "one/pheno/CAD.parquet")
    fam = pd.read_csv(r / "one/qc/genotypes.fam", sep=r"\s+", header=None)
    ids, ages = individuals(r, "one")  # every person ID, event and censoring age
    assert ids >= set(pheno["IID"].astype(str)) | set(fam[1].astype(str))
    assert set(pheno["exit_age"].dropna()) <= set(ages)
    models = sorted(r.glob("one/evaluate/*/model.json"))
    outgoing = outgoing_files(r, "one")
    assert models and {r / "one/share", *models, r / "meta", r / "report.html"} <= set(outgoing)
    assert check_files(outgoing, person_ids=ids, ages=ages, min_cell=5) == []
    model = json.loads(models[0].read_text())
    assert model["baseline_grid"] == {"grid": 1.0, "min_events": 5}
    events = pheno.loc[pheno["event"] == 1, "exit_age"]
    leaky = first_run / "leaky.json"
    leaky.write_text(json.dumps({"baseline_times": events.tolist(), "who": fam[1].iloc[0]}))
    found = {f.kind: f.detail for f in check_files([leaky], person_ids=ids, ages=ages)}
    assert found.keys() == {"exact_age", "person_id"}
    assert found["exact_age"].startswith(f"{len(events)} number(s)")


def _run_until(cwd: Path, started: Path, after_s: float) -> subprocess.CompletedProcess:
    """Run the workflow and SIGTERM it (and its jobs) ``after_s`` after ``started`` appears."""
    cmd = snakemake_command("--cores", "2", "--configfile", "c.yaml", cwd=cwd)
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, start_new_session=True, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)  # fmt: skip
    deadline = time.monotonic() + 600
    while not started.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert proc.poll() is None, f"the workflow ended before {started.name} appeared"
    time.sleep(after_s)
    os.killpg(proc.pid, signal.SIGTERM)
    out, _ = proc.communicate(timeout=120)
    return subprocess.CompletedProcess(cmd, proc.returncode, out, "")


def _result_files(root: Path) -> dict[str, object]:
    """Every file's bytes, except a DuckDB database: its tables' rows (DuckDB writes a fresh
    salt into each new file, so the simulated OMOP database and the provenance checksums of it,
    and of provenance.json in share manifests, differ between runs with the same content)."""
    import duckdb

    files: dict[str, object] = {}
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        name = str(path.relative_to(root))
        if path.suffix == ".duckdb":
            with duckdb.connect(str(path), read_only=True) as con:
                tables = [t for (t,) in con.execute("SHOW TABLES").fetchall()]
                files[name] = {
                    t: sorted(map(str, con.execute(f"FROM {t}").fetchall())) for t in tables
                }
        elif path.name in ("provenance.json", "CAD_provenance.json", "manifest.json"):
            record = json.loads(path.read_text())
            for key in ("inputs", "sha256"):
                for file in record.get(key, {}):
                    if file.endswith((".duckdb", "provenance.json")):
                        record[key][file] = "checksum of a DuckDB file or of a record naming one"
            files[name] = record
        else:
            files[name] = path.read_bytes()
    return files


def test_interrupted_run_resumes_to_identical_outputs(first_run, tmp_path):
    """Kill the workflow while scores are computed and again while models are evaluated; the
    resumed run's results equal the uninterrupted run's byte for byte (plots included), which
    also shows that two runs of one config give the same outputs."""
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(CONFIG))
    scores = tmp_path / "results/one/scores/scores.tsv.gz"
    killed = _run_until(tmp_path, tmp_path / "logs/one/scores/compute_all.log", after_s=0.5)
    assert killed.returncode != 0 and not scores.exists(), killed.stdout[-2000:]
    # finished stages are kept (scoring reads the simulated genotypes, not QC's output)
    assert (tmp_path / "results/simulated/one/genotypes.bed").is_file()

    metrics = tmp_path / "results/one/evaluate/CAD/metrics.json"
    # evaluation of 4,000 people takes seconds since the O(n log n) models stage: kill it at once
    killed = _run_until(tmp_path, tmp_path / "logs/one/evaluate/CAD.log", after_s=0.5)
    assert killed.returncode != 0 and scores.is_file() and not metrics.exists(), killed.stdout[
        -2000:
    ]
    # nothing half-written is left under a final name: every file present is complete
    partial = [p for p in (tmp_path / "results").rglob("*") if ".tmp" in p.name]
    assert not partial, partial

    profile = str(REPO / "workflow/profiles/local")
    proc = snakemake("--profile", profile, "--configfile", "c.yaml", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Nothing to be done" not in proc.stdout + proc.stderr

    first, resumed = _result_files(first_run / "results"), _result_files(tmp_path / "results")
    assert sorted(first) == sorted(resumed)
    differ = [name for name in first if first[name] != resumed[name]]
    assert not differ, differ
