"""One analysis table per biobank and endpoint: follow-up, outcome and candidate features.

Rows are the people included in the endpoint (``excluded`` empty) who also have scores and PCs.
Feature groups:

* ``clinical``: sex_male, bmi, sbp, smoking_former, smoking_current (age is the time scale);
* ``prs``: the endpoint's ancestry-adjusted score (``prs``, Z_norm2, per SD) and PC1..PCk;
* ``omics``: the chosen landmark statistics of every analyte (default: the last value).

The genetic ancestry group of each person (for the fairness tables) is the most similar
population of the shared reference panel (``most_similar_population``, dimension
``reference_population``) when the scores were compared with one (``scores.ancestry_reference``),
else the biobank's own ``ancestry_group`` (dimension ``ancestry``), else unknown.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from igs.errors import InputFormatError

MODEL_SETS = {
    "clinical": ("clinical",),
    "prs": ("prs",),
    "clinical_prs": ("clinical", "prs"),
    "clinical_prs_omics": ("clinical", "prs", "omics"),
}
# column of the adjusted scores -> fairness dimension, in order of preference
ANCESTRY_COLUMNS = {"most_similar_population": "reference_population", "ancestry_group": "ancestry"}


@dataclass(frozen=True)
class SurvivalData:
    """Follow-up on the chosen time scale (``start`` < ``stop``), outcome and features."""

    endpoint: str
    iid: np.ndarray
    start: np.ndarray
    stop: np.ndarray
    event: np.ndarray  # bool
    competing: np.ndarray  # bool: died without the event
    features: pd.DataFrame
    groups: dict[str, list[str]] = field(default_factory=dict)
    ancestry: np.ndarray | None = None  # genetic ancestry group, if known (see ancestry_dimension)
    # "reference_population": the most similar population of the shared reference panel
    # (scores' most_similar_population); "ancestry": the biobank's own ancestry_group
    ancestry_dimension: str = "ancestry"

    def columns(self, model_set: str) -> list[str]:
        return [c for g in MODEL_SETS[model_set] for c in self.groups[g]]

    def subset(self, index: np.ndarray) -> SurvivalData:
        return SurvivalData(
            self.endpoint, self.iid[index], self.start[index], self.stop[index], self.event[index],
            self.competing[index], self.features.iloc[index].reset_index(drop=True), self.groups,
            None if self.ancestry is None else self.ancestry[index], self.ancestry_dimension,
        )  # fmt: skip

    @property
    def followup(self) -> np.ndarray:
        return self.stop - self.start


def assemble(
    endpoint: str,
    endpoint_table: pd.DataFrame,
    covariates: pd.DataFrame,
    adjusted_scores: pd.DataFrame,
    pcs: pd.DataFrame,
    pgs_id: str,
    *,
    omics: pd.DataFrame | None = None,
    omics_statistics: tuple[str, ...] = ("last",),
    n_pcs: int = 4,
    only_included: bool = True,
) -> SurvivalData:
    """Join the stage outputs into a :class:`SurvivalData` (see the module docstring);
    ``only_included=False`` keeps the people the endpoint excludes and those who fail QC
    (``qc_pass`` false in the adjusted scores), for scoring, not fitting."""
    ep = endpoint_table[endpoint_table["excluded"] == ""] if only_included else endpoint_table
    score = adjusted_scores[adjusted_scores["pgs_id"] == pgs_id]
    if score.empty:
        known = ", ".join(sorted(adjusted_scores["pgs_id"].unique()))
        raise InputFormatError(f"{endpoint}: no scores for {pgs_id}; the scores table has {known}.")
    if only_included and "qc_pass" in score:  # models are fitted on the QC-passed people only
        score = score[score["qc_pass"].astype(str).str.lower().isin(["true", "1"])]
    pc_cols = [f"PC{i}" for i in range(1, n_pcs + 1)]
    group_col = next((c for c in ANCESTRY_COLUMNS if c in score), None)
    cov = covariates.set_index("IID")
    table = (
        ep.set_index("IID")
        .join(
            score.set_index("IID")[["Z_norm2", *([group_col] if group_col else [])]].rename(
                columns={"Z_norm2": "prs", str(group_col): "_ancestry"}
            ),
            how="inner",
        )
        .join(pcs.set_index("IID")[pc_cols], how="inner")
        .join(cov[["sex", "bmi", "sbp", "smoking"]].rename(columns={"sex": "cov_sex"}), how="left")
    )
    clinical = pd.DataFrame(
        {
            "sex_male": (table["cov_sex"] == "male").astype(float),
            "bmi": table["bmi"].astype(float),
            "sbp": table["sbp"].astype(float),
            "smoking_former": (table["smoking"] == "former")
            .astype(float)
            .where(table["smoking"].notna()),
            "smoking_current": (table["smoking"] == "current")
            .astype(float)
            .where(table["smoking"].notna()),
        },
        index=table.index,
    )
    features = [clinical, table[["prs", *pc_cols]]]
    groups = {"clinical": list(clinical.columns), "prs": ["prs", *pc_cols], "omics": []}
    if omics is not None:
        cols = [
            c
            for c in omics.columns
            if any(c.endswith(f"_{s}") for s in omics_statistics) and c != "IID"
        ]
        features.append(omics.set_index("IID").reindex(table.index)[cols].astype(float))
        groups["omics"] = cols
    x = pd.concat(features, axis=1)
    if len(x) == 0:
        raise InputFormatError(f"{endpoint}: no person has both follow-up and scores/PCs.")
    return SurvivalData(
        endpoint=endpoint,
        iid=x.index.to_numpy(),
        start=table["start"].to_numpy(float),
        stop=table["stop"].to_numpy(float),
        event=table["event"].to_numpy().astype(bool),
        competing=table["competing_death"].to_numpy().astype(bool),
        features=x.reset_index(drop=True),
        groups=groups,
        ancestry=table["_ancestry"].astype(object).to_numpy() if "_ancestry" in table else None,
        ancestry_dimension=ANCESTRY_COLUMNS[group_col] if group_col else "ancestry",
    )


@dataclass(frozen=True)
class Preprocessor:
    """Median imputation then standardisation, learnt on training data only."""

    columns: list[str]
    medians: list[float]
    means: list[float]
    scales: list[float]

    @classmethod
    def fit(cls, x: pd.DataFrame) -> Preprocessor:
        a = _as_array(x)
        missing = np.isnan(a)
        if missing.any():
            with warnings.catch_warnings():  # an all-missing column has no median (NaN)
                warnings.simplefilter("ignore", RuntimeWarning)
                med = np.nanmedian(a, axis=0)
            a = np.where(missing, med, a)
        else:
            med = np.median(a, axis=0)
        sd = a.std(axis=0)
        return cls(list(x.columns), med.tolist(), a.mean(axis=0).tolist(),
                   np.where(sd > 0, sd, 1.0).tolist())  # fmt: skip

    def transform(self, x: pd.DataFrame) -> pd.DataFrame:
        a = _as_array(x[self.columns])
        missing = np.isnan(a)
        if missing.any():
            a = np.where(missing, np.array(self.medians), a)
        z = (a - np.array(self.means)) / np.array(self.scales)
        return pd.DataFrame(z, index=x.index, columns=self.columns)


def _as_array(x: pd.DataFrame) -> np.ndarray:
    """The columns of ``x`` as floats, missing values (None, pd.NA) as NaN: numpy, not pandas,
    does the imputation and scaling (pandas' per-column fillna and median cost more than the Cox
    fit at biobank sizes)."""
    return x.to_numpy(dtype=float, na_value=np.nan)
