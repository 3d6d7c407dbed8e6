"""Health records in one shape, whatever their source, and their validation.

A :class:`HealthRecords` holds four tables (column names as in the README's column dictionary):

* ``persons``: IID, sex (``male``/``female``), birth_date, entry_date, end_of_followup,
  death_date (dates as ``datetime64``; death_date NaT when alive);
* ``covariates``: IID, bmi, smoking (``never``/``former``/``current``), sbp, at study entry;
* ``diagnoses``: IID, date, code (ICD-10 text), concept_id (OMOP condition concept, or NA);
* ``measurements``: IID, date, analyte, value (float).

:func:`read_table_records` reads the plain-table source (CSV, TSV or Parquet);
:mod:`igs.pheno.omop` reads an OMOP CDM database into the same shape. :func:`validate_records`
raises an :class:`~igs.errors.InputFormatError` naming the table, the problem and an example.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from igs import columns as C
from igs.errors import InputFormatError

PERSON_COLUMNS = (C.IID, C.SEX, C.BIRTH_DATE, C.ENTRY_DATE, C.END_OF_FOLLOWUP, C.DEATH_DATE)
COVARIATE_COLUMNS = (C.IID, C.BMI, C.SMOKING, C.SBP)
DIAGNOSIS_COLUMNS = (C.IID, "date", "code", "concept_id")
MEASUREMENT_COLUMNS = (C.IID, "date", C.ANALYTE, C.VALUE)
SMOKING_LEVELS = ("never", "former", "current")
# Plausibility limits: a value outside is an error (a unit mix-up or a data-entry slip), not a risk
# factor. Wide on purpose: they catch impossible values, not unusual people.
EARLIEST_BIRTH = pd.Timestamp("1900-01-01")
PLAUSIBLE_RANGES = {C.BMI: (1.0, 250.0, "kg/m2"), C.SBP: (40.0, 350.0, "mmHg")}


@dataclass(frozen=True)
class HealthRecords:
    """Persons, their entry covariates, diagnoses and measurements (see the module docstring)."""

    persons: pd.DataFrame
    covariates: pd.DataFrame
    diagnoses: pd.DataFrame
    measurements: pd.DataFrame
    source: str


def read_any_table(path: str | os.PathLike[str], what: str) -> pd.DataFrame:
    """A CSV (``.csv``), TSV (anything else, gzip allowed) or Parquet (``.parquet``) file, as text."""
    path = Path(path)
    if not path.is_file():
        raise InputFormatError(f"{path}: {what} file not found.")
    name = path.name.lower().removesuffix(".gz")
    try:
        if name.endswith(".parquet"):
            return (
                pd.read_parquet(path).astype("string").astype(object).where(lambda d: d.notna(), "")
            )
        sep = "," if name.endswith(".csv") else "\t"
        return pd.read_csv(path, sep=sep, dtype=str, keep_default_na=False)
    except (ValueError, OSError, pd.errors.ParserError) as exc:
        raise InputFormatError(f"{path}: cannot read the {what} table ({exc}).") from exc


def read_table_records(
    clinical: str | os.PathLike[str],
    diagnoses: str | os.PathLike[str] | None = None,
    omics: str | os.PathLike[str] | None = None,
) -> HealthRecords:
    """Records from the plain-table source (clinical is required; the others may be absent)."""
    clin = read_any_table(clinical, "clinical")
    _require_columns(clin, C.CLINICAL_COLUMNS, f"{clinical} (clinical)")
    persons = pd.DataFrame(
        {C.IID: clin[C.IID].astype(str), C.SEX: clin[C.SEX].str.strip().str.lower()}
    )
    for col in (C.BIRTH_DATE, C.ENTRY_DATE, C.END_OF_FOLLOWUP, C.DEATH_DATE):
        persons[col] = parse_dates(
            clin[col], f"{clinical} (clinical)", col, allow_empty=col == C.DEATH_DATE
        )
    covariates = pd.DataFrame(
        {
            C.IID: persons[C.IID],
            C.BMI: parse_numbers(clin[C.BMI], f"{clinical} (clinical)", C.BMI),
            C.SMOKING: clin[C.SMOKING].str.strip().str.lower().replace("", pd.NA),
            C.SBP: parse_numbers(clin[C.SBP], f"{clinical} (clinical)", C.SBP),
        }
    )
    if diagnoses is not None:
        dx = read_any_table(diagnoses, "diagnoses")
        _require_columns(dx, C.DIAGNOSES_COLUMNS, f"{diagnoses} (diagnoses)")
        diag = pd.DataFrame(
            {
                C.IID: dx[C.IID].astype(str),
                "date": parse_dates(dx[C.DIAGNOSIS_DATE], f"{diagnoses} (diagnoses)", "date"),
                "code": dx[C.ICD10].str.strip().str.upper(),
                "concept_id": pd.array([pd.NA] * len(dx), dtype="Int64"),
            }
        )
    else:
        diag = empty_diagnoses()
    if omics is not None:
        om = read_any_table(omics, "omics")
        _require_columns(om, C.OMICS_COLUMNS, f"{omics} (omics)")
        meas = pd.DataFrame(
            {
                C.IID: om[C.IID].astype(str),
                "date": parse_dates(om[C.SAMPLE_DATE], f"{omics} (omics)", "date"),
                C.ANALYTE: om[C.ANALYTE].astype(str),
                C.VALUE: parse_numbers(om[C.VALUE], f"{omics} (omics)", C.VALUE, allow_empty=False),
            }
        )
    else:
        meas = empty_measurements()
    return HealthRecords(persons, covariates, diag, meas, source=f"table:{clinical}")


def empty_diagnoses() -> pd.DataFrame:
    return pd.DataFrame(
        {
            C.IID: pd.Series(dtype=object),
            "date": pd.Series(dtype="datetime64[ns]"),
            "code": pd.Series(dtype=object),
            "concept_id": pd.Series(dtype="Int64"),
        }
    )


def empty_measurements() -> pd.DataFrame:
    return pd.DataFrame(
        {
            C.IID: pd.Series(dtype=object),
            "date": pd.Series(dtype="datetime64[ns]"),
            C.ANALYTE: pd.Series(dtype=object),
            C.VALUE: pd.Series(dtype=float),
        }
    )


def parse_dates(
    values: pd.Series, table: str, column: str, *, allow_empty: bool = False
) -> pd.Series:
    """ISO dates (YYYY-MM-DD) to datetime64; an unparseable or (unless allowed) empty cell is an error."""
    text = values.astype(str).str.strip().str[:10]
    empty = text.isin(["", "nan", "NaT", "None", "<NA>"])
    parsed = pd.to_datetime(text.where(~empty), format="%Y-%m-%d", errors="coerce")
    bad = parsed.isna() & (~empty | (not allow_empty))
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise InputFormatError(
            f"{table}: column {column} has {int(bad.sum())} missing or non-date value(s), "
            f"e.g. {values.iloc[i]!r} on data row {i + 1} (expected YYYY-MM-DD)."
        )
    return parsed.astype("datetime64[ns]")


def parse_numbers(
    values: pd.Series, table: str, column: str, *, allow_empty: bool = True
) -> pd.Series:
    """Text to float; an empty cell is NaN (when allowed), anything else non-numeric is an error."""
    text = values.astype(str).str.strip()
    empty = text.isin(["", "nan", "NA", "<NA>", "None"])
    parsed = pd.to_numeric(text.where(~empty), errors="coerce")
    bad = parsed.isna() & (~empty | (not allow_empty))
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise InputFormatError(
            f"{table}: column {column} has {int(bad.sum())} non-numeric value(s), "
            f"e.g. {values.iloc[i]!r} on data row {i + 1}."
        )
    return parsed.astype(float)


def validate_records(records: HealthRecords, *, today: dt.date | None = None) -> None:
    """Reject records that cannot be analysed, naming the problem and an example person.

    Besides consistency (dates in order, known people, known levels) values must be plausible:
    birth on or after ``EARLIEST_BIRTH``, BMI and SBP within ``PLAUSIBLE_RANGES``.
    """
    src = records.source
    p = records.persons
    dup = p[C.IID].duplicated(keep=False)
    if dup.any():
        raise InputFormatError(
            f"{src}: {int(p.loc[dup, C.IID].nunique())} person(s) appear more than once, e.g. {p.loc[dup, C.IID].iloc[0]}."
        )
    bad_sex = ~p[C.SEX].isin(["male", "female"])
    _fail_if(bad_sex, p, src, "sex is not 'male' or 'female'")
    _fail_if(p[C.ENTRY_DATE] < p[C.BIRTH_DATE], p, src, "entry_date is before birth_date")
    _fail_if(
        p[C.END_OF_FOLLOWUP] < p[C.ENTRY_DATE],
        p,
        src,
        "end_of_followup is before entry_date (negative follow-up)",
    )
    _fail_if(p[C.DEATH_DATE] < p[C.ENTRY_DATE], p, src, "death_date is before entry_date")
    _fail_if(
        p[C.DEATH_DATE].notna() & (p[C.DEATH_DATE] > p[C.END_OF_FOLLOWUP]),
        p,
        src,
        "death_date is after end_of_followup",
    )
    _fail_if(
        p[C.BIRTH_DATE] < EARLIEST_BIRTH,
        p,
        src,
        f"birth_date is before {EARLIEST_BIRTH.date()} (implausible; check the year)",
    )
    cov = records.covariates
    for col, (lo, hi, unit) in PLAUSIBLE_RANGES.items():
        value = cov[col].astype(float)
        _fail_if(
            value.notna() & ~value.between(lo, hi),
            cov,
            src,
            f"{col} is outside its plausible range {lo:g}-{hi:g} {unit} (or not finite)",
        )
    births = p.set_index(C.IID)[C.BIRTH_DATE]
    for name, table in (("diagnoses", records.diagnoses), ("measurements", records.measurements)):
        birth = table[C.IID].map(births[~births.index.duplicated()])
        _fail_if(table["date"] < birth, table, src, f"a {name} date is before birth_date")
    values = records.measurements[C.VALUE].astype(float)
    _fail_if(
        ~np.isfinite(values),
        records.measurements,
        src,
        "a measurement value is not finite (inf or NaN)",
    )
    limit = pd.Timestamp(today or dt.date.today())
    for col in (C.BIRTH_DATE, C.ENTRY_DATE, C.END_OF_FOLLOWUP, C.DEATH_DATE):
        _fail_if(p[col] > limit, p, src, f"{col} is in the future (after {limit.date()})")
    for name, table in (("diagnoses", records.diagnoses), ("measurements", records.measurements)):
        _fail_if(
            table["date"] > limit,
            table,
            src,
            f"a {name} date is in the future (after {limit.date()})",
        )
        unknown = ~table[C.IID].isin(p[C.IID])
        _fail_if(unknown, table, src, f"{name} rows name a person who is not in the person table")
    smoking = records.covariates[C.SMOKING]
    _fail_if(
        smoking.notna() & ~smoking.isin(SMOKING_LEVELS),
        records.covariates,
        src,
        f"smoking is not one of {', '.join(SMOKING_LEVELS)}",
    )


def _fail_if(mask: pd.Series, table: pd.DataFrame, source: str, problem: str) -> None:
    mask = mask.fillna(False).to_numpy(dtype=bool)
    if mask.any():
        example = table[C.IID].to_numpy()[mask][0]
        raise InputFormatError(
            f"{source}: {int(mask.sum())} row(s) where {problem}, e.g. person {example}."
        )


def _require_columns(df: pd.DataFrame, required: tuple[str, ...], table: str) -> None:
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise InputFormatError(
            f"{table}: missing column(s) {', '.join(missing)}; found {', '.join(df.columns)}."
        )
