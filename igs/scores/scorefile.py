"""Read PGS Catalog scoring files (format 2.0, raw or harmonised) and simple custom files."""

from __future__ import annotations

import gzip
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from igs import columns as C
from igs.errors import InputFormatError

PER_GENOTYPE_COLUMNS = ("dosage_0_weight", "dosage_1_weight", "dosage_2_weight")
# rows that are not single-variant additive effects; igs refuses them by name
UNSUPPORTED_FLAGS = ("is_haplotype", "is_diplotype", "is_interaction")
TRUE_WORDS = ("true", "1", "yes")
# the only columns read from a scoring file (the per-genotype ones are refused by name)
USED_COLUMNS = frozenset(
    {C.RSID, C.CHR_NAME, C.CHR_POSITION, C.EFFECT_ALLELE, C.OTHER_ALLELE, C.EFFECT_WEIGHT,
     "hm_chr", "hm_pos", "hm_rsID", "hm_inferOtherAllele", "is_dominant", "is_recessive",
     *UNSUPPORTED_FLAGS}
)  # fmt: skip


@dataclass(frozen=True)
class ScoringFile:
    """One score: its id, the build its positions are on, header metadata and its rows.

    ``rows`` has columns row (0-based row number), rsID, chr_name, chr_position,
    effect_allele, other_allele (may be empty), effect_weight, is_dominant, is_recessive.
    Positions are the harmonised ``hm_chr``/``hm_pos`` when the file has them.
    """

    pgs_id: str
    genome_build: str | None
    path: Path
    rows: pd.DataFrame
    header: dict[str, str] = field(default_factory=dict)


def read_scoring_file(path: str | os.PathLike[str]) -> ScoringFile:
    """Read one scoring file (gzip or plain); raise InputFormatError naming what is wrong.

    The text columns stay in Arrow memory (pandas ``string[pyarrow]``): a file of a million
    rows makes no million Python strings, and the match report writes them back zero-copy.
    """
    path = Path(path)
    if not path.is_file():
        raise InputFormatError(f"{path}: scoring file not found.")
    header, n_header = _read_header(path)
    try:
        names, table = _read_text_table(path, n_header)
    except (ValueError, UnicodeDecodeError, EOFError, OSError) as exc:
        raise InputFormatError(
            f"{path}: cannot be parsed as a tab-separated scoring file ({exc})."
        ) from exc
    if any(c in names for c in PER_GENOTYPE_COLUMNS):
        raise InputFormatError(
            f"{path}: per-genotype weights ({', '.join(PER_GENOTYPE_COLUMNS)}) are not supported; "
            "igs computes additive, dominant and recessive scores only."
        )
    for flag in UNSUPPORTED_FLAGS:
        flagged = _flag(table, flag)
        if flagged.any():
            raise InputFormatError(
                f"{path}: {int(flagged.sum())} row(s) have {flag}=True (first on data row "
                f"{int(np.flatnonzero(flagged)[0]) + 1}); haplotype, diplotype and "
                "interaction effects are not supported. Remove those rows or choose another score."
            )
    harmonised = "hm_pos" in names and "hm_chr" in names
    chrom_col, pos_col = ("hm_chr", "hm_pos") if harmonised else (C.CHR_NAME, C.CHR_POSITION)
    required = [C.EFFECT_ALLELE, C.EFFECT_WEIGHT]
    missing = [c for c in required if c not in names]
    has_pos = chrom_col in names and pos_col in names
    if missing or not (has_pos or C.RSID in names):
        need = missing + (
            [] if has_pos or C.RSID in names else [f"{C.CHR_NAME}+{C.CHR_POSITION} or {C.RSID}"]
        )
        raise InputFormatError(
            f"{path}: missing required column(s) {', '.join(need)}; found {', '.join(names)}."
        )
    n = table.num_rows
    weight = _to_float(table.column(C.EFFECT_WEIGHT))
    if np.isnan(weight).any():
        bad = int(np.flatnonzero(np.isnan(weight))[0])
        raise InputFormatError(
            f"{path}: non-numeric {C.EFFECT_WEIGHT} {table.column(C.EFFECT_WEIGHT)[bad].as_py()!r} "
            f"on data row {bad + 1}."
        )
    infinite = ~np.isfinite(weight)
    if infinite.any():
        bad = int(np.flatnonzero(infinite)[0])
        raise InputFormatError(
            f"{path}: {int(infinite.sum())} infinite {C.EFFECT_WEIGHT}(s), e.g. "
            f"{table.column(C.EFFECT_WEIGHT)[bad].as_py()!r} on data row {bad + 1}; a weight "
            "must be a finite number."
        )
    other = _column(table, C.OTHER_ALLELE)
    if "hm_inferOtherAllele" in names:
        other = _where_empty(other, table.column("hm_inferOtherAllele"))
    raw_rsid = _column(table, C.RSID)
    rsid = _where_empty(table.column("hm_rsID"), raw_rsid) if "hm_rsID" in names else raw_rsid
    rows = pd.DataFrame(
        {
            "row": np.arange(n),
            C.RSID: _strings(rsid),
            C.CHR_NAME: _strings(_normalise_chrom_array(table.column(chrom_col)))
            if has_pos
            else "",
            C.CHR_POSITION: _to_int(table.column(pos_col)) if has_pos else pd.NA,
            C.EFFECT_ALLELE: _strings(_upper_array(table.column(C.EFFECT_ALLELE))),
            C.OTHER_ALLELE: _strings(_upper_array(other)),
            C.EFFECT_WEIGHT: weight,
            "is_dominant": _flag(table, "is_dominant"),
            "is_recessive": _flag(table, "is_recessive"),
        }
    )
    both = rows["is_dominant"] & rows["is_recessive"]
    if both.any():
        raise InputFormatError(
            f"{path}: {int(both.sum())} row(s) are marked both is_dominant and is_recessive."
        )
    pgs_id = header.get("pgs_id") or _stem(path)
    build = header.get("HmPOS_build") if harmonised else header.get("genome_build")
    return ScoringFile(
        pgs_id=pgs_id, genome_build=_normalise_build(build), path=path, rows=rows, header=header
    )


def normalise_chrom(chrom: str) -> str:
    """'chr1' -> '1', '23' -> 'X', '24' -> 'Y', 'chrM'/'26' -> 'MT'."""
    c = str(chrom).strip()
    c = c[3:] if c.lower().startswith("chr") else c
    return {"23": "X", "24": "Y", "25": "XY", "26": "MT", "M": "MT", "x": "X", "y": "Y"}.get(c, c)


def normalise_chroms(chroms: pd.Series) -> pd.Series:
    """:func:`normalise_chrom` for a whole column (each distinct name is normalised once)."""
    codes, names = pd.factorize(chroms.astype(str))
    mapped = np.array([normalise_chrom(c) for c in names], dtype=object)
    return pd.Series(
        mapped[codes] if len(names) else np.array([], dtype=object), index=chroms.index
    )


def upper_alleles(alleles: pd.Series) -> pd.Series:
    """``alleles.str.upper()``, computed once per distinct allele (a column of millions of
    alleles holds a handful of distinct ones)."""
    codes, names = pd.factorize(alleles.astype(object))
    upper = np.array([str(a).upper() for a in names] + [np.nan], dtype=object)
    return pd.Series(upper[codes], index=alleles.index)


def _normalise_build(build: str | None) -> str | None:
    if not build or build in ("NR", "None"):
        return None
    return {"hg19": "GRCh37", "hg38": "GRCh38", "NCBI36": "GRCh36", "hg18": "GRCh36"}.get(
        build, build
    )


def _read_header(path: Path) -> tuple[dict[str, str], int]:
    header: dict[str, str] = {}
    n = 0
    opener = gzip.open if _is_gzip(path) else open
    with opener(path, "rt") as fh:
        for line in fh:
            if not line.startswith("#"):
                break
            n += 1
            text = line.lstrip("#").rstrip("\n")
            if "=" in text:
                key, value = text.split("=", 1)
                header[key.strip()] = value.strip()
    return header, n


def _read_text_table(path: Path, n_header: int) -> tuple[list[str], pa.Table]:
    """The column names and the table after ``n_header`` comment lines: only the columns igs
    uses, every cell as text (empty cells ""), read by Arrow's C++ CSV reader (the GIL is
    released: several files read at once in threads)."""
    opener = gzip.open if _is_gzip(path) else open
    with opener(path, "rt") as fh:
        for _ in range(n_header):
            fh.readline()
        names = fh.readline().rstrip("\r\n").split("\t")
    if names == [""]:
        return [], pa.table({})
    used = [c for c in dict.fromkeys(names) if c in USED_COLUMNS]
    stream = pa.input_stream(str(path), compression="gzip" if _is_gzip(path) else None)
    table = pacsv.read_csv(
        stream,
        read_options=pacsv.ReadOptions(skip_rows=n_header + 1, column_names=names),
        parse_options=pacsv.ParseOptions(delimiter="\t"),
        convert_options=pacsv.ConvertOptions(
            include_columns=used,
            column_types={c: pa.string() for c in used},
            strings_can_be_null=False,
        ),
    )
    return names, table


def _is_gzip(path: Path) -> bool:
    with open(path, "rb") as fh:
        return fh.read(2) == b"\x1f\x8b"


def _column(table: pa.Table, name: str) -> pa.ChunkedArray:
    """A text column, or empty strings when the file has none."""
    if name in table.column_names:
        return table.column(name)
    return pa.chunked_array([pa.repeat(pa.scalar("", pa.string()), table.num_rows)])


def _where_empty(values: pa.ChunkedArray, fallback: pa.ChunkedArray) -> pa.ChunkedArray:
    """``values``, with ``fallback`` where a value is the empty string."""
    return pc.if_else(pc.equal(values, ""), fallback, values)


def _strings(values: pa.ChunkedArray) -> pd.Series:
    """An Arrow text column as a pandas ``string[pyarrow]`` Series (no Python strings)."""
    return pd.Series(pd.arrays.ArrowStringArray(values.cast(pa.large_string())))


def _map_distinct(values: pa.ChunkedArray, function) -> pa.ChunkedArray:  # type: ignore[no-untyped-def]
    """``function`` applied once per distinct value (a column of millions of alleles or
    chromosome names holds a handful of distinct ones)."""
    encoded = pc.dictionary_encode(values).combine_chunks()
    mapped = pa.array([function(v) for v in encoded.dictionary.to_pylist()], pa.string())
    return pa.chunked_array([mapped.take(encoded.indices)])


def _upper_array(alleles: pa.ChunkedArray) -> pa.ChunkedArray:
    return _map_distinct(alleles, str.upper)


def _normalise_chrom_array(chroms: pa.ChunkedArray) -> pa.ChunkedArray:
    return _map_distinct(chroms, normalise_chrom)


def _flag(table: pa.Table, col: str) -> np.ndarray:
    """True where the column says true/1/yes (any case, surrounding blanks ignored)."""
    if col not in table.column_names:
        return np.zeros(table.num_rows, dtype=bool)
    is_true = _map_distinct(table.column(col), lambda v: str(v.strip().lower() in TRUE_WORDS))
    return pc.equal(is_true, "True").to_numpy()


def _to_float(values: pa.ChunkedArray) -> np.ndarray:
    """Text to float64; anything non-numeric (or empty) becomes NaN. Arrow's parser and
    Python's agree on every number (both round correctly); text Arrow refuses (blanks,
    ``1_000``) goes through Python's."""
    try:
        return pc.cast(values, pa.float64()).to_numpy()
    except pa.ArrowInvalid:
        return _to_number(pd.Series(values.to_pylist(), dtype=object)).to_numpy(dtype=np.float64)


def _to_int(values: pa.ChunkedArray) -> pd.Series:
    """Positions as nullable Int64 (empty cells missing); text Arrow refuses as an integer
    (``1e5``, blanks) goes through Python's float parser, as before."""
    try:
        blank = pc.equal(values, "")
        ints = pc.cast(pc.if_else(blank, pa.scalar(None, pa.string()), values), pa.int64())
    except pa.ArrowInvalid:
        return _to_number(pd.Series(values.to_pylist(), dtype=object)).astype("Int64")
    return pd.Series(ints.to_pandas(types_mapper={pa.int64(): pd.Int64Dtype()}.get))


def _to_number(values: pd.Series) -> pd.Series:
    """Strings to floats; anything non-numeric (or empty) becomes NaN."""
    try:
        return values.astype(np.float64)  # the fast path: every cell is a number
    except ValueError:
        return pd.to_numeric(values, errors="coerce")


def _stem(path: Path) -> str:
    name = path.name
    for suffix in (".gz", ".txt", ".tsv"):
        name = name.removesuffix(suffix)
    return name
