"""Bad inputs a user could give, each answered by an igs error that names the problem.

The errors already provoked by the stage tests (truncated .bed, duplicate IDs, missing columns,
no events, ...) are not repeated here; `docs/input_validation.md` lists every check with the test
that provokes it, and `tests/validation/test_validation_docs.py` keeps that table true.
"""

from __future__ import annotations

import json
import shutil
import sys
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import yaml

from igs.errors import ConfigError, IGSError, InputFormatError
from igs.io import plink

# --------------------------------------------------------------------------- genotype files
from tests.conftest import planted_scores, run_igs, survival_inputs


def copy_fileset(src: Path, dst: Path, fmt: str = "bed") -> Path:
    """A copy of the cohort's genotype files as ``dst/g.*`` (to be broken by a test)."""
    dst.mkdir(parents=True, exist_ok=True)
    for path in plink.fileset_paths(src / "genotypes", fmt).values():  # type: ignore[arg-type]
        shutil.copy(path, dst / f"g{path.suffix}")
    return dst / "g"


def test_pvar_without_header(small_cohort, tmp_path):
    prefix = copy_fileset(small_cohort, tmp_path, "pgen")
    lines = Path(f"{prefix}.pvar").read_text().splitlines(keepends=True)
    Path(f"{prefix}.pvar").write_text("".join(line for line in lines if not line.startswith("#")))
    with pytest.raises(InputFormatError, match="expected a header line '#CHROM POS ID REF ALT'"):
        plink.open_genotypes(prefix, "pgen")


def test_pvar_with_multiallelic_sites(tmp_path):
    (tmp_path / "g.pvar").write_text("#CHROM\tPOS\tID\tREF\tALT\n1\t10\trs1\tA\tC,G\n")
    with pytest.raises(InputFormatError, match="multi-allelic ALT alleles found; split them first"):
        plink.read_pvar(tmp_path / "g.pvar")


def test_psam_without_iid(tmp_path):
    (tmp_path / "g.psam").write_text("#FID\tSEX\nf1\t1\n")
    with pytest.raises(InputFormatError, match="no IID column in the header"):
        plink.read_psam(tmp_path / "g.psam")


def test_unknown_genotype_format(small_cohort):
    with pytest.raises(
        InputFormatError,
        match="unknown genotype format 'gen'; expected 'bed', 'pgen', 'vcf' or 'bgen'",
    ):
        plink.open_genotypes(small_cohort / "genotypes", "gen")  # type: ignore[arg-type]


def test_empty_fam(small_cohort, tmp_path):
    prefix = copy_fileset(small_cohort, tmp_path)
    Path(f"{prefix}.fam").write_text("")
    with pytest.raises(InputFormatError, match=r"g\.fam: file is empty"):
        plink.open_genotypes(prefix)


def test_bed_cut_short_while_reading(small_cohort, tmp_path):
    prefix = copy_fileset(small_cohort, tmp_path)
    gset = plink.open_genotypes(prefix)  # sizes check out when opened ...
    bed = Path(f"{prefix}.bed")
    bed.write_bytes(bed.read_bytes()[: bed.stat().st_size // 2])  # ... then the file shrinks
    with pytest.raises(InputFormatError, match=r"g\.bed: file ended early \(truncated\?\)"):
        for _ in plink.iter_bed_rows(gset, np.arange(gset.n_variants), chunk_variants=500):
            pass


def test_corrupt_pgen(small_cohort, tmp_path):
    prefix = copy_fileset(small_cohort, tmp_path, "pgen")
    Path(f"{prefix}.pgen").write_bytes(b"not a pgen at all")
    with pytest.raises(InputFormatError, match=r"g\.pgen: cannot be read as a \.pgen file"):
        plink.open_genotypes(prefix, "pgen")


def test_every_sample_fails_call_rate(small_cohort):
    from igs.qc import QCOptions, run_local_qc

    gset = plink.open_genotypes(small_cohort / "genotypes")
    with pytest.raises(InputFormatError, match=r"pass the call-rate filter \(1.0\); nothing left"):
        run_local_qc(gset, QCOptions(sample_call_rate=1.0))


def test_local_engine_does_not_read_vcf(tmp_path):
    """QC needs hard calls from bed/pgen (scoring reads VCF/BGEN dosages: tests/scores/test_scores_sum.py)."""
    extra = ["--out-dir", str(tmp_path / "o")]
    proc = run_igs(
        "qc", "run", "--genotypes", str(tmp_path / "x.vcf.gz"), "--format", "vcf", *extra
    )
    assert proc.returncode == 2, proc.stderr
    assert "the local engine reads bed or pgen, not vcf; use --engine hail" in proc.stderr


def test_hail_engine_does_not_read_pgen():
    from igs.io.hail import read_matrix_table

    with pytest.raises(ConfigError, match="the Hail engine reads bed, vcf or bgen, not 'pgen'"):
        read_matrix_table("x", "pgen", hl=None)


def test_vcf_without_variants(tmp_path):
    from igs.io.hail import read_matrix_table

    vcf = tmp_path / "x.vcf"
    vcf.write_text("##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n")
    hail = SimpleNamespace(import_vcf=lambda *args, **kwargs: None)
    with pytest.raises(InputFormatError, match=r"x\.vcf: no variant lines in the VCF"):
        read_matrix_table(str(vcf), "vcf", hl=hail)


def test_hail_missing_is_named(monkeypatch):
    from igs.io.hail import import_hail

    monkeypatch.setitem(sys.modules, "hail", None)  # as if `igs[hail]` were not installed
    with pytest.raises(
        ConfigError, match=r"engine 'hail' needs the optional dependency: pip install 'igs\[hail\]'"
    ):
        import_hail()


# --------------------------------------------------------------------------- health records


def clinical_edit(small_cohort: Path, tmp_path: Path, column: str, row: int, value: str):
    """The small cohort's records with one clinical cell changed."""
    from igs.pheno.records import read_table_records

    c = pd.read_csv(small_cohort / "clinical.tsv", sep="\t", dtype=str, keep_default_na=False)
    c.loc[row, column] = value
    c.to_csv(tmp_path / "clinical.tsv", sep="\t", index=False)
    return read_table_records(
        tmp_path / "clinical.tsv", small_cohort / "diagnoses.tsv", small_cohort / "omics.tsv.gz"
    )


@pytest.mark.parametrize(
    ("column", "value", "message"),
    [
        ("sex", "unknown", "row(s) where sex is not 'male' or 'female', e.g. person"),
        ("entry_date", "1900-01-01", "entry_date is before birth_date"),
        ("death_date", "1960-01-01", "death_date is before entry_date"),
        ("death_date", "2099-01-01", "death_date is after end_of_followup"),
        ("smoking", "sometimes", "smoking is not one of"),
    ],
    ids=["sex", "entry-before-birth", "death-before-entry", "death-after-end", "smoking"],
)
def test_inconsistent_person_rows(small_cohort, tmp_path, column, value, message):
    from igs.pheno.records import validate_records

    records = clinical_edit(small_cohort, tmp_path, column, 3, value)
    with pytest.raises(InputFormatError, match=message.replace("(", r"\(").replace(")", r"\)")):
        validate_records(records, today=pd.Timestamp("2100-01-01").date())


def test_result_table_without_its_columns(tmp_path):
    from igs.io.tables import read_tsv

    (tmp_path / "report.tsv").write_text("pgs_id\tweight\nP\t1\n")
    with pytest.raises(
        InputFormatError,
        match=r"report\.tsv: missing column\(s\) target_index; found pgs_id, weight",
    ):
        read_tsv(tmp_path / "report.tsv", columns=["pgs_id", "target_index"])
    with pytest.raises(InputFormatError, match=r"none\.tsv: file not found"):
        read_tsv(tmp_path / "none.tsv")
    (tmp_path / "ragged.tsv").write_text("a\tb\n1\t2\t3\n")
    with pytest.raises(
        InputFormatError, match=r"ragged\.tsv: cannot be read as a tab-separated table"
    ):
        read_tsv(tmp_path / "ragged.tsv")


def test_unreadable_and_missing_record_tables(small_cohort, tmp_path):
    from igs.pheno.records import read_table_records

    (tmp_path / "clinical.parquet").write_bytes(b"PAR1 but not really")
    with pytest.raises(InputFormatError, match="cannot read the clinical table"):
        read_table_records(tmp_path / "clinical.parquet")
    with pytest.raises(InputFormatError, match=r"nope\.tsv: diagnoses file not found"):
        read_table_records(small_cohort / "clinical.tsv", tmp_path / "nope.tsv")


def test_omop_sources_that_cannot_be_read(small_cohort, tmp_path):
    import duckdb

    from igs.pheno.omop import read_omop_records, write_omop
    from igs.pheno.records import read_table_records

    with pytest.raises(InputFormatError, match=r"none\.duckdb: OMOP DuckDB file not found"):
        read_omop_records(tmp_path / "none.duckdb")
    with pytest.raises(InputFormatError, match="cannot connect to the OMOP database"):
        read_omop_records("postgresql://igs@127.0.0.1:9/omop?connect_timeout=3")
    duckdb.connect(str(tmp_path / "empty.duckdb")).close()
    with pytest.raises(InputFormatError, match="OMOP query failed"):
        read_omop_records(tmp_path / "empty.duckdb")
    records = read_table_records(
        small_cohort / "clinical.tsv", small_cohort / "diagnoses.tsv", small_cohort / "omics.tsv.gz"
    )
    write_omop(records, tmp_path / "omop.duckdb")
    with duckdb.connect(str(tmp_path / "omop.duckdb")) as con:
        con.execute(
            "UPDATE measurement SET value_as_number = NULL WHERE measurement_id = "
            "(SELECT max(measurement_id) FROM measurement)"
        )
    with pytest.raises(
        InputFormatError,
        match="measurement(s) have no numeric value_as_number".replace("(", r"\(").replace(
            ")", r"\)"
        ),
    ):
        read_omop_records(tmp_path / "omop.duckdb")


# --------------------------------------------------------------------------- scoring files, ancestry

HEADER = "#pgs_id=PGS_T\n#genome_build=GRCh38\n"


def test_scoring_file_that_is_not_a_table(tmp_path):
    from igs.scores.scorefile import read_scoring_file

    (tmp_path / "bad.txt").write_text(
        HEADER
        + "chr_name\tchr_position\teffect_allele\teffect_weight\n1\t1\tA\t1\n1\t2\tA\t1\t9\t9\n"
    )
    with pytest.raises(InputFormatError, match="cannot be parsed as a tab-separated scoring file"):
        read_scoring_file(tmp_path / "bad.txt")
    with pytest.raises(InputFormatError, match=r"none\.txt: scoring file not found"):
        read_scoring_file(tmp_path / "none.txt")


def test_two_scoring_files_with_one_pgs_id(small_cohort, tmp_path):
    body = "chr_name\tchr_position\teffect_allele\teffect_weight\n1\t1\tA\t1\n"
    for name in ("a.txt", "b.txt"):
        (tmp_path / name).write_text(HEADER + body)
    proc = run_igs("scores", "match", "--genotypes", str(small_cohort / "genotypes"),
                   "--genome-build", "GRCh38", "--min-overlap", "0", "--report", str(tmp_path / "r.tsv.gz"),
                   "--summary", str(tmp_path / "s.tsv"), str(tmp_path / "a.txt"), str(tmp_path / "b.txt"))  # fmt: skip
    assert proc.returncode == 3 and "two scoring files share a pgs_id: 'PGS_T'" in proc.stderr


def test_reference_panel_problems():
    from igs.scores.ancestry import adjust_scores

    scores, pcs = planted_scores()
    with pytest.raises(IGSError, match="P: the reference has no scores for it"):
        adjust_scores(scores, pcs, reference_scores=scores.assign(pgs_id="Q"), reference_pcs=pcs)
    with pytest.raises(IGSError, match=r"P: 10 reference sample\(s\) have no PCs, e.g. s390"):
        adjust_scores(scores, pcs, reference_scores=scores, reference_pcs=pcs.iloc[:-10])
    with pytest.raises(
        IGSError, match=r"P: 10 scored sample\(s\) have no PCs, e.g. s390; project them"
    ):
        adjust_scores(scores, pcs.iloc[:-10], reference_scores=scores, reference_pcs=pcs)


def test_gamma_glm_that_does_not_converge():
    from igs.scores.ancestry import fit_gamma_log_glm

    rng = np.random.default_rng(0)
    x = np.column_stack([np.ones(200), rng.normal(size=200)])
    with pytest.raises(IGSError, match="the gamma GLM for the score variance did not converge"):
        fit_gamma_log_glm(x, rng.gamma(1.0, np.exp(x[:, 1])), max_iter=1)


def test_reference_scores_need_reference_pcs(tmp_path):
    scores, pcs = planted_scores()
    scores.to_csv(tmp_path / "s.tsv", sep="\t", index=False)
    pcs.to_csv(tmp_path / "p.tsv", sep="\t", index=False)
    proc = run_igs("scores", "adjust", "--scores", str(tmp_path / "s.tsv"), "--pcs", str(tmp_path / "p.tsv"),
                   "--reference-scores", str(tmp_path / "s.tsv"),
                   "--out", str(tmp_path / "a.tsv.gz"), "--models", str(tmp_path / "m.json"))  # fmt: skip
    assert (
        proc.returncode == 2 and "--reference-scores and --reference-pcs go together" in proc.stderr
    )


# --------------------------------------------------------------------------- models


def test_model_data_that_do_not_join():
    from igs.models.dataset import assemble

    endpoint, covariates, scores, pcs = survival_inputs()
    with pytest.raises(IGSError, match="CAD: no scores for Q; the scores table has P"):
        assemble("CAD", endpoint, covariates, scores, pcs, "Q")
    with pytest.raises(IGSError, match="CAD: no person has both follow-up and scores/PCs"):
        assemble("CAD", endpoint, covariates, scores.assign(IID="other"), pcs, "P")


def test_cox_solver_problems():
    from igs.models.coxsolver import cox_fit

    rng = np.random.default_rng(3)
    stop = rng.uniform(1, 5, 100)
    event = np.ones(100, bool)
    x = -stop[:, None]  # whoever fails has the highest x of everyone still at risk
    with pytest.raises(IGSError, match="the Cox model did not converge; a feature may separate"):
        cox_fit(x, np.zeros(100), stop, event)
    with pytest.raises(IGSError, match="an event time has nobody at risk; check that start < stop"):
        cox_fit(x, stop + 1, stop, event)


def test_saved_model_problems(tmp_path):
    from igs.models.cox import CoxModel, fit_cox
    from igs.models.dataset import assemble

    endpoint, covariates, scores, pcs = survival_inputs(n=600)
    data = assemble("CAD", endpoint, covariates, scores, pcs, "P")
    model = fit_cox(data, ["prs", "bmi"])
    with pytest.raises(IGSError, match=r"CAD: the data lack the model's feature\(s\) bmi"):
        model.linear_predictor(data.features.drop(columns="bmi"))
    model.to_json(tmp_path / "m.json")
    saved = json.loads((tmp_path / "m.json").read_text())
    (tmp_path / "m.json").write_text(json.dumps(saved | {"artifact_version": 0}))
    with pytest.raises(IGSError, match="model artifact version 0 is not"):
        CoxModel.from_json(tmp_path / "m.json")
    # the solver's own error gains the endpoint, the model set and what to change
    separated = data.features.assign(bmi=np.where(data.event, 1000 - data.stop, 0.0))
    bad = replace(data, features=separated)
    with pytest.raises(
        IGSError, match=r"CAD \(custom\): .*Increase models.penalizers or remove the feature"
    ):
        fit_cox(bad, ["bmi"])


def endpoint_config(tmp_path: Path, endpoints: list[dict]) -> Path:
    (tmp_path / "g.bed").write_bytes(b"")
    for suffix in (".bim", ".fam"):
        (tmp_path / f"g{suffix}").write_text("")
    (tmp_path / "c.tsv").write_text("")
    cfg = {
        "biobanks": [{"name": "x", "genotypes": {"path": str(tmp_path / "g"), "format": "bed"},
                      "phenotypes": {"source": "table", "clinical": str(tmp_path / "c.tsv")}}],
        "pheno": {"endpoints": endpoints},
    }  # fmt: skip
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(cfg))
    return tmp_path / "c.yaml"


@pytest.mark.parametrize(
    ("endpoints", "endpoint", "message"),
    [
        ([{"name": "CAD", "icd10": ["I21"], "score": "P"}], "T2D", "unknown endpoint 'T2D'; pheno.endpoints defines: CAD"),
        ([{"name": "CAD", "icd10": ["I21"]}], "CAD", "pheno.endpoints (CAD) needs `score`: the pgs_id to model"),
    ],
    ids=["unknown-endpoint", "endpoint-without-score"],
)  # fmt: skip
def test_evaluate_names_the_endpoint_problem(tmp_path, endpoints, endpoint, message):
    config = endpoint_config(tmp_path, endpoints)
    files = []
    for option in ("--endpoint-table", "--covariates", "--omics", "--scores", "--pcs"):
        (tmp_path / option[2:]).write_text("")
        files += [option, str(tmp_path / option[2:])]
    proc = run_igs("models", "evaluate", "--config", str(config), "--endpoint", endpoint, *files,
                   "--out-dir", str(tmp_path / "ev"))  # fmt: skip
    assert proc.returncode == 2 and message in proc.stderr, proc.stderr


def test_pheno_build_without_endpoints(tmp_path):
    config = endpoint_config(tmp_path, [])
    proc = run_igs("pheno", "build", "--config", str(config), "--biobank", "x",
                   "--out-dir", str(tmp_path / "r"))  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    assert "pheno.endpoints is empty; define at least one endpoint" in proc.stderr


# --------------------------------------------------------------------------- share bundles, config


def test_share_bundle_problems(tmp_path):
    from igs.share.bundle import read_bundle
    from tests.conftest import bundle

    (tmp_path / "empty").mkdir()
    with pytest.raises(InputFormatError, match=r"empty: not a share bundle \(no manifest.json\)"):
        read_bundle(tmp_path / "empty")
    path = bundle(tmp_path, "bb", 0.3, 0.05)
    proc = run_igs("share", "meta", str(path), str(path), "--out-dir", str(tmp_path / "meta"))
    assert proc.returncode == 3 and "a second bundle from biobank 'bb'" in proc.stderr
    manifest = json.loads((path / "manifest.json").read_text())
    (path / "manifest.json").write_text(json.dumps(manifest | {"schema_version": "9.0"}))
    with pytest.raises(InputFormatError, match=r"bundle schema 9\.0 is not"):
        read_bundle(path)


def test_config_files_that_cannot_be_read(tmp_path):
    from igs.config import load_config

    with pytest.raises(ConfigError, match=r"config file .*none\.yaml not found"):
        load_config(tmp_path / "none.yaml")
    proc = run_igs("config", "validate", str(tmp_path / "none.yaml"))
    assert proc.returncode == 2 and "none.yaml not found or empty" in proc.stderr


@pytest.mark.parametrize(
    ("phenotypes", "message"),
    [
        ({"source": "table"}, "phenotypes: source 'table' needs a `clinical` file"),
        ({"source": "omop"}, "phenotypes: source 'omop' needs `omop_url`"),
        ({"source": "omop", "omop_url": "nowhere.duckdb"}, "phenotypes.omop_url: DuckDB file nowhere.duckdb not found"),
    ],
    ids=["table-without-clinical", "omop-without-url", "omop-file-missing"],
)  # fmt: skip
def test_phenotype_source_problems(tmp_path, phenotypes, message):
    from igs.config import resolve_config

    (tmp_path / "g.bed").write_bytes(b"")
    for suffix in (".bim", ".fam"):
        (tmp_path / f"g{suffix}").write_text("")
    bb = {
        "name": "x",
        "genotypes": {"path": str(tmp_path / "g"), "format": "bed"},
        "phenotypes": phenotypes,
    }
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        resolve_config({"biobanks": [bb]})


def test_simulated_cohort_too_small(tmp_path):
    proc = run_igs("simulate", "cohort", "--out-dir", str(tmp_path / "c"), "--name", "c",
                   "--n-samples", "10", "--n-variants", "500", "--chromosomes", "1")  # fmt: skip
    assert proc.returncode == 2 and "n_samples=10 is too small" in proc.stderr, proc.stderr


def test_lifelines_convergence_failure_is_named(monkeypatch):
    import lifelines
    from lifelines.exceptions import ConvergenceError

    from igs.models.cox import fit_cox
    from igs.models.dataset import assemble

    def fail(*args, **kwargs):
        raise ConvergenceError("Convergence halted due to matrix inversion problems.")

    monkeypatch.setattr(lifelines.CoxPHFitter, "fit", fail)
    data = assemble("CAD", *survival_inputs(n=600), "P")
    with pytest.raises(
        IGSError,
        match=r"CAD: the Cox model did not converge \(Convergence halted .*\); a feature may separate events perfectly",
    ):
        fit_cox(data, ["bmi"], engine="lifelines")


def test_config_missing_required_key():
    from igs.config import resolve_config

    bb = {
        "name": "x",
        "genotypes": {"path": "g"},
        "phenotypes": {"source": "table", "clinical": "c"},
    }
    with pytest.raises(
        ConfigError,
        match=r"1 problem\(s\) in the configuration:\n- biobanks\[0\].genotypes: 'format' is a required property",
    ):
        resolve_config({"biobanks": [bb]}, check_files=False)
