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
    "event_source",
)


CODE_SYSTEMS = ("icd10", "icd9", "icd8", "atc")
SOURCES = ("inpatient", "outpatient", "death", "cancer", "medication")


@dataclass(frozen=True)
class CodeSet:
    """Codes per system: ICD/ATC prefixes (dots ignored) and OMOP concept ids."""

    icd10: tuple[str, ...] = ()
    icd9: tuple[str, ...] = ()
    icd8: tuple[str, ...] = ()
    atc: tuple[str, ...] = ()
    concepts: tuple[int, ...] = ()  # OMOP concept ids (conditions, drugs, procedures, ...)
    include_descendants: bool = False  # also every descendant in concept_ancestor

    @classmethod
    def from_config(cls, block: dict) -> CodeSet:
        return cls(
            **{k: tuple(str(c) for c in block.get(k, ())) for k in CODE_SYSTEMS},
            concepts=tuple(int(c) for c in block.get("concepts", ())),
            include_descendants=bool(block.get("include_descendants", False)),
        )

    def __bool__(self) -> bool:
        return bool(self.concepts or any(getattr(self, k) for k in CODE_SYSTEMS))


@dataclass(frozen=True)
class EndpointSpec:
    """One endpoint: which records define it, who is eligible and how time is measured.

    ``icd10``/``omop_concepts`` are the original keys; ``include`` holds the other systems
    (``omop_concepts`` are matched as given, ``include.concepts`` with descendants if asked).
    An event is the ``min_occurrences``-th matching record at or after ``min_age`` from one of
    ``sources`` (all when empty), or the first event of any ``any_of`` component endpoint.
    """

    name: str
    icd10: tuple[str, ...] = ()  # code prefixes, e.g. ("I21", "I22", "I25.1")
    omop_concepts: tuple[int, ...] = ()  # condition_concept_id values
    time_scale: Literal["age", "time_on_study"] = "age"
    age_cap: float | None = 80.0
    landmark_age: float | None = None  # None: follow-up starts at study entry
    include: CodeSet = CodeSet()
    exclude: CodeSet = CodeSet()  # a record on or before the start of follow-up excludes
    sex: Literal["male", "female"] | None = None
    min_age: float | None = None
    min_occurrences: int = 1
    sources: tuple[str, ...] = ()
    any_of: tuple[EndpointSpec, ...] = ()

    @classmethod
    def from_config(
        cls,
        block: dict,
        *,
        age_cap: float | None,
        landmark_age: float | None,
        others: dict[str, dict] | None = None,
    ) -> EndpointSpec:
        """A spec from one resolved ``pheno.endpoints`` entry; ``others`` names every endpoint
        (by name) so that ``any_of`` components can be built (cycles are refused earlier, by
        :func:`igs.pheno.definitions.resolve_endpoints`)."""
        others = others or {}
        parts = []
        for part in block.get("any_of", ()):
            if part not in others:
                from igs.errors import ConfigError

                raise ConfigError(
                    f"endpoint {block['name']}: any_of names {part!r}, which is not an endpoint "
                    f"in pheno.endpoints or the library."
                )
            parts.append(
                cls.from_config(
                    others[part], age_cap=age_cap, landmark_age=landmark_age, others=others
                )
            )
        include = CodeSet.from_config({k: v for k, v in block.items() if k != "icd10"})
        return cls(
            name=block["name"],
            icd10=tuple(block.get("icd10", ())),
            omop_concepts=tuple(int(c) for c in block.get("omop_concepts", ())),
            time_scale=block.get("time_scale", "age"),
            age_cap=block.get("age_cap", age_cap),
            landmark_age=landmark_age,
            include=include,
            exclude=CodeSet.from_config(block.get("exclude", {})),
            sex=block.get("sex"),
            min_age=block.get("min_age"),
            min_occurrences=int(block.get("min_occurrences", 1)),
            sources=tuple(block.get("sources", ())),
            any_of=tuple(parts),
        )

    def has_codes(self) -> bool:
        return bool(self.icd10 or self.omop_concepts or self.include or self.any_of)


@dataclass(frozen=True)
class EndpointSummary:
    name: str
    n_persons: int
    n_included: int
    n_events: int
    n_competing_deaths: int
    excluded: dict[str, int] = field(default_factory=dict)
    median_followup_years: float = float("nan")
    n_prevalent_excluded: int = 0  # first event on or before the start of follow-up
    events_by_source: dict[str, int] = field(default_factory=dict)  # "" -> "unspecified"


def coded_records(records: HealthRecords) -> pd.DataFrame:
    """Diagnoses and medication purchases in one table: IID, date, code_system, code (upper
    case, no dots), concept_id and source (``""`` when the record does not say)."""
    dx = records.diagnoses
    n = len(dx)
    diag = pd.DataFrame(
        {
            C.IID: dx[C.IID].to_numpy(),
            "date": dx["date"].to_numpy(),
            "code_system": (
                dx["code_system"].to_numpy() if "code_system" in dx else np.full(n, "icd10")
            ),
            "code": dx["code"].to_numpy(),
            "concept_id": pd.array(dx["concept_id"], dtype="Int64"),
            "source": dx["source"].to_numpy() if "source" in dx else np.full(n, ""),
        }
    )
    med = records.medications
    drugs = pd.DataFrame(
        {
            C.IID: med[C.IID].to_numpy(),
            "date": med["date"].to_numpy(),
            "code_system": "atc",
            "code": med["atc"].to_numpy(),
            "concept_id": pd.array(med["concept_id"], dtype="Int64"),
            "source": "medication",
        }
    )
    out = pd.concat([diag, drugs], ignore_index=True) if len(drugs) else diag
    out["code"] = (
        out["code"].astype("string").fillna("").str.replace(".", "", regex=False).str.upper()
    )
    out["source"] = out["source"].astype("string").fillna("")
    out["date"] = out["date"].astype("datetime64[ns]")
    return out


def matching(coded: pd.DataFrame, codes: CodeSet, ancestors: pd.DataFrame) -> np.ndarray:
    """Rows of ``coded`` that carry one of ``codes`` (prefix match within each code system)."""
    hit = np.zeros(len(coded), dtype=bool)
    for system in CODE_SYSTEMS:
        prefixes = tuple(str(p).replace(".", "").upper() for p in getattr(codes, system))
        if prefixes:
            hit |= (
                (coded["code_system"] == system) & coded["code"].str.startswith(prefixes)
            ).to_numpy(dtype=bool)
    if codes.concepts:
        wanted = set(codes.concepts)
        if codes.include_descendants and len(ancestors):
            below = ancestors["ancestor_concept_id"].isin(wanted)
            wanted |= set(ancestors.loc[below, "descendant_concept_id"].astype(int))
        hit |= coded["concept_id"].isin(wanted).fillna(False).to_numpy(dtype=bool)
    return hit


def first_events(
    records: HealthRecords, spec: EndpointSpec, coded: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Per person with an event (index IID): its ``date`` and the ``source`` of that record."""
    coded = coded_records(records) if coded is None else coded
    codes = CodeSet(
        icd10=spec.icd10 + spec.include.icd10,
        icd9=spec.include.icd9,
        icd8=spec.include.icd8,
        atc=spec.include.atc,
        concepts=spec.include.concepts,
        include_descendants=spec.include.include_descendants,
    )
    hit = matching(coded, codes, records.concept_ancestor)
    if spec.omop_concepts:
        hit |= coded["concept_id"].isin(spec.omop_concepts).fillna(False).to_numpy(dtype=bool)
    if spec.sources:
        hit &= coded["source"].isin([*spec.sources, ""]).to_numpy(dtype=bool)
    rows = coded[hit]
    if spec.min_age is not None:
        birth = rows[C.IID].map(records.persons.set_index(C.IID)[C.BIRTH_DATE])
        rows = rows[
            (rows["date"] - birth) / pd.to_timedelta(DAYS_PER_YEAR, unit="D") >= spec.min_age
        ]
    rows = rows.sort_values([C.IID, "date", "source"], kind="stable")
    nth = rows.groupby(C.IID).nth(spec.min_occurrences - 1).set_index(C.IID)[["date", "source"]]
    parts = [nth] + [first_events(records, part, coded) for part in spec.any_of]
    both = pd.concat([p.reset_index() for p in parts], ignore_index=True)
    both = both.sort_values([C.IID, "date", "source"], kind="stable")
    return both.groupby(C.IID).first()[["date", "source"]]


def first_event_dates(records: HealthRecords, spec: EndpointSpec) -> pd.Series:
    """Date of each person's first event of the endpoint (persons without one absent)."""
    return first_events(records, spec)["date"]


def build_endpoint(records: HealthRecords, spec: EndpointSpec) -> pd.DataFrame:
    """One row per person (``ENDPOINT_COLUMNS``); ``excluded`` is empty for analysable people.

    Exclusion reasons, first that applies: ``entry_after_landmark``, ``exit_before_landmark``,
    ``other_sex`` (the endpoint is restricted to one sex), ``event_before_start`` (a prevalent
    case), ``exclude_code`` (an ``exclude`` record on or before the start), ``start_after_age_cap``.
    """
    if not spec.has_codes():
        from igs.errors import ConfigError

        raise ConfigError(f"endpoint {spec.name}: give icd10 prefixes or omop_concepts.")
    p = records.persons.reset_index(drop=True)
    birth, entry = p[C.BIRTH_DATE], p[C.ENTRY_DATE]
    coded = coded_records(records)
    events = first_events(records, spec, coded)
    first = p[C.IID].map(events["date"])
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
    if spec.sex is not None:
        excluded[(excluded == "") & (p[C.SEX] != spec.sex)] = "other_sex"
    excluded[(excluded == "") & (first <= start)] = "event_before_start"
    if spec.exclude:
        ex = coded[matching(coded, spec.exclude, records.concept_ancestor)]
        first_ex = p[C.IID].map(ex.groupby(C.IID)["date"].min())
        excluded[(excluded == "") & (first_ex <= start)] = "exclude_code"
    excluded[(excluded == "") & (cap <= start)] = "start_after_age_cap"
    exit_date = pd.concat([end, first, cap], axis=1).min(axis=1)
    event = first.notna() & (first <= exit_date) & (first > start)
    death = p[C.DEATH_DATE].notna() & (p[C.DEATH_DATE] <= exit_date) & ~event
    ok = (excluded == "").to_numpy()
    entry_age = (entry - birth) / years
    start_age = (start - birth) / years
    exit_age = (exit_date - birth) / years
    on_age = spec.time_scale == "age"
    is_event = event.to_numpy() & ok
    source = p[C.IID].map(events["source"]).fillna("").astype(str).to_numpy()
    out = pd.DataFrame(
        {
            "IID": p[C.IID].to_numpy(),
            "sex": p[C.SEX].to_numpy(),
            "entry_age": entry_age.to_numpy(),
            "start_age": start_age.to_numpy(),
            "exit_age": exit_age.to_numpy(),
            "start": (start_age if on_age else 0.0 * start_age).to_numpy(),
            "stop": (exit_age if on_age else exit_age - start_age).to_numpy(),
            "event": is_event.astype(np.int8),
            "competing_death": (death.to_numpy() & ok).astype(np.int8),
            "excluded": excluded.to_numpy(),
            "event_source": np.where(is_event, np.where(source == "", "unspecified", source), ""),
        }
    )
    return out


def summarise_endpoint(name: str, table: pd.DataFrame) -> EndpointSummary:
    inc = table[table["excluded"] == ""]
    by_source = (
        inc.loc[inc["event"] == 1, "event_source"].value_counts().sort_index()
        if "event_source" in inc
        else pd.Series(dtype=int)
    )
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
        n_prevalent_excluded=int((table["excluded"] == "event_before_start").sum()),
        events_by_source={str(k): int(v) for k, v in by_source.items()},
    )
