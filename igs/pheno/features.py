"""Person-level features at the landmark: entry covariates and summaries of longitudinal omics.

Only measurements taken on or before a person's landmark date are used (the landmark is study
entry by default, or a fixed age), so nothing recorded later, such as a marker that rises after
disease onset, can leak into a model that predicts from the landmark onwards.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from igs import columns as C
from igs.pheno.endpoints import DAYS_PER_YEAR
from igs.pheno.records import HealthRecords

OMICS_STATISTICS = ("last", "mean", "sd", "slope_per_year", "n")


def landmark_dates(records: HealthRecords, landmark_age: float | None) -> pd.Series:
    """Each person's landmark date (IID index): entry, or birth + landmark_age years."""
    p = records.persons.set_index(C.IID)
    if landmark_age is None:
        return p[C.ENTRY_DATE]
    return p[C.BIRTH_DATE] + pd.to_timedelta(landmark_age * DAYS_PER_YEAR, unit="D")


def omics_landmark_features(
    records: HealthRecords, landmark_age: float | None = None
) -> pd.DataFrame:
    """Per person and analyte: last value, mean, SD, slope per year and count before the landmark.

    Wide table: IID, then ``{analyte}_{statistic}`` columns; persons without measurements
    before their landmark have NaN (and ``_n`` 0).
    """
    landmark = landmark_dates(records, landmark_age)
    m = records.measurements
    m = m[m["date"].to_numpy() <= m[C.IID].map(landmark).to_numpy()]
    m = m.sort_values([C.IID, C.ANALYTE, "date"], kind="stable")
    first = m.groupby([C.IID, C.ANALYTE], sort=False)["date"].transform("min")
    m = m.assign(
        t=(m["date"] - first).dt.days.to_numpy() / DAYS_PER_YEAR
    )  # years since first visit
    g = m.groupby([C.IID, C.ANALYTE], sort=True)
    stats = pd.DataFrame(
        {
            "last": g[C.VALUE].last(),
            "mean": g[C.VALUE].mean(),
            "sd": g[C.VALUE].std(ddof=1),
            "n": g[C.VALUE].size(),
        }
    )
    # OLS slope of value on time: cov(t, v) / var(t), NaN for one visit or one date
    tv = m.assign(tv=m["t"] * m[C.VALUE], tt=m["t"] ** 2).groupby([C.IID, C.ANALYTE], sort=True)
    n = stats["n"]
    mean_t, mean_v = tv["t"].mean(), stats["mean"]
    var_t = tv["tt"].mean() - mean_t**2
    cov = tv["tv"].mean() - mean_t * mean_v
    with np.errstate(invalid="ignore", divide="ignore"):
        stats["slope_per_year"] = np.where((n > 1) & (var_t > 1e-12), cov / var_t, np.nan)
    wide = stats[list(OMICS_STATISTICS)].unstack(C.ANALYTE)
    wide.columns = [f"{analyte}_{stat}" for stat, analyte in wide.columns]
    analytes = sorted(records.measurements[C.ANALYTE].unique())
    ordered = [f"{a}_{s}" for a in analytes for s in OMICS_STATISTICS]
    wide = wide.reindex(index=records.persons[C.IID].to_numpy(), columns=ordered)
    n_cols = [c for c in wide.columns if c.endswith("_n")]
    wide[n_cols] = wide[n_cols].fillna(0).astype(np.int64)
    wide.index.name = C.IID
    return wide.reset_index()


def covariate_table(records: HealthRecords) -> pd.DataFrame:
    """IID, sex, entry age, BMI, SBP and smoking at entry (one row per person)."""
    p = records.persons
    cov = records.covariates.set_index(C.IID).reindex(p[C.IID])
    return pd.DataFrame(
        {
            C.IID: p[C.IID].to_numpy(),
            "sex": p[C.SEX].to_numpy(),
            "entry_age": ((p[C.ENTRY_DATE] - p[C.BIRTH_DATE]).dt.days / DAYS_PER_YEAR).to_numpy(),
            C.BMI: cov[C.BMI].to_numpy(dtype=float),
            C.SBP: cov[C.SBP].to_numpy(dtype=float),
            C.SMOKING: cov[C.SMOKING].astype(object).to_numpy(),
        }
    )
