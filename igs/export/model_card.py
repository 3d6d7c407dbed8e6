"""A model card for each clinician export, after the ClinGen PRS Reporting Standards (PRS-RS):
what the score is, how it was developed and applied here, how well the model did and in whom,
what it is for and where it stops.

Written as ``{endpoint}_model_card.json`` beside ``{endpoint}_risk.csv``. Development fields come
from the scoring file's PGS Catalog header (``#trait_reported``, ``#ancestry_distribution``,
``#weight_type``/``#pgs_name`` ...); a field the header lacks reads ``"not stated in the scoring
file"``. Validation metrics come from the endpoint's evaluation folder (``comparison.tsv``,
``hr_per_sd.tsv``, ``fairness.tsv``) with their 95% CIs and the groups they were measured in;
with a reference panel, ``validation.reference_populations`` lists the panel's populations
evaluated and those the model counts as validated in (exported people outside them are flagged
``population_not_validated``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd

from igs.io.atomic import atomic_path

NOT_STATED = "not stated in the scoring file"
MODEL_CARD_VERSION = 1


def _num(v: object) -> float | None:
    try:
        f = float(v)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return f if np.isfinite(f) else None


def _records(df: pd.DataFrame, cols: list[str]) -> list[dict]:
    keep = [c for c in cols if c in df]
    return [{k: (_num(v) if k not in ("group", "dimension", "model") else v) for k, v in r.items()}
            for r in df[keep].to_dict(orient="records")]  # fmt: skip


def model_card(
    endpoint: str,
    pgs_id: str,
    header: dict[str, str],
    match: dict[str, float],
    evaluate_dir: str | os.PathLike[str],
    *,
    model_set: str,
    time_scale: str,
    modelled_ages: tuple[float, float],
    horizon: float,
    ancestry_adjustment: str,
    validated_populations: tuple[str, ...] = (),
    min_cell: int = 5,
    min_population_probability: float = 0.5,
) -> dict:
    """The card (a JSON-ready dict) of one endpoint's export; see the module docstring.
    ``validated_populations`` are the reference populations the model counts as validated in
    (:func:`igs.export.clinician.validated_populations` with ``min_cell``)."""
    ev = Path(evaluate_dir)

    def read(name: str) -> pd.DataFrame:
        return pd.read_csv(ev / name, sep="\t") if (ev / name).is_file() else pd.DataFrame()

    comp = read("comparison.tsv")
    model_row = comp[comp["model"] == f"{model_set}/cox"] if "model" in comp else comp
    fair = read("fairness.tsv")
    metrics = ["harrell_c", "harrell_c_low", "harrell_c_high", "uno_c", "uno_c_low", "uno_c_high",
               "calibration_slope", "observed_expected", "n_test", "events_test"]  # fmt: skip
    populations = (
        _records(fair[["dimension", "group", "n", "n_events"]], ["dimension", "group", "n", "n_events"])
        if len(fair) else []
    )  # fmt: skip
    return {
        "model_card_version": MODEL_CARD_VERSION,
        "standard": "ClinGen PRS Reporting Standards (Wand et al., Nature 2021)",
        "score": {
            "pgs_id": pgs_id,
            "name": header.get("pgs_name", NOT_STATED),
            "trait_reported": header.get("trait_reported", NOT_STATED),
            "trait_mapped": header.get("trait_mapped", NOT_STATED),
            "trait_efo": header.get("trait_efo", NOT_STATED),
            "citation": header.get("citation", NOT_STATED),
        },
        "development": {
            "ancestry": header.get("ancestry_distribution", NOT_STATED),
            "method": header.get("pgs_method", header.get("weight_type", NOT_STATED)),
            "weight_type": header.get("weight_type", NOT_STATED),
            "genome_build": header.get("HmPOS_build", header.get("genome_build", NOT_STATED)),
            "variants_in_scoring_file": _num(match.get("n_variants")),
        },
        "application": {
            "variants_matched": _num(match.get("matched")),
            "variants_total": _num(match.get("n_variants")),
            "match_rate": _num(match.get("match_rate")),
            "ancestry_adjustment": ancestry_adjustment,
            "model": f"{model_set} Cox model ({time_scale} time scale)",
        },
        "validation": {
            "setting": "held-out test set of this biobank (event-stratified split)",
            "metrics": _records(model_row, metrics)[0] if len(model_row) else {},
            "hr_per_sd": _records(
                read("hr_per_sd.tsv"), ["group", "n", "n_events", "hr", "hr_low", "hr_high"]
            ),
            "by_group": _records(fair, list(fair.columns)) if len(fair) else [],
            "populations": populations,
            "reference_populations": _reference_part(
                fair, validated_populations, min_cell, min_population_probability
            ),
        },
        "intended_use": (
            f"Research use: the absolute risk of {endpoint} within {horizon:g} years from the "
            "landmark (study entry), for adults like the validation population: ages "
            f"{modelled_ages[0]:.0f}-{modelled_ages[1]:.0f} on the model's time scale and genetic "
            "ancestry within the biobank's PCs. Not a diagnostic test; not for people the export "
            "flags."
        ),
        "limitations": [
            "Validated in one biobank; its baseline risk is the biobank's, not a population's "
            "(risk_recalibrated gives the risk in the population of the biobank's "
            "recalibration.country, when configured).",
            "Groups with fewer than 10 events have no validation metrics (by_group).",
            "The risk interval covers the coefficients' uncertainty only; the baseline hazard is "
            "taken as known.",
            "People with a prevalent diagnosis, an ancestry far from the biobank's PCs, a most "
            "similar reference population the model was not validated in (when a reference panel "
            "is configured) or an age outside the modelled range are flagged: their risk is an "
            "extrapolation.",
            "Samples that failed genotype QC have no score and are not exported.",
        ],
    }


def _reference_part(
    fair: pd.DataFrame, validated: tuple[str, ...], min_cell: int, min_probability: float
) -> dict:
    """The reference-panel populations of the fairness table and those counted as validated
    (``used`` false when the evaluation's ancestry groups were not reference populations)."""
    rows = (
        fair[fair["dimension"] == "reference_population"] if "dimension" in fair else fair.iloc[:0]
    )
    return {
        "used": bool(len(rows)),
        "validated": list(validated),
        "rule": (f"a most similar reference population with at least {min_cell} events in the "
                 f"held-out test set, assigned with probability >= {min_probability:g}; other "
                 "people are flagged population_not_validated"),
        "evaluated": _records(rows, ["group", "n", "n_events"]),
    }  # fmt: skip


def write_model_card(card: dict, path: str | os.PathLike[str]) -> Path:
    """Write the card as JSON (atomically)."""
    with atomic_path(path) as tmp:
        Path(tmp).write_text(json.dumps(card, indent=2, default=float) + "\n")
    return Path(path)
