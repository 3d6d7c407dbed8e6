"""Time-to-event endpoints from health records (age time scale by default, as in INTERVENE).

Per person and endpoint: follow-up starts at study entry, or at the landmark age when one is
set (then only people under observation at that age are included); it ends at the first event,
death, the end of follow-up or the age cap, whichever comes first. A person whose first event
is on or before the start is a prevalent case and is excluded, as is anyone who starts at or
after the age cap. ``event`` marks an incident event at exit; ``competing_death`` a death at
exit without the event.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd

from igs import columns as C
from igs.pheno.records import HealthRecords

DAYS_PER_YEAR = 365.25
ENDPOINT_COLUMNS = (
    "IID",
    "sex",
    "entry_age",
    "start_age",
    "exit_age",
    "start",
    "stop",
    "event",
    "competing_death",
    "excluded",
)


@dataclass(frozen=True)
class EndpointSpec:
    """One endpoint: which diagnoses define it and how time is measured."""

    name: str
    icd10: tuple[str, ...] = ()  # code prefixes, e.g. ("I21", "I22", "I25.1")
    omop_concepts: tuple[int, ...] = ()  # condition_concept_id values
    time_scale: Literal["age", "time_on_study"] = "age"
    age_cap: float | None = 80.0
    landmark_age: float | None = None  # None: follow-up starts at study entry

    @classmethod
    def from_config(
        cls, block: dict, *, age_cap: float | None, landmark_age: float | None
    ) -> EndpointSpec:
        return cls(
            name=block["name"],
            icd10=tuple(block.get("icd10", ())),
            omop_concepts=tuple(int(c) for c in block.get("omop_concepts", ())),
            time_scale=block.get("time_scale", "age"),
            age_cap=block.get("age_cap", age_cap),
            landmark_age=landmark_age,
        )


@dataclass(frozen=True)
class EndpointSummary:
    name: str
    n_persons: int
    n_included: int
    n_events: int
    n_competing_deaths: int
    excluded: dict[str, int] = field(default_factory=dict)
    median_followup_years: float = float("nan")


def first_event_dates(records: HealthRecords, spec: EndpointSpec) -> pd.Series:
    """Date of each person's first diagnosis matching the endpoint (persons without one absent)."""
    dx = records.diagnoses
    code = dx["code"].astype("string").fillna("").str.replace(".", "", regex=False)
    prefixes = tuple(p.replace(".", "").upper() for p in spec.icd10)
    hit = code.str.startswith(prefixes) if prefixes else pd.Series(False, index=dx.index)
    if spec.omop_concepts:
        hit |= dx["concept_id"].isin(spec.omop_concepts).fillna(False).astype(bool)
    return dx[hit.to_numpy()].groupby(C.IID)["date"].min()


def build_endpoint(records: HealthRecords, spec: EndpointSpec) -> pd.DataFrame:
    """One row per person (``ENDPOINT_COLUMNS``); ``excluded`` is empty for analysable people."""
    if not spec.icd10 and not spec.omop_concepts:
        from igs.errors import ConfigError

        raise ConfigError(f"endpoint {spec.name}: give icd10 prefixes or omop_concepts.")
    p = records.persons.reset_index(drop=True)
    birth, entry = p[C.BIRTH_DATE], p[C.ENTRY_DATE]
    first = p[C.IID].map(first_event_dates(records, spec))
    years = pd.to_timedelta(DAYS_PER_YEAR, unit="D")
    start = entry.copy()
    excluded = pd.Series("", index=p.index, dtype=object)
    end = p[[C.END_OF_FOLLOWUP, C.DEATH_DATE]].min(axis=1)
    if spec.landmark_age is not None:
        landmark = birth + spec.landmark_age * years
        excluded[entry > landmark] = "entry_after_landmark"
        excluded[(excluded == "") & (end <= landmark)] = "exit_before_landmark"
        start = start.where(entry > landmark, landmark)
    cap = (
        birth + spec.age_cap * years
        if spec.age_cap is not None
        else pd.Series(pd.NaT, index=p.index)
    )
    excluded[(excluded == "") & (first <= start)] = "event_before_start"
    excluded[(excluded == "") & (cap <= start)] = "start_after_age_cap"
    exit_date = pd.concat([end, first, cap], axis=1).min(axis=1)
    event = first.notna() & (first <= exit_date) & (first > start)
    death = p[C.DEATH_DATE].notna() & (p[C.DEATH_DATE] <= exit_date) & ~event
    ok = (excluded == "").to_numpy()
    entry_age = (entry - birth) / years
    start_age = (start - birth) / years
    exit_age = (exit_date - birth) / years
    on_age = spec.time_scale == "age"
    out = pd.DataFrame(
        {
            "IID": p[C.IID].to_numpy(),
            "sex": p[C.SEX].to_numpy(),
            "entry_age": entry_age.to_numpy(),
            "start_age": start_age.to_numpy(),
            "exit_age": exit_age.to_numpy(),
            "start": (start_age if on_age else 0.0 * start_age).to_numpy(),
            "stop": (exit_age if on_age else exit_age - start_age).to_numpy(),
            "event": (event.to_numpy() & ok).astype(np.int8),
            "competing_death": (death.to_numpy() & ok).astype(np.int8),
            "excluded": excluded.to_numpy(),
        }
    )
    return out


def summarise_endpoint(name: str, table: pd.DataFrame) -> EndpointSummary:
    inc = table[table["excluded"] == ""]
    return EndpointSummary(
        name=name,
        n_persons=len(table),
        n_included=len(inc),
        n_events=int(inc["event"].sum()),
        n_competing_deaths=int(inc["competing_death"].sum()),
        excluded={
            k: int(v)
            for k, v in table["excluded"][table["excluded"] != ""]
            .value_counts()
            .sort_index()
            .items()
        },
        median_followup_years=float((inc["exit_age"] - inc["start_age"]).median())
        if len(inc)
        else float("nan"),
    )
