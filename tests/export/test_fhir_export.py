"""FHIR export (issue #14 item 11): collision-free valid ids for any IID, safe file names, stale
staging removed, and concurrent exports that neither crash nor mix."""

from __future__ import annotations

import json
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pandas as pd
import pytest

from igs.export.clinician import EXPORT_COLUMNS, write_clinician_export
from igs.models import fit_cox
from tests.conftest import planted

FHIR_ID = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")  # FHIR R4 `id` datatype
IIDS = ["dup_a", "dup-a", "x" * 70 + "1", "x" * 70 + "2", "FIN:000001", "Åsa-Öberg/ß", "../escape",
        ".hidden", "A", "a"]  # fmt: skip


@pytest.fixture(scope="module")
def model():
    data, _ = planted(n=400)
    return fit_cox(data, ["sex_male", "bmi", "prs"], model_set="clinical_prs")


def table(iids: list[str], risk: float) -> pd.DataFrame:
    n = len(iids)
    t = pd.DataFrame({c: [False] * n for c in EXPORT_COLUMNS if c.startswith("flag_")})
    t = t.assign(IID=iids, endpoint="CAD", pgs_id="PGS_T", prs_raw=0.1, prs_z=0.2,
                 prs_percentile=55.0, integrative_lp=0.3, risk=risk, risk_low=risk / 2,
                 risk_high=min(2 * risk, 1.0), risk_recalibrated=float("nan"),
                 risk_recalibrated_low=float("nan"), risk_recalibrated_high=float("nan"),
                 recalibration_country="", horizon_years=10.0, risk_category="low",
                 most_similar_population="", most_similar_population_probability=float("nan"),
                 prs_z_most_similar_population=float("nan"),
                 prs_percentile_most_similar_population=float("nan"),
                 model_version="abc123", normalisation="none", qc_pass=True, qc_fail="")  # fmt: skip
    return t[list(EXPORT_COLUMNS)]


def resources(folder: Path) -> dict[str, dict]:
    return {p.name: json.loads(p.read_text(encoding="utf-8")) for p in folder.glob("*.json")}


def test_ids_and_file_names_for_awkward_iids(model, tmp_path):
    from fhir.resources.R4B.riskassessment import RiskAssessment

    write_clinician_export(table(IIDS, 0.07), model, ["PGS_T"], tmp_path, "CAD")
    got = resources(tmp_path / "fhir" / "CAD")
    assert len(got) == len(IIDS)  # one file each: no name collided or escaped the folder
    assert not (tmp_path / "fhir" / "escape").exists() and not list(tmp_path.glob("*.json"))
    ids = [r["id"] for r in got.values()]
    assert len(set(ids)) == len(IIDS) and all(FHIR_ID.match(i) for i in ids)
    assert sorted(r["subject"]["identifier"]["value"] for r in got.values()) == sorted(IIDS)
    for name, r in got.items():
        RiskAssessment.model_validate(r)
        assert re.fullmatch(r"[A-Za-z0-9._-]+", name) and not name.startswith(".")
    # the same person keeps the same id on a rerun (an EHR upsert replaces their own assessment)
    write_clinician_export(table(IIDS[::-1], 0.07), model, ["PGS_T"], tmp_path, "CAD")
    assert sorted(r["id"] for r in resources(tmp_path / "fhir" / "CAD").values()) == sorted(ids)
    csv = pd.read_csv(tmp_path / "CAD_risk.csv", dtype={"IID": str}, keep_default_na=False)
    assert sorted(csv["IID"]) == sorted(IIDS)


def test_stale_staging_is_removed(model, tmp_path):
    stale = tmp_path / "fhir" / ".CAD.k1ll3d"
    stale.mkdir(parents=True)
    (stale / "person.json").write_text("{}")
    (tmp_path / "fhir" / ".CAD.old").mkdir()
    other = tmp_path / "fhir" / ".T2D.k1ll3d"  # another endpoint's staging is not ours to remove
    other.mkdir()
    write_clinician_export(table(["p1", "p2"], 0.2), model, ["PGS_T"], tmp_path, "CAD")
    hidden = sorted(p.name for p in (tmp_path / "fhir").iterdir() if p.name.startswith("."))
    assert hidden == [".T2D.k1ll3d"]
    assert len(resources(tmp_path / "fhir" / "CAD")) == 2


def test_three_concurrent_exports_do_not_crash_or_mix(model, tmp_path):
    people = [f"P{i:03d}" for i in range(40)]
    risks = (0.01, 0.07, 0.3)

    def export(risk: float) -> None:
        write_clinician_export(table(people, risk), model, ["PGS_T"], tmp_path, "CAD")

    for _ in range(3):
        with ThreadPoolExecutor(max_workers=3) as pool:
            list(pool.map(export, risks))  # re-raises any exception of a worker
        csv = pd.read_csv(tmp_path / "CAD_risk.csv")
        fhir = resources(tmp_path / "fhir" / "CAD")
        assert len(csv) == len(fhir) == len(people)
        csv_risk = set(csv["risk"])
        fhir_risk = {r["prediction"][0]["probabilityDecimal"] for r in fhir.values()}
        assert len(csv_risk) == 1 and csv_risk == fhir_risk and csv_risk <= set(risks)
        assert not [p for p in (tmp_path / "fhir").iterdir() if p.name.startswith(".")]
