"""Disclosure control for what leaves a biobank: the counts of a share bundle, how they constrain
one another, and a checker for every outgoing file.

A bundle's counts are tied by sums (people included plus excluded is the same cohort in every
row of ``counts.tsv``; percentile groups add up to everyone; female plus male is all; the test
set's events plus the training set's are all events) and by differences that are counts
themselves (people without an event, censored people). :func:`bundle_constraints` writes these
as linear equations over the published cells and the unpublished ("virtual") ones; a cell is
*recoverable* when the equations fix its value given the published cells, and *bounded* when
the blanked cells of one sum are known to add up to less than ``min_cell``.

:func:`protect` chooses the cells to blank (small ones, then complementary ones until nothing
small is recoverable or bounded); :func:`check_bundle` and :func:`check_files` report what an
outgoing file discloses (small or recoverable counts, person IDs, dates, exact event or
censoring ages) and are what the tests run on real workflow output.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

# (table, row position, column) of a published cell, or ("~", ...) for a virtual one
Key = tuple
Constraint = tuple[tuple[Key, float], ...]  # sum of coef * value == 0

COUNT_COLUMNS_OF_MODELS = ("n_train", "n_test", "events_test")
COUNT_COLUMNS = {
    "counts.tsv": lambda c: c.startswith(("n_", "excluded_")),
    "prs_effects.tsv": lambda c: c in ("n", "n_events"),
    "models.tsv": lambda c: c in COUNT_COLUMNS_OF_MODELS,
    "calibration.tsv": lambda c: c == "n",
    "fairness.tsv": lambda c: c in ("n", "n_events"),
}
DATE = re.compile(r"(?<!\d)(1[89]|20)\d\d[-/.](0[1-9]|1[0-2])[-/.](0[1-9]|[12]\d|3[01])(?!\d)")
NUMBER = re.compile(r"(?<![\w.])-?\d+\.(\d+)(?:[eE][-+]?\d+)?")
TOKEN = re.compile(r"[A-Za-z0-9_:.@/-]+")


@dataclass(frozen=True)
class Finding:
    """One thing an outgoing file discloses."""

    file: str
    kind: str  # small_count, recoverable_count, bounded_count, implied_count, value_of_blank, person_id, date, exact_age
    detail: str


def count_columns(name: str, table: pd.DataFrame) -> list[str]:
    """The columns of bundle table ``name`` that count people or events."""
    is_count = COUNT_COLUMNS.get(name)
    return [c for c in table.columns if is_count and is_count(c)]


def value_columns(name: str, table: pd.DataFrame) -> list[str]:
    """The columns of bundle table ``name`` computed from its counts (estimates, metrics)."""
    if name == "models.tsv":
        ids = ("endpoint", "model", "model_set", "engine", *COUNT_COLUMNS_OF_MODELS)
        return [c for c in table.columns if c not in ids]
    cols = {
        "prs_effects.tsv": ["hr", "hr_low", "hr_high", "log_hr", "se", "p"],
        "calibration.tsv": ["predicted", "observed"],
        "fairness.tsv": ["harrell_c", "observed_expected", "calibration_slope", "hr", "hr_low",
                         "hr_high", "log_hr", "se"],
    }.get(name, [])  # fmt: skip
    return [c for c in cols if c in table]


def bundle_constraints(tables: dict[str, pd.DataFrame]) -> list[Constraint]:
    """The linear equations tying a bundle's counts (see the module docstring)."""
    out: list[Constraint] = []
    counts = tables.get("counts.tsv", pd.DataFrame())
    effects = tables.get("prs_effects.tsv", pd.DataFrame())
    models = tables.get("models.tsv", pd.DataFrame())
    count_row = {ep: i for i, ep in enumerate(counts.get("endpoint", []))}
    for i in range(len(counts)):
        excluded = [("counts.tsv", i, c) for c in counts.columns if c.startswith("excluded_")]
        # the same cohort in every row: included + excluded = n_persons
        out.append(
            _sum(("~", "counts.tsv", "n_persons"), [("counts.tsv", i, "n_included"), *excluded])
        )
        parts = [("counts.tsv", i, c) for c in ("n_events", "n_competing_deaths") if c in counts]
        out.append(
            _sum(("counts.tsv", i, "n_included"), [*parts, ("~", "counts.tsv", i, "censored")])
        )
    for ep, rows in _rows_by(effects, "endpoint"):
        hr = {effects.at[i, "group"]: i for i in rows if effects.at[i, "effect"] == "hr_per_sd"}
        pct = [i for i in rows if effects.at[i, "effect"] == "percentile_group"]
        for col in ("n", "n_events"):
            total = ("prs_effects.tsv", hr["all"], col) if "all" in hr else ("~", "prs", ep, col)
            if {"female", "male"} <= hr.keys() and "all" in hr:
                out.append(
                    _sum(total, [("prs_effects.tsv", hr[g], col) for g in ("female", "male")])
                )
            if pct:
                out.append(_sum(total, [("prs_effects.tsv", i, col) for i in pct]))
            # an interaction is fitted on everyone: its counts repeat the overall ones
            for i in rows:
                if effects.at[i, "effect"] == "prs_interaction":
                    out.append(_sum(("prs_effects.tsv", i, col), [total]))
            if "all" in hr and ep in count_row:  # the score's analysis set is everyone included
                target = "n_included" if col == "n" else "n_events"
                out.append(_sum(("counts.tsv", count_row[ep], target), [total]))
        for i in rows:
            out.append(_sum(("prs_effects.tsv", i, "n"),
                            [("prs_effects.tsv", i, "n_events"), ("~", "prs", i, "no_event")]))  # fmt: skip
    fairness = tables.get("fairness.tsv", pd.DataFrame())
    model_rows = dict(_rows_by(models, "endpoint"))
    for ep, rows in _rows_by(fairness, "endpoint"):
        # each dimension's groups partition the endpoint's test set
        for dim in dict.fromkeys(fairness.loc[rows, "dimension"]):
            parts = [i for i in rows if fairness.at[i, "dimension"] == dim]
            for col, total in (("n", "n_test"), ("n_events", "events_test")):
                whole = (("models.tsv", model_rows[ep][0], total)
                         if ep in model_rows and total in models else ("~", "fairness", ep, col))  # fmt: skip
                out.append(_sum(whole, [("fairness.tsv", i, col) for i in parts]))
        for i in rows:
            out.append(_sum(("fairness.tsv", i, "n"),
                            [("fairness.tsv", i, "n_events"), ("~", "fairness", i, "no_event")]))  # fmt: skip
    for ep, rows in _rows_by(models, "endpoint"):
        first = rows[0]
        for col in ("n_train", "n_test", "events_test"):
            if col in models:  # every model of an endpoint has the same split
                out += [
                    _sum(("models.tsv", first, col), [("models.tsv", i, col)]) for i in rows[1:]
                ]
        if {"n_test", "events_test"} <= set(models.columns):
            out.append(_sum(("models.tsv", first, "n_test"),
                            [("models.tsv", first, "events_test"), ("~", "models", ep, "test_no_event")]))  # fmt: skip
        if ep in count_row and {"n_train", "n_test"} <= set(models.columns):
            out.append(_sum(("counts.tsv", count_row[ep], "n_included"),
                            [("models.tsv", first, "n_train"), ("models.tsv", first, "n_test")]))  # fmt: skip
        if ep in count_row and "events_test" in models:
            out.append(_sum(("counts.tsv", count_row[ep], "n_events"),
                            [("models.tsv", first, "events_test"), ("~", "models", ep, "train_events")]))  # fmt: skip
    return out


def protect(values: dict[Key, float], constraints: list[Constraint], min_cell: int) -> set[Key]:
    """The published cells to blank: every count from 1 to ``min_cell - 1`` and, one at a time
    (smallest first), complementary cells until no small count (published or virtual) can be
    recovered or bounded below ``min_cell`` from the rest."""
    blank = {k for k, v in values.items() if k[0] != "~" and 0 < v < min_cell}
    for _ in range(len(values) + 1):
        problems = _problems(values, blank, constraints, min_cell)
        if not problems:
            break
        choice = _complement(problems[0], values, blank, constraints)
        if choice is None:  # nothing published is left around it
            break
        blank.add(choice)
    return blank


def check_bundle(tables: dict[str, pd.DataFrame], min_cell: int, name: str = "") -> list[Finding]:
    """What a bundle's tables disclose: published counts below ``min_cell`` (also those implied
    by calibration bins' ``observed`` times ``n``), blanked or unpublished counts below it that the
    other cells recover or bound, and values left beside a blanked count."""
    found = []
    values = {}
    for table_name, table in tables.items():
        if not isinstance(table, pd.DataFrame) or table_name.startswith("__"):
            continue
        cols = count_columns(table_name, table)
        for col in cols:
            for i, v in enumerate(pd.to_numeric(table[col], errors="coerce")):
                key = (table_name, i, col)
                if pd.notna(v):
                    values[key] = float(v)
                    if 0 < v < min_cell:
                        found.append(Finding(f"{name}{table_name}", "small_count",
                                             f"row {i + 1} {col} = {v:g}"))  # fmt: skip
        found += _values_beside_blanks(f"{name}{table_name}", table, cols)
    cal = tables.get("calibration.tsv")
    if cal is not None and len(cal):
        implied = pd.to_numeric(cal["observed"], errors="coerce") * pd.to_numeric(
            cal["n"], errors="coerce"
        )
        for i, (ev, n) in enumerate(zip(implied.round(), cal["n"], strict=True)):
            for what, v in (("events", ev), ("people without an event", n - ev)):
                if pd.notna(v) and 0 < v < min_cell:
                    found.append(Finding(f"{name}calibration.tsv", "implied_count",
                                         f"row {i + 1}: observed x n implies {v:g} {what}"))  # fmt: skip
    constraints = bundle_constraints(tables)
    solved, bounded = _solve(values, constraints)
    for key, v in solved.items():
        if 0.5 <= v < min_cell - 0.5:
            found.append(Finding(f"{name}{key[0] if key[0] != '~' else 'bundle'}", "recoverable_count",
                                 f"{_cell_name(key)} = {v:g} follows from the published counts"))  # fmt: skip
    for keys, total in bounded:
        if 0.5 <= total < min_cell - 0.5:
            found.append(Finding(f"{name}bundle", "bounded_count",
                                 f"{' + '.join(map(_cell_name, keys))} = {total:g} < {min_cell}"))  # fmt: skip
    return found


def read_tables(folder: str | Path) -> dict[str, pd.DataFrame]:
    """The TSV tables of a bundle folder (no checksum check: the checker reads what is there)."""
    return {p.name: pd.read_csv(p, sep="\t") for p in sorted(Path(folder).glob("*.tsv"))}


def check_files(
    files: Iterable[str | Path],
    *,
    person_ids: Iterable[str] = (),
    ages: Iterable[float] = (),
    dates: Iterable[str] = (),
    min_cell: int = 5,
) -> list[Finding]:
    """What outgoing ``files`` disclose: any of ``person_ids`` as a token, a calendar date
    (any ISO-like date, and any of ``dates``), a number printed to at least 6 significant digits
    that equals one of ``ages`` (exact event or censoring ages, years) to that precision, and, for a
    folder holding a manifest.json (a share bundle), :func:`check_bundle` on its tables."""
    ids = {str(i) for i in person_ids if len(str(i)) >= 4 and not str(i).isdigit()}
    exact = np.unique(np.round(np.asarray(list(ages), float), 6))
    dates = set(dates)
    found: list[Finding] = []
    for f in map(Path, files):
        if f.is_dir():
            if (f / "manifest.json").is_file():
                found += check_bundle(read_tables(f), min_cell, f"{f}/")
            found += check_files(sorted(p for p in f.rglob("*") if p.is_file()), person_ids=ids,
                                 ages=exact, dates=dates, min_cell=min_cell)  # fmt: skip
            continue
        text = f.read_bytes().decode("utf-8", errors="replace")
        if f.suffix == ".png":
            text = text[:0]  # pixels; PNG text chunks are written without metadata
        hits = sorted({t for t in (t.strip(".:/-") for t in TOKEN.findall(text)) if t in ids})
        if hits:
            found.append(Finding(str(f), "person_id", f"{len(hits)} ID(s), e.g. {hits[0]}"))
        ds = sorted({m.group(0) for m in DATE.finditer(text)} | {d for d in dates if d in text})
        if ds:
            found.append(Finding(str(f), "date", f"{len(ds)} date(s), e.g. {ds[0]}"))
        n_age, example = _exact_ages(text, exact)
        if n_age:
            found.append(
                Finding(
                    str(f),
                    "exact_age",
                    f"{n_age} number(s) equal an event/censoring age, e.g. {example}",
                )
            )
    return found


# --------------------------------------------------------------------------- internals


def outgoing_files(results: str | Path, biobank: str) -> list[Path]:
    """What of a run may leave ``biobank``: its share bundle and evaluate/*/model.json, and the
    run's meta-analysis, report and federated outputs (those that exist)."""
    from igs import paths as P

    r = Path(results)
    files = [
        Path(P.share(r, biobank)),
        *sorted(Path(P.evaluation(r, biobank, "*")).parent.glob("*/model.json")),
    ]
    files += [
        Path(P.meta(r)),
        Path(P.report(r)),
        *sorted(Path(P.federated(r, "*")).parent.glob("*/*")),
    ]
    return [f for f in files if f.exists()]


def individuals(results: str | Path, biobank: str) -> tuple[set[str], list[float]]:
    """The biobank's person IDs (phenotype tables, QC'd .fam) and its exact event and censoring
    ages (every endpoint table's ``exit_age``): what :func:`check_files` looks for."""
    from igs import paths as P

    r = Path(results)
    ids: set[str] = set()
    ages: list[float] = []
    for table in sorted(Path(P.pheno(r, biobank, "")).glob("*.parquet")):
        t = pd.read_parquet(table)
        ids |= set(t["IID"].astype(str))
        ages += t["exit_age"].dropna().tolist()
    fam = Path(P.qc(r, biobank, "genotypes.fam"))
    if fam.is_file():
        ids |= set(pd.read_csv(fam, sep=r"\s+", header=None)[1].astype(str))
    return ids, ages


def _sum(total: Key, parts: list[Key]) -> Constraint:
    return ((total, 1.0), *((p, -1.0) for p in parts))


def _rows_by(table: pd.DataFrame, col: str) -> list[tuple[str, list[int]]]:
    if not len(table) or col not in table:
        return []
    groups: dict[str, list[int]] = {}
    for i, v in enumerate(table[col]):
        groups.setdefault(v, []).append(i)
    return list(groups.items())


def _cell_name(key: Key) -> str:
    if key[0] == "~":
        return "/".join(str(k) for k in key[1:])
    return f"{key[0]} row {key[1] + 1} {key[2]}"


def _solve(
    values: dict[Key, float], constraints: list[Constraint]
) -> tuple[dict[Key, float], list[tuple[list[Key], float]]]:
    """The unknowns (keys not in ``values``) that the constraints fix, with their values, and
    each sum whose remaining unknowns all carry the same sign, with what they add up to."""
    unknown = sorted({k for c in constraints for k, _ in c if k not in values}, key=repr)
    index = {k: j for j, k in enumerate(unknown)}
    rows = [c for c in constraints if any(k in index for k, _ in c)]
    solved: dict[Key, float] = {}
    if rows:
        a = np.zeros((len(rows), len(unknown)))
        b = np.zeros(len(rows))
        for r, c in enumerate(rows):
            for k, coef in c:
                if k in index:
                    a[r, index[k]] += coef
                else:
                    b[r] -= coef * values[k]
        x, *_ = np.linalg.lstsq(a, b, rcond=None)
        _, sv, vt = np.linalg.svd(a)
        rank = int((sv > 1e-9 * max(sv.max(initial=0), 1)).sum())
        null = vt[rank:]
        for k, j in index.items():
            if np.all(np.abs(null[:, j]) < 1e-9):
                solved[k] = float(np.round(x[j], 6))
    known = values | solved
    bounded = []
    for c in constraints:
        rest = [(k, coef) for k, coef in c if k not in known]
        if len(rest) > 1 and len({np.sign(coef) for _, coef in rest}) == 1:
            total = -sum(coef * known[k] for k, coef in c if k in known) / rest[0][1]
            bounded.append(([k for k, _ in rest], float(total)))
    return solved, bounded


def _problems(
    values: dict[Key, float], blank: set[Key], constraints: list[Constraint], min_cell: int
) -> list[list[Key]]:
    """For every small count that ``blank`` leaves recoverable or bounded, the unknown cells
    its disclosure rests on (the cell itself, or the cells of the bounded sum)."""
    published = {k: v for k, v in values.items() if k[0] != "~" and k not in blank}
    solved, bounded = _solve(published, constraints)
    out = [[k] for k in sorted(solved, key=repr) if 0 < values.get(k, solved[k]) < min_cell]
    return out + [keys for keys, total in bounded if 0 < total < min_cell]


def _complement(
    keys: list[Key], values: dict[Key, float], blank: set[Key], constraints: list[Constraint]
) -> Key | None:
    """The published cell to blank next: the smallest non-zero count (else a zero) in the sums
    around ``keys``, widening to the sums around their unknown neighbours while none is left."""
    frontier, seen = set(keys), set()
    while frontier - seen:
        seen |= frontier
        around = [c for c in constraints if any(k in frontier for k, _ in c)]
        members = {k for c in around for k, _ in c}
        options = [k for k in members if k[0] != "~" and k not in blank and k in values]
        if options:
            return min(options, key=lambda k: (values[k] == 0, values[k], repr(k)))
        frontier = frontier | members
    return None


def _values_beside_blanks(name: str, table: pd.DataFrame, cols: list[str]) -> list[Finding]:
    """Rows with a blanked count but a value (estimate) left in: the value was computed from it."""
    value_cols = value_columns(name.rsplit("/", 1)[-1], table)
    if not cols or not value_cols:
        return []
    blank_count = table[cols].isna().any(axis=1)
    left = blank_count & table[value_cols].notna().any(axis=1)
    return [Finding(name, "value_of_blank", f"row {i + 1} keeps values beside a blanked count")
            for i in np.flatnonzero(left.to_numpy())]  # fmt: skip


def _exact_ages(text: str, ages: np.ndarray) -> tuple[int, str]:
    """How many numbers in ``text`` printed to at least 6 significant digits equal one of
    ``ages`` to their printed precision, and the first of them."""
    if not len(ages):
        return 0, ""
    n, example = 0, ""
    for m in NUMBER.finditer(text):
        whole = m.group(0).lstrip("-").split(".")[0].lstrip("0")
        if "e" in m.group(0).lower() or len(whole) + len(m.group(1)) < 6:
            continue
        v = float(m.group(0))
        if not ages[0] - 1 <= v <= ages[-1] + 1:
            continue
        tol = 0.5 * 10.0 ** -min(len(m.group(1)), 6) + 1e-9
        j = np.searchsorted(ages, v)
        near = ages[max(j - 1, 0) : j + 1]
        if np.any(np.abs(near - v) <= tol):
            n += 1
            example = example or m.group(0)
    return n, example
