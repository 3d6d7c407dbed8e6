"""The endpoint definition language, rule by rule, on tiny plain tables whose answers are worked
out by hand; the shipped library; bad definitions and bad code tables.

Everyone is born 1950-01-01, enters 2000-01-01 (age 50) and leaves 2020-01-01 (age 70) unless
said otherwise, so an event on 2010-01-01 is at age 60.0 (in years of 365.25 days).
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml

from igs.config import resolve_config
from igs.errors import ConfigError, InputFormatError
from igs.pheno import EndpointSpec, build_endpoint, build_phenotypes, read_table_records
from igs.pheno.definitions import library

REPO = Path(__file__).resolve().parents[2]
CLIN_HEADER = "IID\tsex\tbirth_date\tentry_date\tend_of_followup\tdeath_date\tbmi\tsmoking\tsbp"


def age(date: str) -> float:
    return (pd.Timestamp(date) - pd.Timestamp("1950-01-01")).days / 365.25


def write_records(
    folder: Path,
    people: dict[str, str],
    diagnoses: list[tuple[str, str, str, str, str]],
    medications: list[tuple[str, str, str]] = (),
):
    """people: IID -> sex; diagnoses: (IID, date, code, code_system, source)."""
    clin = [CLIN_HEADER] + [
        f"{i}\t{sex}\t1950-01-01\t2000-01-01\t2020-01-01\t\t25\tnever\t120"
        for i, sex in people.items()
    ]
    (folder / "clinical.tsv").write_text("\n".join(clin) + "\n")
    dx = ["IID\tdate\ticd10\tcode_system\tsource"] + ["\t".join(d) for d in diagnoses]
    (folder / "diagnoses.tsv").write_text("\n".join(dx) + "\n")
    med = ["IID\tdate\tatc"] + ["\t".join(m) for m in medications]
    (folder / "medications.tsv").write_text("\n".join(med) + "\n")
    return read_table_records(
        folder / "clinical.tsv",
        folder / "diagnoses.tsv",
        medications=folder / "medications.tsv",
    )


def endpoint(records, block: dict, others: dict | None = None) -> pd.DataFrame:
    spec = EndpointSpec.from_config(
        {"name": "E", **block}, age_cap=80.0, landmark_age=None, others=others
    )
    return build_endpoint(records, spec).set_index("IID")


def test_code_systems_icd10_icd9_icd8(tmp_path):
    records = write_records(
        tmp_path,
        {"icd9": "male", "icd8_old": "male", "other": "male", "icd10": "male"},
        [
            ("icd9", "2005-01-01", "410.9", "icd9", ""),
            ("icd8_old", "1990-01-01", "410", "icd8", ""),  # before entry: prevalent
            ("other", "2005-01-01", "I10", "", ""),  # empty code_system means icd10
            ("other", "2006-01-01", "411", "icd9", ""),  # icd9 411 is not in the list
            ("icd10", "2010-01-01", "I21.4", "", ""),
        ],
    )
    t = endpoint(records, {"icd10": ["I21"], "icd9": ["410"], "icd8": ["410"]})
    assert t.loc["icd9", "event"] == 1 and t.loc["icd9", "exit_age"] == pytest.approx(
        age("2005-01-01")
    )
    assert t.loc["icd8_old", "excluded"] == "event_before_start"
    assert t.loc["other", "event"] == 0 and t.loc["other", "exit_age"] == pytest.approx(
        70.0, abs=0.01
    )
    assert t.loc["icd10", "event"] == 1 and t.loc["icd10", "exit_age"] == pytest.approx(
        60.0, abs=0.01
    )
    # ICD-10 prefixes do not match ICD-9 codes: "410" as an icd10 prefix finds nothing
    assert endpoint(records, {"icd10": ["410"]})["event"].sum() == 0


def test_atc_medication_purchases(tmp_path):
    records = write_records(
        tmp_path,
        {"metformin": "female", "insulin": "female"},
        [],
        [
            ("metformin", "2010-06-01", "A10BA02"),
            ("metformin", "2011-01-01", "A10BA02"),
            ("insulin", "2010-06-01", "A10AB01"),
        ],
    )
    t = endpoint(records, {"atc": ["A10B"]})
    assert t.loc["metformin", "event"] == 1
    assert t.loc["metformin", "exit_age"] == pytest.approx(age("2010-06-01"))
    assert t.loc["metformin", "event_source"] == "medication"
    assert t.loc["insulin", "event"] == 0
    # an atc prefix does not match diagnoses, an icd10 prefix does not match purchases
    assert endpoint(records, {"icd10": ["A10"]})["event"].sum() == 0


def test_exclude_codes_before_the_start(tmp_path):
    records = write_records(
        tmp_path,
        {"t1_before": "male", "t1_after": "male", "t1_on_start": "male", "plain": "male"},
        [
            ("t1_before", "1995-01-01", "E10.9", "", ""),
            ("t1_before", "2010-01-01", "E11.9", "", ""),
            ("t1_after", "2012-01-01", "E10.9", "", ""),  # after the start: not excluded
            ("t1_after", "2010-01-01", "E11.9", "", ""),
            ("t1_on_start", "2000-01-01", "E10.9", "", ""),  # on the start date: excluded
            ("plain", "2010-01-01", "E11.9", "", ""),
        ],
    )
    t = endpoint(records, {"icd10": ["E11"], "exclude": {"icd10": ["E10"]}})
    assert t.loc["t1_before", "excluded"] == "exclude_code" and t.loc["t1_before", "event"] == 0
    assert t.loc["t1_on_start", "excluded"] == "exclude_code"
    assert t.loc["t1_after", "excluded"] == "" and t.loc["t1_after", "event"] == 1
    assert t.loc["plain", "excluded"] == "" and t.loc["plain", "event"] == 1


def test_sex_restriction(tmp_path):
    records = write_records(
        tmp_path,
        {"man": "male", "woman": "female"},
        [("man", "2010-01-01", "C61", "", "cancer"), ("woman", "2010-01-01", "C61", "", "")],
    )
    t = endpoint(records, {"icd10": ["C61"], "sex": "male"})
    assert t.loc["man", "event"] == 1 and t.loc["man", "excluded"] == ""
    assert t.loc["woman", "excluded"] == "other_sex" and t.loc["woman", "event"] == 0


def test_min_age(tmp_path):
    records = write_records(
        tmp_path,
        {"young_then_old": "male", "young_only": "male", "child": "male"},
        [
            ("young_then_old", "2005-01-01", "I21", "", ""),  # age 55: does not count
            ("young_then_old", "2012-01-01", "I21", "", ""),  # age 62: the event
            ("young_only", "2005-01-01", "I21", "", ""),
            ("child", "1995-01-01", "I21", "", ""),  # age 45, before entry: ignored, not prevalent
        ],
    )
    t = endpoint(records, {"icd10": ["I21"], "min_age": 60})
    assert t.loc["young_then_old", "event"] == 1
    assert t.loc["young_then_old", "exit_age"] == pytest.approx(age("2012-01-01"))
    assert t.loc["young_only", "event"] == 0
    assert t.loc["child", "excluded"] == "" and t.loc["child", "event"] == 0


def test_min_occurrences_and_sources(tmp_path):
    records = write_records(
        tmp_path,
        {"two_outpatient": "female", "one_outpatient": "female", "unsaid": "female"},
        [
            ("two_outpatient", "2005-01-01", "I48", "", "outpatient"),
            ("two_outpatient", "2007-01-01", "I48", "", "inpatient"),  # wrong source
            ("two_outpatient", "2009-01-01", "I48", "", "outpatient"),  # second outpatient
            ("one_outpatient", "2005-01-01", "I48", "", "outpatient"),
            ("one_outpatient", "2006-01-01", "I48", "", "inpatient"),
            ("unsaid", "2004-01-01", "I48", "", ""),  # no source given: counts for every source
            ("unsaid", "2008-01-01", "I48", "", "outpatient"),
        ],
    )
    t = endpoint(records, {"icd10": ["I48"], "min_occurrences": 2, "sources": ["outpatient"]})
    assert t.loc["two_outpatient", "event"] == 1
    assert t.loc["two_outpatient", "exit_age"] == pytest.approx(age("2009-01-01"))
    assert t.loc["two_outpatient", "event_source"] == "outpatient"
    assert t.loc["one_outpatient", "event"] == 0
    assert t.loc["unsaid", "exit_age"] == pytest.approx(age("2008-01-01"))
    first_any = endpoint(records, {"icd10": ["I48"], "sources": ["inpatient"]})
    assert first_any.loc["two_outpatient", "exit_age"] == pytest.approx(age("2007-01-01"))
    assert first_any.loc["unsaid", "event_source"] == "unspecified"


def test_any_of_composite(tmp_path):
    records = write_records(
        tmp_path,
        {"both": "male", "t1_only": "male", "neither": "male"},
        [
            ("both", "2010-01-01", "E10.9", "", "inpatient"),
            ("t1_only", "2011-01-01", "E10", "", ""),
        ],
        [("both", "2008-01-01", "A10BA02")],
    )
    others = {"T1": {"name": "T1", "icd10": ["E10"]}, "T2": {"name": "T2", "atc": ["A10B"]}}
    t = endpoint(records, {"any_of": ["T1", "T2"]}, others)
    assert t.loc["both", "exit_age"] == pytest.approx(age("2008-01-01"))
    assert t.loc["both", "event_source"] == "medication"
    assert t.loc["t1_only", "exit_age"] == pytest.approx(age("2011-01-01"))
    assert t.loc["neither", "event"] == 0


def test_summary_json_by_hand(tmp_path):
    """3 men, 3 women; men-only endpoint: 3 women other_sex, 1 man prevalent, 1 man excluded by
    code, 1 man with an incident event from the cancer registry."""
    records = write_records(
        tmp_path,
        {
            "m_prev": "male",
            "m_excl": "male",
            "m_case": "male",
            "f1": "female",
            "f2": "female",
            "f3": "female",
        },
        [
            ("m_prev", "1999-01-01", "C61", "", "inpatient"),
            ("m_excl", "1998-01-01", "D07.5", "", "outpatient"),
            ("m_case", "2010-01-01", "C61", "", "cancer"),
            ("m_case", "2011-01-01", "C61", "", "inpatient"),
            ("f1", "2010-01-01", "C61", "", ""),
        ],
    )
    spec = EndpointSpec.from_config(
        {"name": "PCA", "icd10": ["C61"], "sex": "male", "exclude": {"icd10": ["D07.5"]}},
        age_cap=80.0,
        landmark_age=None,
    )
    build_phenotypes(records, [spec], tmp_path / "out")
    s = json.loads((tmp_path / "out" / "pheno" / "summary.json").read_text())["endpoints"]["PCA"]
    assert s["n_persons"] == 6 and s["n_included"] == 1 and s["n_events"] == 1
    assert s["n_prevalent_excluded"] == 1
    assert s["excluded"] == {"event_before_start": 1, "exclude_code": 1, "other_sex": 3}
    assert s["events_by_source"] == {"cancer": 1}


def test_library_definitions_parse_and_cite():
    lib = library()
    wanted = {
        "CHD",
        "T2D",
        "AF",
        "BREAST_CANCER",
        "PROSTATE_CANCER",
        "COLORECTAL_CANCER",
        "ASTHMA",
        "GOUT",
        "HIP_OA",
        "KNEE_OA",
        "MDD",
        "EPILEPSY",
        "LUNG_CANCER",
        "AUD",
        "APPENDICITIS",
        "MELANOMA",
        "T1D",
        "RA",
    }
    assert wanted <= set(lib)
    cfg = resolve_config(
        {
            "results_dir": "results",
            "biobanks": [{"name": "a", "engine": "local", "simulate": {"n_samples": 100}}],
            "simulation": {},
            "pheno": {"endpoints": [{"use": name} for name in sorted(lib)]},
        },
        check_files=False,
    )
    resolved = {e["name"]: e for e in cfg["pheno"]["endpoints"]}
    for name in lib:
        e = resolved[name]
        assert e["citation"].strip() and e["description"].strip(), name
        spec = EndpointSpec.from_config(e, age_cap=80, landmark_age=None, others=resolved)
        assert spec.has_codes(), name
    assert resolved["BREAST_CANCER"]["sex"] == "female"
    assert resolved["PROSTATE_CANCER"]["sex"] == "male"
    for name, e in resolved.items():  # sex-specific by their description carry the restriction
        if "women only" in e["description"]:
            assert e["sex"] == "female", name
        if "men only" in e["description"] and "women" not in e["description"]:
            assert e["sex"] == "male", name
    # the repository's resources/endpoints is the packaged library
    shipped = sorted(p.name for p in (REPO / "resources" / "endpoints").glob("*.yaml"))
    assert shipped == sorted(f"{n}.yaml" for n in lib)


def config_with(endpoints: list[dict]) -> dict:
    return {
        "results_dir": "results",
        "biobanks": [{"name": "a", "engine": "local", "simulate": {"n_samples": 100}}],
        "simulation": {},
        "pheno": {"endpoints": endpoints},
    }


def test_use_and_overrides():
    cfg = resolve_config(
        config_with([{"use": "CHD"}, {"use": "T2D", "score": "PGS000036", "atc": ["A10B"]}]),
        check_files=False,
    )
    chd, t2d = cfg["pheno"]["endpoints"]
    assert (
        chd["name"] == "CHD"
        and chd["icd10"]
        == yaml.safe_load((REPO / "igs/resources/endpoints/CHD.yaml").read_text())["icd10"]
    )
    assert t2d["score"] == "PGS000036" and t2d["atc"] == ["A10B"] and t2d["icd10"] == ["E11"]


@pytest.mark.parametrize(
    ("endpoints", "message"),
    [
        (
            [{"use": "NOT_A_DISEASE"}],
            "unknown library endpoint use: 'NOT_A_DISEASE'; the library has: AF, APPENDICITIS",
        ),
        ([{"name": "X", "icd11": ["BA41"]}], "unknown key(s) 'icd11'; allowed keys:"),
        ([{"name": "X", "exclude": {"read2": ["G30"]}}], "unknown key(s) 'read2'; allowed keys:"),
        ([{"name": "X", "any_of": ["X"]}], "any_of refers back to itself: X -> X"),
        (
            [{"name": "A", "any_of": ["B"]}, {"name": "B", "any_of": ["A"]}],
            "any_of refers back to itself: A -> B -> A",
        ),
        (
            [{"name": "X", "any_of": ["NOPE"]}],
            "any_of names 'NOPE', which is neither an endpoint in pheno.endpoints nor in the library",
        ),
        ([{"name": "X", "sex": "female"}], "no codes; give icd10 prefixes or omop_concepts"),
        ([{"icd10": ["I21"]}], "give a `name` (or `use` a library endpoint)"),
        (
            [{"use": "CHD"}, {"name": "CHD", "icd10": ["I21"]}],
            "pheno.endpoints names must be unique; repeated: CHD",
        ),
    ],
)
def test_bad_definitions(endpoints, message):
    with pytest.raises(ConfigError) as err:
        resolve_config(config_with(endpoints), check_files=False)
    assert message in str(err.value)


@pytest.mark.parametrize(
    ("diagnoses", "medications", "message"),
    [
        (
            [("p", "2010-01-01", "BA41", "icd11", "")],
            [],
            "column code_system has unknown value(s) 'icd11'; expected one of icd10, icd9, icd8 (e.g. icd9)",
        ),
        (
            [("p", "2010-01-01", "I21", "", "gp")],
            [],
            "column source has unknown value(s) 'gp'; expected one of inpatient, outpatient, death, cancer (e.g. inpatient)",
        ),
        (
            [("p", "2010-01-01", "121.9", "icd10", "")],
            [],
            "malformed icd10 code(s), e.g. '121.9' (expected a code like I21.9)",
        ),
        ([("p", "2010-01-01", "I21", "icd9", "")], [], "malformed icd9 code(s), e.g. 'I21'"),
        ([], [("p", "2010-01-01", "metformin")], "malformed atc code(s), e.g. 'METFORMIN'"),
    ],
)
def test_bad_code_tables(tmp_path, diagnoses, medications, message):
    with pytest.raises(InputFormatError) as err:
        write_records(tmp_path, {"p": "male"}, diagnoses, medications)
    assert message in str(err.value)
    assert "diagnoses" in str(err.value) or "medications" in str(err.value)


def test_bad_library_file_and_unknown_component(monkeypatch):
    import igs.pheno.definitions as definitions

    monkeypatch.setattr(definitions, "library", lambda: {"BAD": {"icd10": "I21"}})
    with pytest.raises(ConfigError, match="invalid definition: 'I21' is not of type 'array'"):
        resolve_config(config_with([{"use": "BAD"}]), check_files=False)
    with pytest.raises(
        ConfigError,
        match=r"any_of names 'T9', which is not an endpoint in pheno.endpoints or the library",
    ):
        EndpointSpec.from_config({"name": "X", "any_of": ["T9"]}, age_cap=80, landmark_age=None)


def test_omop_descendants_source_codes_drugs_procedures_and_death_causes(tmp_path):
    """A tiny OMOP file from write_omop plus hand-added rows; every answer worked out by hand."""
    import duckdb

    from igs.pheno import read_omop_records, write_omop

    records = write_records(
        tmp_path,
        {"a": "male", "b": "male", "c": "female", "d": "female"},
        [
            ("a", "2010-01-01", "I21.9", "", "inpatient"),
            ("b", "2011-01-01", "I25.1", "", "outpatient"),
        ],
        [("c", "2012-01-01", "A10BA02")],
    )
    db = tmp_path / "omop.duckdb"
    write_omop(records, db)
    with duckdb.connect(str(db)) as con:
        concept = dict(
            con.execute(
                "SELECT vocabulary_id || ':' || concept_code, concept_id FROM concept"
            ).fetchall()
        )
        # d: an ICD-9 source concept (no standard mapping); b: a procedure; a: dies of I21.0
        con.execute(
            "INSERT INTO concept VALUES (2100000001, 'acute MI', 'Condition', 'ICD9CM', "
            "'4-dig billing code', NULL, '410.91', DATE '1970-01-01', DATE '2099-12-31')"
        )
        con.execute(
            "INSERT INTO condition_occurrence VALUES (99, 4, 0, DATE '2013-01-01', 32817, NULL, "
            "'xyz', 2100000001)"
        )
        con.execute(
            "INSERT INTO procedure_occurrence VALUES (1, 2, 4336464, DATE '2009-01-01', 32817, 'PCI')"
        )
        con.execute("INSERT INTO death VALUES (1, DATE '2015-06-01', 32817, 0, 'I21.0')")
        con.execute(
            "UPDATE observation_period SET observation_period_end_date = DATE '2015-06-01' "
            "WHERE person_id = 1"
        )
    got = read_omop_records(db)
    by_category = {"concepts": [concept["IGS:I21"]]}
    t = endpoint(got, {**by_category, "include_descendants": True})
    assert t.loc["a", "event"] == 1 and t.loc["a", "exit_age"] == pytest.approx(age("2010-01-01"))
    assert t.loc["a", "event_source"] == "inpatient"
    assert t["event"].sum() == 1  # only a's I21.9 lies below I21
    assert endpoint(got, by_category)["event"].sum() == 0  # I21 itself was never recorded
    drugs = endpoint(got, {"concepts": [concept["ATC:A10B"]], "include_descendants": True})
    assert drugs.loc["c", "event"] == 1 and drugs.loc["c", "event_source"] == "medication"
    assert drugs["event"].sum() == 1
    icd9 = endpoint(got, {"icd9": ["410"]})  # matched through condition_source_concept_id
    assert icd9.loc["d", "event"] == 1 and icd9.loc["d", "exit_age"] == pytest.approx(
        age("2013-01-01")
    )
    assert icd9["event"].sum() == 1
    assert endpoint(got, {"icd10": ["410"]})["event"].sum() == 0
    proc = endpoint(got, {"concepts": [4336464]})
    assert proc.loc["b", "event"] == 1 and proc.loc["b", "exit_age"] == pytest.approx(
        age("2009-01-01")
    )
    deaths = endpoint(got, {"icd10": ["I21.0"], "sources": ["death"]})
    assert deaths.loc["a", "event"] == 1 and deaths.loc["a", "event_source"] == "death"
    assert deaths.loc["a", "exit_age"] == pytest.approx(age("2015-06-01"))
    assert deaths["event"].sum() == 1
    outpatient = endpoint(got, {"icd10": ["I2"], "sources": ["outpatient"]})
    assert outpatient.loc["b", "event"] == 1 and outpatient.loc["a", "event"] == 0


def one_sex_data(n: int = 600):
    """Men-only endpoint data with a planted score effect (log HR 0.5 per SD)."""
    import numpy as np

    rng = np.random.default_rng(3)
    iid = [f"p{i}" for i in range(n)]
    male = rng.random(n) < 0.5
    prs = rng.normal(size=n)
    start = rng.uniform(40, 70, n)
    onset = start + rng.exponential(30 * np.exp(-0.5 * prs))
    stop = np.minimum(onset, start + 15)
    sex = np.where(male, "male", "female")
    ep = pd.DataFrame(
        {"IID": iid, "sex": sex, "entry_age": start, "start_age": start, "exit_age": stop,
         "start": start, "stop": stop, "event": (onset <= start + 15).astype(int),
         "competing_death": 0, "excluded": np.where(male, "", "other_sex"), "event_source": ""}
    )  # fmt: skip
    cov = pd.DataFrame({"IID": iid, "sex": sex, "bmi": 27.0, "sbp": 130.0, "smoking": "never"})
    scores = pd.DataFrame(
        {"IID": iid, "pgs_id": "S", "Z_norm2": prs, "SUM": prs, "percentile": 50.0}
    )
    pcs = pd.DataFrame({"IID": iid, **{f"PC{i}": rng.normal(size=n) for i in range(1, 5)}})
    return ep, cov, scores, pcs


def test_a_one_sex_endpoint_can_be_modelled():
    """Men only: the HR per SD equals lifelines' fit without the (constant) sex column."""
    from lifelines import CoxPHFitter

    from igs.models.dataset import assemble
    from igs.models.prs_effects import hr_per_sd

    ep, cov, scores, pcs = one_sex_data()
    data = assemble("PCA", ep, cov, scores, pcs, "S")
    got = hr_per_sd(data).set_index("group")
    male = (ep["sex"] == "male").to_numpy()
    prs = scores["Z_norm2"][male]
    men = pd.DataFrame(
        {"start": ep["start"][male], "stop": ep["stop"][male], "event": ep["event"][male],
         "prs_sd": (prs - prs.mean()) / prs.std(ddof=1),
         **{f"PC{i}": pcs[f"PC{i}"][male] for i in range(1, 5)}}
    )  # fmt: skip
    ref = CoxPHFitter().fit(
        men, "stop", "event", entry_col="start", fit_options={"precision": 1e-9}
    )
    assert got.loc["all", "log_hr"] == pytest.approx(ref.params_["prs_sd"], abs=1e-6)
    assert "female" not in got.index


def test_export_leaves_out_the_other_sex(tmp_path):
    """A men-only endpoint's clinician export has no row (no risk) for a woman."""
    from igs.export.clinician import clinician_table
    from igs.models.dataset import assemble
    from igs.models.evaluate import EvaluationSettings, fit_model_set

    ep, cov, scores, pcs = one_sex_data()
    model = fit_model_set(
        assemble("PCA", ep, cov, scores, pcs, "S"), "clinical_prs", EvaluationSettings()
    )
    model.to_json(tmp_path / "model.json")
    everyone = assemble("PCA", ep, cov, scores, pcs, "S", only_included=False)
    table = clinician_table(
        everyone, ep.set_index("IID").loc[everyone.iid, "excluded"].to_numpy(), scores, model,
        tmp_path / "model.json", pgs_id="S", match_rate=1.0, horizon=10.0,
        thresholds=(0.05, 0.1), labels=("low", "intermediate", "high"), min_match_rate=0.75,
    )  # fmt: skip
    men = set(ep.loc[ep["sex"] == "male", "IID"])
    assert set(table["IID"]) == men and table["risk"].notna().all()


def test_simulated_records_for_the_demo_endpoints(small_cohort):
    """Prostate cancer only in genetic men, from the cancer registry; metformin only after a
    T2D onset; CAD/T2D diagnoses are inpatient first, outpatient after."""
    dx = pd.read_csv(small_cohort / "diagnoses.tsv", sep="\t", parse_dates=["date"])
    med = pd.read_csv(small_cohort / "medications.tsv", sep="\t", parse_dates=["date"])
    truth = pd.read_csv(small_cohort / "truth_samples.tsv.gz", sep="\t").set_index("IID")
    c61 = dx[dx["icd10"] == "C61"]
    assert len(c61) > 0 and (c61["source"] == "cancer").all()
    assert (truth.loc[c61["IID"], "genetic_sex"] == "male").all()
    first_t2d = dx[dx["icd10"].str.startswith("E11")].groupby("IID")["date"].min()
    assert set(med["atc"]) == {"A10BA02"} and med["IID"].isin(first_t2d.index).all()
    assert (med.groupby("IID")["date"].min() > first_t2d.reindex(med["IID"].unique())).all()
    cad = dx[dx["icd10"].isin(["I21.9", "I25.1"])].sort_values(["IID", "date"], kind="stable")
    assert (cad.groupby("IID")["source"].first() == "inpatient").all()
