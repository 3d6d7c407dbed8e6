"""Health records from (and, for the demo, into) an OMOP CDM v5.4 database.

Tables read: ``person``, ``observation_period``, ``condition_occurrence``, ``death``,
``measurement`` and ``observation`` (smoking). The database is a DuckDB file (embedded, the
default) or a PostgreSQL server given as a ``postgresql://`` URL. The same SQL runs on both.

Mapping to :class:`~igs.pheno.records.HealthRecords`:

* IID is ``person.person_source_value`` (the genotype sample ID); sex from
  ``gender_concept_id`` (8507 male, 8532 female); birth from ``birth_datetime`` or
  year/month/day of birth;
* entry and end of follow-up are the first start and last end of the person's observation
  periods; death is the earliest ``death.death_date``;
* diagnoses are ``condition_occurrence`` rows: ``condition_source_value`` (ICD-10 text) and
  ``condition_concept_id``;
* BMI and systolic blood pressure are the last ``measurement`` on or before entry with the
  configured concepts (defaults: 3038553 and 3004249); smoking is the last ``observation`` of
  the configured concept on or before entry, its ``value_as_string`` (never/former/current);
* every other measurement is an omics value, named by ``measurement_source_value``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from igs import columns as C
from igs.errors import InputFormatError
from igs.pheno.records import HealthRecords
from igs.redact import check_no_password, redact_url, redact_urls

MALE, FEMALE = 8507, 8532
EHR_TYPE = 32817  # "EHR" type concept
LOCAL_CONCEPT_BASE = 2_000_000_000  # OMOP reserves concept ids above 2e9 for local concepts


@dataclass(frozen=True)
class OmopConcepts:
    """Concept ids of the covariates (configurable: sites code them differently)."""

    bmi: int = 3038553
    sbp: int = 3004249
    smoking: int = 43054909


DDL = {
    "person": "person_id BIGINT PRIMARY KEY, gender_concept_id INTEGER NOT NULL, "
    "year_of_birth INTEGER NOT NULL, month_of_birth INTEGER, day_of_birth INTEGER, "
    "birth_datetime TIMESTAMP, race_concept_id INTEGER NOT NULL, ethnicity_concept_id INTEGER NOT NULL, "
    "person_source_value VARCHAR(50), gender_source_value VARCHAR(50)",
    "observation_period": "observation_period_id BIGINT PRIMARY KEY, person_id BIGINT NOT NULL, "
    "observation_period_start_date DATE NOT NULL, observation_period_end_date DATE NOT NULL, "
    "period_type_concept_id INTEGER NOT NULL",
    "death": "person_id BIGINT NOT NULL, death_date DATE NOT NULL, death_type_concept_id INTEGER",
    "condition_occurrence": "condition_occurrence_id BIGINT PRIMARY KEY, person_id BIGINT NOT NULL, "
    "condition_concept_id INTEGER NOT NULL, condition_start_date DATE NOT NULL, "
    "condition_type_concept_id INTEGER NOT NULL, condition_source_value VARCHAR(50)",
    "measurement": "measurement_id BIGINT PRIMARY KEY, person_id BIGINT NOT NULL, "
    "measurement_concept_id INTEGER NOT NULL, measurement_date DATE NOT NULL, "
    "measurement_type_concept_id INTEGER NOT NULL, value_as_number DOUBLE PRECISION, "
    "value_as_string VARCHAR(60), measurement_source_value VARCHAR(50)",
    "observation": "observation_id BIGINT PRIMARY KEY, person_id BIGINT NOT NULL, "
    "observation_concept_id INTEGER NOT NULL, observation_date DATE NOT NULL, "
    "observation_type_concept_id INTEGER NOT NULL, value_as_string VARCHAR(60), "
    "observation_source_value VARCHAR(50)",
}


def connect(url: str | os.PathLike[str], *, read_only: bool = True) -> Any:
    """A DB-API connection: PostgreSQL for ``postgresql://`` URLs, else a DuckDB file."""
    text = str(url)
    if text.startswith(("postgresql://", "postgres://")):
        import psycopg

        check_no_password(text, "OMOP database")
        try:  # libpq takes the password from PGPASSWORD or the password file (PGPASSFILE)
            return psycopg.connect(text)
        except psycopg.OperationalError as exc:
            raise InputFormatError(
                f"cannot connect to the OMOP database {redact_url(text)}: "
                f"{redact_urls(str(exc)).strip()}"
            ) from exc
    import duckdb

    if read_only and not Path(text).is_file():
        raise InputFormatError(f"{text}: OMOP DuckDB file not found.")
    try:
        return duckdb.connect(text, read_only=read_only)
    except duckdb.Error as exc:
        raise InputFormatError(
            f"{text}: cannot open the OMOP DuckDB file ({type(exc).__name__}: "
            f"{str(exc).splitlines()[0]}); is it a DuckDB database?"
        ) from exc


def query(conn: Any, sql: str) -> pd.DataFrame:
    """Run one SELECT and return its rows as a DataFrame."""
    cur = conn.cursor()
    try:
        cur.execute(sql)
        columns = [d[0] for d in cur.description]
        return pd.DataFrame(cur.fetchall(), columns=columns)
    except Exception as exc:  # both drivers: name the query's problem (e.g. a missing table)
        raise InputFormatError(
            f"OMOP query failed ({type(exc).__name__}: {redact_urls(str(exc))})."
        ) from exc
    finally:
        cur.close()


def read_omop_records(
    url: str | os.PathLike[str], concepts: OmopConcepts = OmopConcepts()
) -> HealthRecords:
    """Records from an OMOP CDM v5.4 database (see the module docstring for the mapping)."""
    conn = connect(url)
    try:
        persons = query(conn, _PERSONS_SQL)
        covariates = query(conn, _covariates_sql(concepts))
        diagnoses = query(
            conn,
            "SELECT p.person_source_value AS iid, c.condition_start_date AS date, "
            "c.condition_source_value AS code, c.condition_concept_id AS concept_id "
            "FROM condition_occurrence c JOIN person p ON p.person_id = c.person_id "
            "ORDER BY c.condition_occurrence_id",
        )
        measurements = query(
            conn,
            "SELECT p.person_source_value AS iid, m.measurement_date AS date, "
            "m.measurement_source_value AS analyte, m.value_as_number AS value, "
            "m.value_as_string AS value_text FROM measurement m JOIN person p ON p.person_id = m.person_id "
            f"WHERE m.measurement_concept_id NOT IN ({int(concepts.bmi)}, {int(concepts.sbp)}) "
            "ORDER BY m.measurement_id",
        )
    finally:
        conn.close()
    source = f"omop:{redact_url(str(url))}"
    return HealthRecords(
        persons=_persons(persons),
        covariates=_covariates(covariates),
        diagnoses=pd.DataFrame(
            {
                C.IID: diagnoses["iid"].astype(str).to_numpy(),
                "date": _dates(diagnoses["date"]),
                "code": diagnoses["code"].fillna("").astype(str).str.strip().str.upper().to_numpy(),
                "concept_id": pd.array(diagnoses["concept_id"], dtype="Int64"),
            }
        ),
        measurements=_measurements(measurements, source),
        source=source,
    )


_PERSONS_SQL = """
SELECT p.person_source_value AS iid, p.gender_concept_id, p.birth_datetime,
       p.year_of_birth, p.month_of_birth, p.day_of_birth,
       op.start_date AS entry_date, op.end_date AS end_of_followup, d.death_date
FROM person p
JOIN (SELECT person_id, MIN(observation_period_start_date) AS start_date,
             MAX(observation_period_end_date) AS end_date
      FROM observation_period GROUP BY person_id) op ON op.person_id = p.person_id
LEFT JOIN (SELECT person_id, MIN(death_date) AS death_date FROM death GROUP BY person_id) d
       ON d.person_id = p.person_id
ORDER BY p.person_id
"""


def _covariates_sql(c: OmopConcepts) -> str:
    # the last value on or before entry, per person and concept
    return f"""
WITH entry AS (SELECT person_id, MIN(observation_period_start_date) AS entry_date
               FROM observation_period GROUP BY person_id),
meas AS (SELECT m.person_id, m.measurement_concept_id AS concept, m.value_as_number AS value,
                ROW_NUMBER() OVER (PARTITION BY m.person_id, m.measurement_concept_id
                                   ORDER BY m.measurement_date DESC, m.measurement_id DESC) AS rk
         FROM measurement m JOIN entry e ON e.person_id = m.person_id
         WHERE m.measurement_concept_id IN ({int(c.bmi)}, {int(c.sbp)}) AND m.measurement_date <= e.entry_date),
obs AS (SELECT o.person_id, o.value_as_string AS smoking,
               ROW_NUMBER() OVER (PARTITION BY o.person_id
                                  ORDER BY o.observation_date DESC, o.observation_id DESC) AS rk
        FROM observation o JOIN entry e ON e.person_id = o.person_id
        WHERE o.observation_concept_id = {int(c.smoking)} AND o.observation_date <= e.entry_date)
SELECT p.person_source_value AS iid,
       (SELECT value FROM meas WHERE meas.person_id = p.person_id AND concept = {int(c.bmi)} AND rk = 1) AS bmi,
       (SELECT smoking FROM obs WHERE obs.person_id = p.person_id AND rk = 1) AS smoking,
       (SELECT value FROM meas WHERE meas.person_id = p.person_id AND concept = {int(c.sbp)} AND rk = 1) AS sbp
FROM person p JOIN entry e ON e.person_id = p.person_id
ORDER BY p.person_id
"""


def _dates(values: pd.Series) -> np.ndarray:
    return pd.to_datetime(values).astype("datetime64[ns]").to_numpy()


def _persons(df: pd.DataFrame) -> pd.DataFrame:
    blank = df["iid"].isna() | (df["iid"].astype(str).str.strip() == "")
    if blank.any():
        raise InputFormatError(
            f"OMOP person table: {int(blank.sum())} person(s) have no person_source_value (the "
            "genotype sample ID igs uses as IID); fill it in or remove them."
        )
    sex = df["gender_concept_id"].map({MALE: "male", FEMALE: "female"}).fillna("unknown")
    from_parts = pd.to_datetime(
        pd.DataFrame(
            {
                "year": df["year_of_birth"],
                "month": df["month_of_birth"].fillna(7),
                "day": df["day_of_birth"].fillna(1),
            }
        ),
        errors="coerce",
    )
    birth = pd.to_datetime(df["birth_datetime"]).dt.normalize().fillna(from_parts)
    return pd.DataFrame(
        {
            C.IID: df["iid"].astype(str).to_numpy(),
            C.SEX: sex.to_numpy(),
            C.BIRTH_DATE: birth.astype("datetime64[ns]").to_numpy(),
            C.ENTRY_DATE: _dates(df["entry_date"]),
            C.END_OF_FOLLOWUP: _dates(df["end_of_followup"]),
            C.DEATH_DATE: _dates(df["death_date"]),
        }
    )


def _covariates(df: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(
        {
            C.IID: df["iid"].astype(str).to_numpy(),
            C.BMI: pd.to_numeric(df["bmi"]).astype(float).to_numpy(),
            C.SMOKING: df["smoking"].astype(object).where(df["smoking"].notna(), pd.NA).to_numpy(),
            C.SBP: pd.to_numeric(df["sbp"]).astype(float).to_numpy(),
        }
    )


def _measurements(df: pd.DataFrame, source: str) -> pd.DataFrame:
    bad = df["value"].isna()
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise InputFormatError(
            f"{source}: {int(bad.sum())} measurement(s) have no numeric value_as_number, e.g. "
            f"{df['analyte'].iloc[i]} of person {df['iid'].iloc[i]} ({df['value_text'].iloc[i]!r})."
        )
    return pd.DataFrame(
        {
            C.IID: df["iid"].astype(str).to_numpy(),
            "date": _dates(df["date"]),
            C.ANALYTE: df["analyte"].astype(str).to_numpy(),
            C.VALUE: pd.to_numeric(df["value"]).astype(float).to_numpy(),
        }
    )


# --------------------------------------------------------------------------- writing (demo)


def omop_tables(
    records: HealthRecords, concepts: OmopConcepts = OmopConcepts()
) -> dict[str, pd.DataFrame]:
    """The records as OMOP CDM tables (person ids in person-table order, local analyte concepts)."""
    p = records.persons.reset_index(drop=True)
    pid = pd.Series(np.arange(1, len(p) + 1), index=p[C.IID].to_numpy())
    birth = p[C.BIRTH_DATE]
    person = pd.DataFrame(
        {
            "person_id": pid.to_numpy(),
            "gender_concept_id": np.where(p[C.SEX] == "male", MALE, FEMALE),
            "year_of_birth": birth.dt.year.to_numpy(),
            "month_of_birth": birth.dt.month.to_numpy(),
            "day_of_birth": birth.dt.day.to_numpy(),
            "birth_datetime": birth.to_numpy(),
            "race_concept_id": 0,
            "ethnicity_concept_id": 0,
            "person_source_value": p[C.IID].to_numpy(),
            "gender_source_value": p[C.SEX].to_numpy(),
        }
    )
    period = pd.DataFrame(
        {
            "observation_period_id": pid.to_numpy(),
            "person_id": pid.to_numpy(),
            "observation_period_start_date": p[C.ENTRY_DATE].dt.date.to_numpy(),
            "observation_period_end_date": p[C.END_OF_FOLLOWUP].dt.date.to_numpy(),
            "period_type_concept_id": EHR_TYPE,
        }
    )
    dead = p[p[C.DEATH_DATE].notna()]
    death = pd.DataFrame(
        {
            "person_id": pid[dead[C.IID]].to_numpy(),
            "death_date": dead[C.DEATH_DATE].dt.date.to_numpy(),
            "death_type_concept_id": EHR_TYPE,
        }
    )
    dx = records.diagnoses.reset_index(drop=True)
    codes = sorted(dx["code"].unique())
    code_concept = {c: LOCAL_CONCEPT_BASE + 100_000 + i for i, c in enumerate(codes)}
    condition = pd.DataFrame(
        {
            "condition_occurrence_id": np.arange(1, len(dx) + 1),
            "person_id": pid[dx[C.IID]].to_numpy(),
            "condition_concept_id": dx["concept_id"]
            .fillna(dx["code"].map(code_concept))
            .astype(np.int64)
            .to_numpy(),
            "condition_start_date": dx["date"].dt.date.to_numpy(),
            "condition_type_concept_id": EHR_TYPE,
            "condition_source_value": dx["code"].to_numpy(),
        }
    )
    cov = records.covariates.set_index(C.IID).loc[p[C.IID]].reset_index()
    entry = p[C.ENTRY_DATE].dt.date.to_numpy()
    parts = []
    for concept, col in ((concepts.bmi, C.BMI), (concepts.sbp, C.SBP)):
        has = cov[col].notna().to_numpy()
        parts.append(
            pd.DataFrame(
                {
                    "person_id": pid.to_numpy()[has],
                    "measurement_concept_id": concept,
                    "measurement_date": entry[has],
                    "value_as_number": cov[col].to_numpy()[has],
                    "value_as_string": None,
                    "measurement_source_value": col,
                }
            )
        )
    m = records.measurements.reset_index(drop=True)
    analytes = sorted(m[C.ANALYTE].unique())
    analyte_concept = {a: LOCAL_CONCEPT_BASE + 200_000 + i for i, a in enumerate(analytes)}
    parts.append(
        pd.DataFrame(
            {
                "person_id": pid[m[C.IID]].to_numpy(),
                "measurement_concept_id": m[C.ANALYTE].map(analyte_concept).to_numpy(),
                "measurement_date": m["date"].dt.date.to_numpy(),
                "value_as_number": m[C.VALUE].to_numpy(),
                "value_as_string": None,
                "measurement_source_value": m[C.ANALYTE].to_numpy(),
            }
        )
    )
    measurement = pd.concat(parts, ignore_index=True)
    for col in ("person_id", "measurement_concept_id"):  # an empty part (no omics) makes floats
        measurement[col] = measurement[col].astype(np.int64)
    measurement.insert(0, "measurement_id", np.arange(1, len(measurement) + 1))
    measurement.insert(4, "measurement_type_concept_id", EHR_TYPE)
    smokes = cov[C.SMOKING].notna().to_numpy()
    observation = pd.DataFrame(
        {
            "observation_id": np.arange(1, int(smokes.sum()) + 1),
            "person_id": pid.to_numpy()[smokes],
            "observation_concept_id": concepts.smoking,
            "observation_date": entry[smokes],
            "observation_type_concept_id": EHR_TYPE,
            "value_as_string": cov[C.SMOKING].to_numpy()[smokes],
            "observation_source_value": "smoking",
        }
    )
    return {
        "person": person,
        "observation_period": period,
        "death": death,
        "condition_occurrence": condition,
        "measurement": measurement,
        "observation": observation,
    }


def write_omop(
    records: HealthRecords, url: str | os.PathLike[str], concepts: OmopConcepts = OmopConcepts()
) -> None:
    """Create the OMOP tables in a new DuckDB file or an empty PostgreSQL database and fill them."""
    tables = omop_tables(records, concepts)
    conn = connect(url, read_only=False)
    try:
        cur = conn.cursor()
        for name, df in tables.items():
            cur.execute(f"DROP TABLE IF EXISTS {name}")
            cur.execute(f"CREATE TABLE {name} ({DDL[name]})")
            _insert(conn, cur, name, df)
        conn.commit()
    finally:
        conn.close()


def _insert(conn: Any, cur: Any, name: str, df: pd.DataFrame) -> None:
    columns = ", ".join(df.columns)
    if "duckdb" in type(conn).__module__.lower():
        conn.register("igs_frame", df)
        conn.execute(f"INSERT INTO {name} ({columns}) SELECT {columns} FROM igs_frame")
        conn.unregister("igs_frame")
        return
    with cur.copy(f"COPY {name} ({columns}) FROM STDIN") as copy:
        for row in df.astype(object).where(df.notna(), None).itertuples(index=False):
            copy.write_row(row)
