"""Score per chromosome (one job each), then combine: the same result as one merged file.

* :func:`combine_match_reports` merges the match reports of one score made against each
  chromosome's variants (matched with ``min_overlap=0``): each scoring-file row keeps its best
  status over the chromosomes; the overlap is checked once, on the combined report.
* :func:`sum_score_tables` sums ``SUM``, ``n_variants``, ``ALLELE_CT`` and
  ``NAMED_ALLELE_DOSAGE_SUM`` over the per-chromosome score tables and recomputes ``AVG``.

Both are exact: every quantity is a sum over variants (missing calls are imputed per variant).
The workflow matches each score once against :func:`concat_variants` of all the parts
(``igs scores match --part ...``): :func:`assign_parts` gives that report the form
:func:`combine_match_reports` gives the per-part ones, and :class:`PartWeightsWriter` stores the
matched rows that each part's compute job reads back with :func:`read_part_weights`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd

from igs.errors import InputFormatError

ADDITIVE_COLUMNS = ("SUM", "n_variants", "ALLELE_CT", "NAMED_ALLELE_DOSAGE_SUM")
# the status a row keeps when the chromosomes disagree: the first in this order
STATUS_RANK = (
    "matched",
    "duplicate",
    "filtered_info",
    "filtered_maf",
    "not_in_reference",
    "excluded_ambiguous",
    "allele_mismatch",
    "absent",
)


def combine_match_reports(reports: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """One report per (pgs_id, row) from per-chromosome reports, with a ``chrom_part`` column
    naming the chromosome file whose target variant it matched (``target_index`` indexes that
    file's variants)."""
    parts = [r.assign(chrom_part=str(c)) for c, r in reports.items()]
    if not parts:
        raise ValueError("no per-chromosome match reports to combine")
    rank = {s: i for i, s in enumerate(STATUS_RANK)}
    merged = pd.concat(parts, ignore_index=True)
    merged["_rank"] = merged["match_status"].map(rank).fillna(len(rank)).astype(int)
    best = merged.sort_values(["pgs_id", "row", "_rank"], kind="stable").drop_duplicates(
        ["pgs_id", "row"]
    )
    best.loc[best["match_status"] != "matched", "chrom_part"] = None
    return best.drop(columns="_rank").reset_index(drop=True)


def combine_match_report_files(
    paths: dict[str, str | os.PathLike[str]],
) -> pd.DataFrame:
    """:func:`combine_match_reports` of report files, streamed: one part's report is read at a
    time and only the rows that are each row's best so far are kept, so memory holds about two
    reports whatever the number of chromosome files.

    Every part must list the same scoring-file rows in the same order (``igs scores match``
    on the same scoring files); ties keep the first part, as :func:`combine_match_reports`.
    """
    from igs.io.tables import read_tsv

    rank_of = {s: i for i, s in enumerate(STATUS_RANK)}
    first: pd.DataFrame | None = None
    best_rank = source = np.zeros(0, dtype=np.int64)
    kept: dict[int, pd.DataFrame] = {}
    for k, (part, path) in enumerate(paths.items()):
        report = read_tsv(path, dtypes={"pgs_id": "string"})
        rank = report["match_status"].map(rank_of).fillna(len(rank_of)).to_numpy(np.int64)
        if first is None:
            first = report[["pgs_id", "row"]]
            best_rank, source = rank, np.zeros(len(report), dtype=np.int64)
        else:
            _check_same_rows(first, report, path, next(iter(paths.values())))
            better = rank < best_rank
            best_rank[better], source[better] = rank[better], k
            for j in list(kept):
                kept[j] = kept[j][source[kept[j]["_pos"].to_numpy()] == j]
        mine = np.flatnonzero(source == k)
        kept[k] = report.iloc[mine].assign(chrom_part=str(part), _pos=mine)
        del report
    if first is None:
        raise ValueError("no per-chromosome match reports to combine")
    best = pd.concat(list(kept.values()), ignore_index=True).sort_values("_pos", kind="stable")
    best.loc[best["match_status"] != "matched", "chrom_part"] = None
    return best.drop(columns="_pos").reset_index(drop=True)


def _check_same_rows(first: pd.DataFrame, report: pd.DataFrame, path, first_path) -> None:
    same = len(first) == len(report) and bool(
        (first["row"].to_numpy() == report["row"].to_numpy()).all()
        and (first["pgs_id"].to_numpy() == report["pgs_id"].to_numpy()).all()
    )
    if not same:
        raise InputFormatError(
            f"{path}: lists other scoring-file rows than {first_path}; every chromosome's match "
            "report must come from `igs scores match` on the same scoring files."
        )


def sum_score_tables(
    tables: list[pd.DataFrame], *, mean_impute: bool, names: list[str] | None = None
) -> pd.DataFrame:
    """Sum per-chromosome score tables (long format, ``igs.scores.engine.SCORE_COLUMNS``).

    Every table must score the same samples (``names``, e.g. the chromosome files, name them
    in the error); a score missing from one table adds nothing.
    ``AVG`` is ``SUM / (2 n_variants)`` with mean imputation, ``SUM / ALLELE_CT`` without
    (as :func:`igs.scores.engine.score_table`).
    """
    if not tables:
        raise ValueError("no score tables to sum")
    names = names or [f"table {k}" for k in range(len(tables))]
    iids = pd.unique(tables[0]["IID"])
    for name, t in zip(names[1:], tables[1:], strict=True):
        if set(pd.unique(t["IID"])) != set(iids):
            raise InputFormatError(
                f"{name}: scores other samples than {names[0]}; every per-chromosome genotype "
                "file must list the same people."
            )
    cols = [c for c in ADDITIVE_COLUMNS if all(c in t.columns for t in tables)]
    order = {iid: i for i, iid in enumerate(iids)}
    pgs_order = list(dict.fromkeys(p for t in tables for p in pd.unique(t["pgs_id"])))
    total = (
        pd.concat([t[["IID", "pgs_id", *cols]] for t in tables], ignore_index=True)
        .groupby(["IID", "pgs_id"], sort=False)[cols]
        .sum()
        .reset_index()
    )
    total = total.assign(
        _i=total["IID"].map(order), _p=total["pgs_id"].map(pgs_order.index)
    ).sort_values(["_i", "_p"])
    total = total.drop(columns=["_i", "_p"]).reset_index(drop=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        denom = 2.0 * total["n_variants"] if mean_impute else total["ALLELE_CT"]
        total["AVG"] = total["SUM"] / denom.astype(float)
    total["n_variants"] = total["n_variants"].astype(np.int64)
    total["ALLELE_CT"] = total["ALLELE_CT"].astype(np.int64)
    front = ["IID", "pgs_id", "SUM", "n_variants", "ALLELE_CT"]
    rest = [c for c in ("NAMED_ALLELE_DOSAGE_SUM", "AVG") if c in total.columns]
    return total[front + rest]


def concat_variants(parts: dict[str, pd.DataFrame]) -> tuple[pd.DataFrame, dict[str, int]]:
    """All chromosome files' variants in one table (to match each score once, with little
    memory), and each file's offset in it."""
    offsets, start = {}, 0
    for c, v in parts.items():
        offsets[c] = start
        start += len(v)
    cols = ["chrom", "id", "pos", "a1", "a2"]
    merged = pd.concat([v[cols] for v in parts.values()], ignore_index=True)
    return merged, offsets


def report_for_part(
    report: pd.DataFrame, offsets: dict[str, int], sizes: dict[str, int], part: str
) -> pd.DataFrame:
    """The matched rows of a report made on :func:`concat_variants` that fall in ``part``, with
    ``target_index`` into that file's own variants (what :func:`score_weights` takes)."""
    lo = offsets[part]
    t = report["target_index"].astype("Int64")
    inside = (report["match_status"] == "matched") & (t >= lo) & (t < lo + sizes[part])
    sub = report[inside.fillna(False).to_numpy()].copy()
    sub["target_index"] = sub["target_index"].astype(np.int64) - lo
    return sub


def assign_parts(report: pd.DataFrame, offsets: dict[str, int]) -> pd.DataFrame:
    """A report made on :func:`concat_variants` as :func:`combine_match_reports` gives it:
    ``target_index`` into each part's own variants and ``chrom_part`` naming the part of
    every matched row (missing for the others)."""
    names = list(offsets)
    starts = np.array(list(offsets.values()), dtype=np.int64)
    index = report["target_index"].to_numpy(dtype=np.int64, na_value=-1)
    has = index >= 0
    which = np.searchsorted(starts, index, side="right") - 1
    local = pd.array(np.where(has, index - starts[np.maximum(which, 0)], 0), dtype="Int64")
    local[~has] = pd.NA
    matched = (report["match_status"] == "matched").to_numpy()
    part = pd.Categorical.from_codes(np.where(has & matched, which, -1), categories=names)
    out = report.copy(deep=False)  # the other columns are shared, not copied
    out["target_index"], out["chrom_part"] = local, part
    return out


# the columns of the weights file: what scoring needs, and the part of each matched row
WEIGHT_COLUMNS = ("chrom_part", "pgs_id", "target_index", "effect_weight", "is_dominant",
                  "is_recessive", "match_type", "match_status")  # fmt: skip
PGS_IDS_KEY = b"igs.pgs_ids"  # the scored pgs_ids in order, in the file's metadata


class PartWeightsWriter:
    """Write the matched rows of each scored score, with ``chrom_part``, to one Parquet file:
    each part's ``igs scores compute --part`` reads its rows of it (:func:`read_part_weights`)
    instead of parsing the whole match report. One row group per score."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self._path = Path(path)
        self._pgs_ids: list[str] = []
        self._writer = None

    def __enter__(self) -> PartWeightsWriter:
        return self

    def add(self, pgs_id: str, report: pd.DataFrame) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        self._pgs_ids.append(pgs_id)
        rows = np.flatnonzero((report["match_status"] == "matched").to_numpy())
        column = lambda name: report[name].to_numpy()[rows]  # noqa: E731
        constant = lambda label: _dictionary(np.zeros(len(rows), np.int32), [label])  # noqa: E731
        part = report["chrom_part"].array  # a Categorical (assign_parts)
        table = pa.table(
            {
                "chrom_part": _dictionary(part.codes[rows], list(part.categories)),
                "pgs_id": constant(pgs_id),
                "target_index": report["target_index"].to_numpy(np.int64, na_value=-1)[rows],
                "effect_weight": column("effect_weight").astype(np.float64),
                "is_dominant": column("is_dominant").astype(bool),
                "is_recessive": column("is_recessive").astype(bool),
                "match_type": _dictionary(*pd.factorize(column("match_type"))),
                "match_status": constant("matched"),
            }
        )
        if self._writer is None:
            labels = ["chrom_part", "pgs_id", "match_type", "match_status"]
            self._writer = pq.ParquetWriter(
                self._path, table.schema, use_dictionary=labels, write_statistics=["chrom_part"]
            )
        self._writer.write_table(table)

    def __exit__(self, *exc: object) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        if self._writer is None:  # no score kept: an empty file that lists none
            label = pa.dictionary(pa.int32(), pa.string())
            types = {"target_index": pa.int64(), "effect_weight": pa.float64(),
                     "is_dominant": pa.bool_(), "is_recessive": pa.bool_()}  # fmt: skip
            schema = pa.schema([(c, types.get(c, label)) for c in WEIGHT_COLUMNS])
            self._writer = pq.ParquetWriter(self._path, schema)
        self._writer.add_key_value_metadata({PGS_IDS_KEY: json.dumps(self._pgs_ids)})
        self._writer.close()


def _dictionary(codes: np.ndarray, labels: object):  # type: ignore[no-untyped-def]
    """A column of a few distinct labels as an Arrow dictionary array (no string per row)."""
    import pyarrow as pa

    return pa.DictionaryArray.from_arrays(
        pa.array(np.asarray(codes, dtype=np.int32)), pa.array([str(x) for x in labels], pa.string())
    )


def read_part_weights(path: str | os.PathLike[str], part: str) -> list[pd.DataFrame]:
    """One frame per scored score (in the match order) of the rows matched in ``part``, with
    the match-report columns scoring needs; a score with no row there gets one unmatched row,
    so that every part's score table lists every score, as when each part was matched alone."""
    import pyarrow.parquet as pq

    from igs.errors import InputFormatError

    try:
        metadata = pq.read_metadata(path).metadata or {}
        table = pq.read_table(path, filters=[("chrom_part", "=", part)])
    except (OSError, ValueError) as exc:
        raise InputFormatError(f"{path}: cannot be read as a weights file ({exc}).") from exc
    if PGS_IDS_KEY not in metadata:
        raise InputFormatError(
            f"{path}: not a weights file of `igs scores match --part ... --weights` (no pgs_ids)."
        )
    rows = table.to_pandas().drop(columns="chrom_part")
    groups = {str(k): g for k, g in rows.groupby("pgs_id", sort=False, observed=True)}
    return [groups.get(p, _unmatched_row(p)) for p in json.loads(metadata[PGS_IDS_KEY])]


def _unmatched_row(pgs_id: str) -> pd.DataFrame:
    return pd.DataFrame(
        {"pgs_id": [pgs_id], "target_index": [0], "effect_weight": [0.0], "is_dominant": [False],
         "is_recessive": [False], "match_type": [None], "match_status": ["absent"]}
    )  # fmt: skip
