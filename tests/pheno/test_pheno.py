"""Phenotypes: the same endpoints from a plain table, an OMOP DuckDB file and an OMOP PostgreSQL
server; endpoint rules checked by hand; landmark features that cannot see the future; bad input."""

from __future__ import annotations

import glob
import json
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from igs import columns as C
from igs.errors import ConfigError, InputFormatError
from igs.pheno import (
    EndpointSpec,
    HealthRecords,
    build_endpoint,
    build_phenotypes,
    covariate_table,
    omics_landmark_features,
    read_omop_records,
    read_table_records,
    validate_records,
    write_omop,
)
from igs.pheno.records import empty_measurements
from tests.conftest import run_igs

ENDPOINTS = [
    EndpointSpec("CAD", icd10=("I21", "I25.1")),
    EndpointSpec("T2D", icd10=("E11",), time_scale="time_on_study"),
    EndpointSpec("CAD_at_60", icd10=("I21", "I25.1"), landmark_age=60.0, age_cap=None),
]


def table_records(cohort: Path) -> HealthRecords:
    return read_table_records(
        cohort / "clinical.tsv", cohort / "diagnoses.tsv", cohort / "omics.tsv.gz"
    )


def outputs(records: HealthRecords) -> dict[str, pd.DataFrame]:
    out = {ep.name: build_endpoint(records, ep) for ep in ENDPOINTS}
    out["covariates"] = covariate_table(records)
    out["omics"] = omics_landmark_features(records)
    return out


@pytest.fixture(scope="session")
def postgres_url():
    """A throw-away PostgreSQL server on loopback (Debian's postgresql package; `make system-deps`)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        pytest.fail(
            "PostgreSQL server binaries not found; run `make system-deps` (Debian postgresql)."
        )
    bindir = Path(found[-1]).parent
    root = Path(tempfile.mkdtemp(prefix="igs-pg-"))
    as_user: list[str] = []
    if os.geteuid() == 0:  # initdb refuses to run as root
        shutil.chown(root, "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    data = root / "data"

    def run(*args: str) -> None:
        subprocess.run([*as_user, *args], check=True, capture_output=True, text=True)

    run(str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "igs", "--no-sync")
    opts = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off"
    run(str(bindir / "pg_ctl"), "-D", str(data), "-o", opts, "-l", str(root / "log"), "-w", "start")
    try:
        run(str(bindir / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "igs", "omop")
        yield f"postgresql://igs@127.0.0.1:{port}/omop"
    finally:
        run(str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop")
        shutil.rmtree(root, ignore_errors=True)


def test_table_duckdb_and_postgres_give_identical_outputs(small_cohort, tmp_path, postgres_url):
    from_table = table_records(small_cohort)
    write_omop(from_table, tmp_path / "omop.duckdb")
    write_omop(from_table, postgres_url)
    expected = outputs(from_table)
    assert expected["CAD"]["event"].sum() > 10 and expected["T2D"]["event"].sum() > 10
    for url in (tmp_path / "omop.duckdb", postgres_url):
        got = outputs(read_omop_records(url))
        for name, table in expected.items():
            pd.testing.assert_frame_equal(got[name], table, obj=f"{name} from {url}")


def test_endpoints_by_omop_concept_equal_endpoints_by_icd10(small_cohort, tmp_path):
    records = table_records(small_cohort)
    write_omop(records, tmp_path / "omop.duckdb")
    omop = read_omop_records(tmp_path / "omop.duckdb")
    cad = omop.diagnoses[
        omop.diagnoses["code"].str.replace(".", "").str.startswith(("I21", "I251"))
    ]
    concepts = tuple(int(c) for c in cad["concept_id"].unique())
    by_concept = build_endpoint(omop, EndpointSpec("CAD", omop_concepts=concepts))
    pd.testing.assert_frame_equal(by_concept, build_endpoint(records, ENDPOINTS[0]))


def test_events_match_the_simulated_onsets(small_cohort):
    """Incident events are exactly the simulated onsets after entry, before exit and age 80."""
    records = table_records(small_cohort)
    cad = build_endpoint(records, ENDPOINTS[0]).set_index("IID")
    dx = pd.read_csv(small_cohort / "diagnoses.tsv", sep="\t", parse_dates=["date"])
    clin = pd.read_csv(small_cohort / "clinical.tsv", sep="\t", parse_dates=["birth_date", "entry_date", "end_of_followup", "death_date"]).set_index("IID")  # fmt: skip
    first = dx[dx["icd10"].str.match(r"I21|I25\.1")].groupby("IID")["date"].min()
    first = first.reindex(clin.index)
    age80 = clin["birth_date"] + pd.to_timedelta(80 * 365.25, unit="D")
    incident = (first > clin["entry_date"]) & (first <= clin["end_of_followup"]) & (first <= age80)
    included = cad["excluded"] == ""
    assert (cad.loc[included, "event"] == incident[included].astype(int)).all()
    assert (cad.loc[first <= clin["entry_date"], "excluded"] == "event_before_start").all()


def person(iid, sex="female", birth="1950-01-01", entry="2000-01-01", end="2020-01-01", death=None):
    return {
        C.IID: iid,
        C.SEX: sex,
        C.BIRTH_DATE: pd.Timestamp(birth),
        C.ENTRY_DATE: pd.Timestamp(entry),
        C.END_OF_FOLLOWUP: pd.Timestamp(end),
        C.DEATH_DATE: pd.Timestamp(death) if death else pd.NaT,
    }


def handmade(
    persons: list[dict], diagnoses: list[tuple[str, str, str]], measurements=None
) -> HealthRecords:
    p = pd.DataFrame(persons)
    cov = pd.DataFrame({C.IID: p[C.IID], C.BMI: 25.0, C.SMOKING: "never", C.SBP: 120.0})
    dx = pd.DataFrame(
        {
            C.IID: [d[0] for d in diagnoses],
            "date": pd.to_datetime([d[1] for d in diagnoses]),
            "code": [d[2] for d in diagnoses],
            "concept_id": pd.array([pd.NA] * len(diagnoses), dtype="Int64"),
        }
    )
    return HealthRecords(
        p, cov, dx, measurements if measurements is not None else empty_measurements(), "hand"
    )


def test_endpoint_rules_by_hand():
    records = handmade(
        [
            person("incident"),  # I21 in 2010: event at age 60.0
            person("prevalent"),  # I25.1 before entry
            person("died", death="2005-07-02"),  # competing death, no event
            person(
                "after_cap", birth="1925-01-01"
            ),  # I21 in 2010 at age 85: capped at 80, no event
            person("censored"),  # nothing: exit at end of follow-up (age 70)
            person("late_dx", end="2009-12-31"),  # diagnosis after end of follow-up: not an event
            person("other_code"),  # I10 only
        ],
        [
            ("incident", "2010-01-01", "I21.9"),
            ("incident", "2012-01-01", "I25.1"),
            ("prevalent", "1999-06-01", "I25.1"),
            ("after_cap", "2010-01-01", "I21.9"),
            ("late_dx", "2010-01-05", "I21.9"),
            ("other_code", "2010-01-01", "I10"),
        ],
    )
    t = build_endpoint(records, EndpointSpec("CAD", icd10=("I21", "I25.1"))).set_index("IID")
    years = lambda a, b: (pd.Timestamp(b) - pd.Timestamp(a)).days / 365.25  # noqa: E731
    assert t.loc["incident", "event"] == 1
    assert t.loc["incident", "exit_age"] == pytest.approx(years("1950-01-01", "2010-01-01"))
    assert t.loc["incident", "start_age"] == pytest.approx(years("1950-01-01", "2000-01-01"))
    assert t.loc["prevalent", "excluded"] == "event_before_start"
    assert (t.loc["died", ["event", "competing_death"]] == [0, 1]).all()
    assert t.loc["died", "exit_age"] == pytest.approx(years("1950-01-01", "2005-07-02"))
    assert t.loc["after_cap", "event"] == 0 and t.loc["after_cap", "exit_age"] == pytest.approx(
        80.0
    )
    assert t.loc["censored", "event"] == 0 and t.loc["censored", "exit_age"] == pytest.approx(
        70.0, abs=0.01
    )
    assert t.loc["late_dx", "event"] == 0
    assert t.loc["other_code", "event"] == 0
    assert set(t["excluded"]) == {"", "event_before_start"}

    on_study = build_endpoint(
        records, EndpointSpec("CAD", icd10=("I21",), time_scale="time_on_study")
    )
    row = on_study.set_index("IID").loc["incident"]
    assert row["start"] == 0 and row["stop"] == pytest.approx(years("2000-01-01", "2010-01-01"))

    at_55 = build_endpoint(
        records, EndpointSpec("CAD", icd10=("I21",), landmark_age=55.0)
    ).set_index("IID")
    assert at_55.loc["incident", "start_age"] == pytest.approx(55.0)
    assert at_55.loc["died", "excluded"] == "" and at_55.loc["died", "competing_death"] == 1
    at_57 = build_endpoint(records, EndpointSpec("CAD", icd10=("I21",), landmark_age=57.0))
    assert at_57.set_index("IID").loc["died", "excluded"] == "exit_before_landmark"
    assert at_55.loc["after_cap", "excluded"] == "entry_after_landmark"  # entered at 75
    old = handmade([person("old", birth="1905-01-01", entry="1990-01-01")], [])
    assert (
        build_endpoint(old, EndpointSpec("CAD", icd10=("I21",)))["excluded"][0]
        == "start_after_age_cap"
    )
    young = handmade([person("young", birth="1960-01-01")], [])
    assert (
        build_endpoint(young, EndpointSpec("CAD", icd10=("I21",), landmark_age=30.0))["excluded"][0]
        == "entry_after_landmark"
    )


def test_landmark_features_ignore_the_future(small_cohort):
    """The simulation plants a post-onset visit with a raised marker for every incident case;
    features at entry must not change when those, or any other later values, change."""
    records = table_records(small_cohort)
    base = omics_landmark_features(records)
    m = records.measurements
    entry = m[C.IID].map(records.persons.set_index(C.IID)[C.ENTRY_DATE])
    later = m["date"] > entry
    assert later.sum() > 100  # there are future measurements to leak
    wild = m.assign(value=np.where(later, 1e6, m[C.VALUE]))
    extra = pd.DataFrame(
        {
            C.IID: records.persons[C.IID],
            "date": records.persons[C.END_OF_FOLLOWUP],
            C.ANALYTE: "OM01",
            C.VALUE: -1e6,
        }
    )
    for changed in (m[~later], wild, pd.concat([m, extra], ignore_index=True)):
        other = HealthRecords(records.persons, records.covariates, records.diagnoses, changed, "x")
        pd.testing.assert_frame_equal(omics_landmark_features(other), base)
    # and it is not empty: the statistics are those of the pre-landmark values
    one = m[~later].groupby([C.IID, C.ANALYTE])[C.VALUE]
    sample = base.set_index(C.IID)
    np.testing.assert_allclose(
        sample["OM05_mean"].dropna(), one.mean().xs("OM05", level=1).reindex(sample.index).dropna()
    )


def test_slope_per_year_by_hand():
    meas = pd.DataFrame(
        {
            C.IID: ["a", "a", "a", "b"],
            "date": pd.to_datetime(["1990-01-01", "1992-01-01", "1994-01-01", "1999-01-01"]),
            C.ANALYTE: "OM01",
            C.VALUE: [1.0, 2.0, 3.0, 7.0],
        }
    )
    records = handmade([person("a"), person("b")], [], meas)
    f = omics_landmark_features(records).set_index(C.IID)
    assert f.loc["a", "OM01_slope_per_year"] == pytest.approx(0.5, rel=1e-3)
    assert f.loc["a", "OM01_last"] == 3.0 and f.loc["a", "OM01_n"] == 3
    assert f.loc["a", "OM01_sd"] == pytest.approx(1.0)
    assert np.isnan(f.loc["b", "OM01_slope_per_year"]) and f.loc["b", "OM01_n"] == 1


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda c, d, o: (pd.concat([c, c.iloc[:1]]), d, o), r"person\(s\) appear more than once"),
        (
            lambda c, d, o: (
                c.assign(end_of_followup=c["entry_date"].where(c.index > 0, "1900-01-01")),
                d,
                o,
            ),
            "negative follow-up",
        ),
        (
            lambda c, d, o: (c, d.assign(date=d["date"].where(d.index > 0, "2199-01-01")), o),
            "in the future",
        ),
        (
            lambda c, d, o: (c, d, o.assign(value=o["value"].where(o.index > 0, "high"))),
            r"column value has 1 non-numeric value\(s\)",
        ),
        (lambda c, d, o: (c.drop(columns="entry_date"), d, o), r"missing column\(s\) entry_date"),
        (
            lambda c, d, o: (c, d.assign(IID=d["IID"].where(d.index > 0, "nobody")), o),
            "not in the person table",
        ),
        (
            lambda c, d, o: (
                c.assign(birth_date=c["birth_date"].where(c.index > 0, "15/03/1950")),
                d,
                o,
            ),
            r"missing or non-date value\(s\)",
        ),
    ],
    ids=[
        "duplicate-person",
        "negative-followup",
        "future-date",
        "non-numeric-omics",
        "missing-column",
        "unknown-person",
        "bad-date",
    ],
)
def test_bad_records(small_cohort, tmp_path, edit, message):
    c = pd.read_csv(small_cohort / "clinical.tsv", sep="\t", dtype=str, keep_default_na=False)
    d = pd.read_csv(small_cohort / "diagnoses.tsv", sep="\t", dtype=str, keep_default_na=False)
    o = pd.read_csv(small_cohort / "omics.tsv.gz", sep="\t", dtype=str, keep_default_na=False)
    for df, name in zip(
        edit(c, d, o), ("clinical.tsv", "diagnoses.tsv", "omics.tsv.gz"), strict=True
    ):
        df.to_csv(tmp_path / name, sep="\t", index=False)
    with pytest.raises(InputFormatError, match=message):
        validate_records(table_records(tmp_path))


def test_genotype_overlap_and_outputs(small_cohort, tmp_path):
    records = table_records(small_cohort)
    fam = (
        pd.read_csv(small_cohort / "genotypes.fam", sep=r"\s+", header=None)[1]
        .astype(str)
        .to_numpy()
    )
    with pytest.raises(InputFormatError, match="only 0 of 3 genotyped samples"):
        build_phenotypes(records, ENDPOINTS[:1], tmp_path, genotype_iids=np.array(["x", "y", "z"]))
    assert not (tmp_path / "pheno").exists()
    summary = build_phenotypes(records, ENDPOINTS[:2], tmp_path, genotype_iids=fam[:500])
    assert summary["genotype_overlap"]["n_both"] == 500
    cad = pd.read_parquet(tmp_path / "pheno/CAD.parquet")
    assert len(cad) == 500 and summary["endpoints"]["CAD"]["n_events"] == cad["event"].sum()
    assert len(pd.read_parquet(tmp_path / "features/omics_landmark.parquet")) == 500
    assert (
        json.loads((tmp_path / "pheno/summary.json").read_text())["endpoints"]["T2D"]["n_included"]
        > 0
    )
    with pytest.raises(ConfigError, match="icd10 prefixes or omop_concepts"):
        build_endpoint(records, EndpointSpec("none"))


def test_cli_pheno_build_from_omop(small_cohort, tmp_path):
    proc = run_igs(
        "simulate", "omop", "--cohort-dir", str(small_cohort), "--out", str(tmp_path / "o.duckdb")
    )
    assert proc.returncode == 0, proc.stderr
    shutil.copy(small_cohort / "genotypes.fam", tmp_path / "g.fam")
    for suffix in (".bed", ".bim"):
        shutil.copy(small_cohort / f"genotypes{suffix}", tmp_path / f"g{suffix}")
    cfg = {
        "biobanks": [
            {"name": "x", "genotypes": {"path": str(tmp_path / "g"), "format": "bed"},
             "phenotypes": {"source": "omop", "omop_url": str(tmp_path / "o.duckdb")}}
        ],
        "pheno": {"endpoints": [{"name": "CAD", "icd10": ["I21", "I25.1"]}]},
    }  # fmt: skip
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(cfg))
    proc = run_igs("pheno", "build", "--config", str(tmp_path / "c.yaml"), "--biobank", "x",
                   "--genotype-samples", str(tmp_path / "g.fam"), "--out-dir", str(tmp_path / "r"))  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    ours = pd.read_parquet(tmp_path / "r/pheno/CAD.parquet")
    pd.testing.assert_frame_equal(ours, build_endpoint(table_records(small_cohort), ENDPOINTS[0]))
