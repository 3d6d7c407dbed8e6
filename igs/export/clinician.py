"""One row per person for clinicians, and one FHIR R4 ``RiskAssessment`` per person.

Per person and endpoint: the polygenic score (raw SUM, ancestry-adjusted Z_norm2 and its
percentile in the biobank's reference), the integrative model's linear predictor, the absolute
risk over the horizon from the landmark (study entry) with a 95% interval (coefficient
uncertainty, baseline hazard taken as known), a risk category from configured thresholds, and
applicability flags. Beside that biobank-baseline risk, ``risk_recalibrated`` is the risk over
the same horizon in the population of ``recalibration_country`` (the biobank's
``recalibration.country``): that country's incidence and competing mortality for the person's
sex and current age with the score's sex- and age-specific HR per SD for their ``prs_z``
(:func:`igs.models.recalibration.person_risks`), with the 2.5-97.5 percentiles over draws of
the score effects (``risk_recalibrated_low``/``_high``; population rates taken as known); empty
without a country, for a sex the table or the evaluation lacks, or off the age time scale.
Flags:

* ``flag_low_variant_match``: the score matched fewer than ``min_match_rate`` of its variants;
* ``flag_ancestry_outlier``: the person's PCs are far from the reference samples (squared
  Mahalanobis distance beyond the chi-square 99.9% quantile), so the normalisation may not apply;
* ``flag_age_outside_model``: on the age time scale, the landmark age or the end of the horizon
  lies outside the ages at which the model saw events (its baseline hazard is extrapolated);
* ``flag_missing_omics``: an omics feature was missing and imputed with the training median;
* ``flag_prevalent``: the endpoint was already recorded at the landmark (the risk is not an
  incidence);
* ``flag_population_not_validated`` (only with a reference panel, ``scores.ancestry_reference``;
  else false): the person's most similar reference population is not one the model was
  validated in (:func:`validated_populations`: at least ``share.min_cell`` events in the held-out
  test set's fairness table), or was assigned with a probability below
  ``export.min_population_probability``, or is unknown.

With a reference panel, ``most_similar_population`` and its probability, and the score's Z and
percentile relative to that population (``prs_z_most_similar_population``,
``prs_percentile_most_similar_population``) are exported; without one they are empty.

Resource ids are ``igs-`` and 48 hex digits of the SHA-256 of endpoint and IID: valid FHIR ids
whatever the IID (``FIN:000001``, non-ASCII, long), distinct for distinct people, and the same on
every rerun (an EHR upsert replaces the person's own assessment). File names are the IID with
characters outside ``[A-Za-z0-9._-]`` replaced, plus 12 of those hex digits. An export is written
under a lock (concurrent exports of one endpoint run one after the other), FHIR files in a
hidden staging folder swapped in at the end; staging left by a killed export is removed first.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from igs.io.atomic import atomic_path
from igs.models.cox import CoxModel
from igs.models.dataset import SurvivalData
from igs.models.recalibration import PersonRisks

EXPORT_COLUMNS = (
    "IID", "endpoint", "pgs_id", "prs_raw", "prs_z", "prs_percentile", "integrative_lp",
    "risk", "risk_low", "risk_high", "risk_recalibrated", "risk_recalibrated_low",
    "risk_recalibrated_high", "recalibration_country", "horizon_years", "risk_category",
    "most_similar_population", "most_similar_population_probability",
    "prs_z_most_similar_population", "prs_percentile_most_similar_population",
    "flag_low_variant_match", "flag_ancestry_outlier", "flag_age_outside_model", "flag_missing_omics",
    "flag_prevalent", "flag_population_not_validated", "qc_pass", "qc_fail",
    "model_version", "normalisation",
)  # fmt: skip


def _qc_pass(scores: pd.DataFrame) -> np.ndarray | bool:
    """The adjusted scores' qc_pass as booleans (everyone passes when the column is absent)."""
    if "qc_pass" not in scores:
        return True
    return scores["qc_pass"].astype(str).str.lower().isin(["true", "1"]).to_numpy()


def validated_populations(fairness: pd.DataFrame, min_cell: int) -> tuple[str, ...]:
    """The reference populations the model was validated in: the ``reference_population`` rows
    of the evaluation's fairness table with at least ``min_cell`` events (sorted)."""
    if not {"dimension", "group", "n_events"} <= set(fairness.columns):
        return ()
    rows = fairness[(fairness["dimension"] == "reference_population")
                    & (pd.to_numeric(fairness["n_events"], errors="coerce") >= min_cell)]  # fmt: skip
    return tuple(sorted(rows["group"].astype(str)))


def population_not_validated(
    population: np.ndarray,
    probability: np.ndarray,
    validated: tuple[str, ...],
    min_probability: float,
) -> np.ndarray:
    """True where the most similar reference population is unknown, not in ``validated`` or
    assigned with a probability below ``min_probability``."""
    pop = pd.Series(population, dtype=object)
    known = pop.notna().to_numpy() & (pop.astype(str) != "").to_numpy()
    prob = np.asarray(probability, float)
    return ~known | ~pop.astype(str).isin(validated).to_numpy() | ~(prob >= min_probability)


def model_version(model_file: str | os.PathLike[str]) -> str:
    """The first 12 hex digits of the model artifact's SHA-256."""
    return hashlib.sha256(Path(model_file).read_bytes()).hexdigest()[:12]


def risk_category(
    risk: np.ndarray, thresholds: tuple[float, ...], labels: tuple[str, ...]
) -> np.ndarray:
    """``labels[i]`` for risks in [thresholds[i-1], thresholds[i]) (len(labels) = len(thresholds) + 1)."""
    idx = np.searchsorted(np.asarray(thresholds), np.asarray(risk), side="right")
    return np.where(np.isnan(risk), "", np.asarray(labels, dtype=object)[idx])


def ancestry_outlier(pcs: np.ndarray, reference: np.ndarray, quantile: float = 0.999) -> np.ndarray:
    """Squared Mahalanobis distance to the reference PCs beyond the chi-square quantile."""
    pcs, reference = np.atleast_2d(pcs.T).T, np.atleast_2d(reference.T).T  # one PC: a column
    mu = reference.mean(axis=0)
    inv = np.linalg.pinv(np.atleast_2d(np.cov(reference, rowvar=False)))
    d = pcs - mu
    d2 = np.einsum("ij,jk,ik->i", d, inv, d)
    return d2 > stats.chi2.ppf(quantile, pcs.shape[1])


def age_outside_model(model: CoxModel, start: np.ndarray, horizon: float) -> np.ndarray:
    """True where, on the age scale, [start, start + horizon] leaves the model's event ages."""
    start = np.asarray(start, float)
    if model.time_scale != "age" or not model.baseline_times:
        return np.zeros(len(start), bool)
    lo, hi = min(model.baseline_times), max(model.baseline_times)
    return (start < lo) | (start + horizon > hi)


def clinician_table(
    data: SurvivalData,
    excluded: np.ndarray,
    scores: pd.DataFrame,
    model: CoxModel,
    model_file: str | os.PathLike[str],
    *,
    pgs_id: str,
    match_rate: float,
    horizon: float,
    thresholds: tuple[float, ...],
    labels: tuple[str, ...],
    min_match_rate: float = 0.75,
    normalisation: str = "",
    recalibrated: Callable[[SurvivalData, np.ndarray], PersonRisks] | None = None,
    validated: tuple[str, ...] = (),
    min_population_probability: float = 0.5,
) -> pd.DataFrame:
    """The export rows (``EXPORT_COLUMNS``) for everybody in ``data`` (which keeps excluded people)
    except those of the other sex for a sex-restricted endpoint (``excluded == "other_sex"``);
    ``recalibrated(data, prs_z)`` gives the recalibrated risks (empty columns without it).
    With reference-panel columns in ``scores`` (``most_similar_population`` ...), people whose
    population is not in ``validated`` or has a probability below ``min_population_probability``
    are flagged ``population_not_validated``; without them the population columns are empty."""
    excluded = np.asarray(excluded)
    if (excluded == "other_sex").any():  # e.g. no prostate cancer risk for women
        keep = np.flatnonzero(excluded != "other_sex")
        data, excluded = data.subset(keep), excluded[keep]
    s = scores[scores["pgs_id"] == pgs_id].set_index("IID").reindex(data.iid)
    prs_z = s["Z_norm2"].to_numpy(float)
    nan = np.full(len(data.iid), np.nan)
    recal = (
        recalibrated(data, prs_z)
        if recalibrated is not None
        else PersonRisks(nan, nan, nan, np.full(len(nan), "", dtype=object))
    )
    risk = model.absolute_risk(data.features, data.start, horizon)
    low, high = model.risk_interval(data.features, data.start, horizon)
    pcs = data.features[[c for c in data.groups["prs"] if c.startswith("PC")]].to_numpy(float)
    omics = data.groups.get("omics", [])
    has_ref = "most_similar_population" in s
    population = (
        s["most_similar_population"].astype(object).where(s["most_similar_population"].notna(), "")
        if has_ref
        else pd.Series("", index=s.index, dtype=object)
    ).to_numpy()
    ref = s.reindex(columns=["most_similar_population_probability", "Z_most_similar_population",
                             "percentile_most_similar_population"]).astype(float)  # fmt: skip
    return pd.DataFrame(
        {
            "IID": data.iid,
            "endpoint": data.endpoint,
            "pgs_id": pgs_id,
            "prs_raw": s["SUM"].to_numpy(float),
            "prs_z": prs_z,
            "prs_percentile": s["percentile"].to_numpy(float),
            "integrative_lp": model.linear_predictor(data.features),
            "risk": risk,
            "risk_low": low,
            "risk_high": high,
            "risk_recalibrated": recal.risk,
            "risk_recalibrated_low": recal.low,
            "risk_recalibrated_high": recal.high,
            "recalibration_country": recal.location,
            "horizon_years": horizon,
            "risk_category": risk_category(risk, thresholds, labels),
            "most_similar_population": population,
            "most_similar_population_probability": ref.iloc[:, 0].to_numpy(),
            "prs_z_most_similar_population": ref.iloc[:, 1].to_numpy(),
            "prs_percentile_most_similar_population": ref.iloc[:, 2].to_numpy(),
            "flag_low_variant_match": match_rate < min_match_rate,
            "flag_ancestry_outlier": ancestry_outlier(pcs, pcs),
            "flag_age_outside_model": age_outside_model(model, data.start, horizon),
            "flag_missing_omics": data.features[omics].isna().any(axis=1).to_numpy()
            if omics
            else False,
            "flag_prevalent": excluded == "event_before_start",
            "flag_population_not_validated": population_not_validated(
                population, ref.iloc[:, 0].to_numpy(), validated, min_population_probability
            )
            if has_ref
            else False,
            "qc_pass": _qc_pass(s),
            "qc_fail": s["qc_fail"].fillna("").astype(str).to_numpy() if "qc_fail" in s else "",
            "model_version": model_version(model_file),
            "normalisation": normalisation,
        }
    )[list(EXPORT_COLUMNS)]


def risk_assessment(row: pd.Series, model: CoxModel, score_ids: list[str]) -> dict:
    """A FHIR R4 RiskAssessment for one export row."""
    note = (
        f"igs integrative model {model.model_set} (version {row['model_version']}, endpoint {row['endpoint']}); "
        f"polygenic score(s) {', '.join(score_ids)}; normalisation: {row['normalisation']}; "
        f"PRS percentile {row['prs_percentile']:.1f}."
    )
    population = row.get("most_similar_population", "")
    if isinstance(population, str) and population:  # compared with a reference panel
        note += (
            f" Most similar reference population: {population} (probability "
            f"{row['most_similar_population_probability']:.2f}); PRS percentile "
            f"{row['prs_percentile_most_similar_population']:.1f} within {population}."
        )
    flags = [
        c.removeprefix("flag_") for c in EXPORT_COLUMNS if c.startswith("flag_") and bool(row[c])
    ]
    prediction = {
        "outcome": {"text": row["endpoint"]},
        "whenRange": {"high": {"value": float(row["horizon_years"]), "unit": "a",
                               "system": "http://unitsofmeasure.org", "code": "a"}},
        "qualitativeRisk": {"text": row["risk_category"]},
        "rationale": "applicability flags: " + (", ".join(flags) if flags else "none"),
    }  # fmt: skip
    if np.isfinite(row["risk"]):
        prediction["probabilityDecimal"] = float(round(row["risk"], 6))
    predictions = [prediction]
    if np.isfinite(row["risk_recalibrated"]):  # the same horizon, in a national population
        country = row["recalibration_country"]
        predictions.append({
            "outcome": {"text": f"{row['endpoint']} (recalibrated to {country})"},
            "probabilityDecimal": float(round(row["risk_recalibrated"], 6)),
            "whenRange": prediction["whenRange"],
            "rationale": (
                f"{country} incidence and competing all-cause mortality for the person's sex and "
                "age, with the score's sex- and age-specific hazard ratio per SD; 95% interval "
                f"{row['risk_recalibrated_low']:.6f}-{row['risk_recalibrated_high']:.6f} "
                "(score-effect uncertainty; population rates taken as known)"
            ),
        })  # fmt: skip
    resource = {
        "resourceType": "RiskAssessment",
        "id": fhir_id(str(row["endpoint"]), str(row["IID"])),
        "status": "final",
        "subject": {"identifier": {"system": "urn:igs:biobank-sample", "value": str(row["IID"])}},
        "method": {"text": f"igs {model.versions.get('igs', '')} Cox model {model.model_set}"},
        "code": {"text": f"{row['endpoint']} absolute risk within {row['horizon_years']:g} years"},
        "prediction": predictions,
        "note": [{"text": note}],
    }
    from fhir.resources.R4B.riskassessment import RiskAssessment

    RiskAssessment.model_validate(resource)  # raises on a malformed resource
    return resource


def _digest(endpoint: str, iid: str) -> str:
    return hashlib.sha256(f"{endpoint}\x00{iid}".encode()).hexdigest()


def fhir_id(endpoint: str, iid: str) -> str:
    """The RiskAssessment id of one person and endpoint (see the module docstring)."""
    return f"igs-{_digest(endpoint, iid)[:48]}"


def fhir_file_name(endpoint: str, iid: str) -> str:
    """A safe, distinct file name for one person's resource (see the module docstring)."""
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", iid)[:80].lstrip(".") or "_"
    return f"{safe}.{_digest(endpoint, iid)[:12]}.json"


def write_fhir(
    table: pd.DataFrame, model: CoxModel, score_ids: list[str], out_dir: Path
) -> list[Path]:
    """One RiskAssessment JSON file per row of ``table`` in ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for _, row in table.iterrows():
        path = out_dir / fhir_file_name(str(row["endpoint"]), str(row["IID"]))
        text = json.dumps(risk_assessment(row, model, score_ids), indent=1) + "\n"
        path.write_text(text, encoding="utf-8")
        paths.append(path)
    return paths


@contextlib.contextmanager
def export_lock(out_dir: Path, endpoint: str) -> Iterator[None]:
    """Hold an exclusive lock on one endpoint's export in ``out_dir`` (blocks until free)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    with open(out_dir / f".{endpoint}.export.lock", "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def write_fhir_dir(
    table: pd.DataFrame, model: CoxModel, score_ids: list[str], fhir_dir: Path
) -> list[Path]:
    """Replace ``fhir_dir`` with one resource per row, all at once; call under :func:`export_lock`.

    Resources are written to a hidden staging folder beside ``fhir_dir`` that is renamed into
    place when complete; staging folders left by a killed export are removed first.
    """
    parent = fhir_dir.parent
    parent.mkdir(parents=True, exist_ok=True)
    for stale in parent.glob(f".{fhir_dir.name}.*"):
        if stale.is_dir():
            shutil.rmtree(stale, ignore_errors=True)
    staging = Path(tempfile.mkdtemp(dir=parent, prefix=f".{fhir_dir.name}."))
    old = parent / f".{fhir_dir.name}.old"
    try:
        paths = write_fhir(table, model, score_ids, staging)
        if fhir_dir.exists():
            fhir_dir.rename(old)
        staging.rename(fhir_dir)
    finally:
        if old.exists() and not fhir_dir.exists():  # the swap failed half-way: keep the old set
            old.rename(fhir_dir)
        shutil.rmtree(staging, ignore_errors=True)
        shutil.rmtree(old, ignore_errors=True)
    return [fhir_dir / p.name for p in paths]


def write_clinician_export(
    table: pd.DataFrame,
    model: CoxModel,
    score_ids: list[str],
    out_dir: Path,
    endpoint: str,
    provenance_file: Path | None = None,
) -> None:
    """Write ``{endpoint}_risk.csv``, a copy of provenance.json and ``fhir/{endpoint}/`` together.

    Concurrent exports of the same endpoint are serialised by a lock, so the CSV and the FHIR
    folder always come from the same export.
    """
    with export_lock(out_dir, endpoint), atomic_path(out_dir / f"{endpoint}_risk.csv") as tmp:
        table.to_csv(tmp, index=False, float_format="%.6g")
        if provenance_file is not None and provenance_file.is_file():
            with atomic_path(out_dir / f"{endpoint}_provenance.json") as prov:
                shutil.copyfile(provenance_file, prov)
        write_fhir_dir(table, model, score_ids, out_dir / "fhir" / endpoint)
