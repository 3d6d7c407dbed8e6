"""Read PGS Catalog scoring files (format 2.0, raw or harmonised) and simple custom files."""

from __future__ import annotations

import gzip
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from igs import columns as C
from igs.errors import InputFormatError

PER_GENOTYPE_COLUMNS = ("dosage_0_weight", "dosage_1_weight", "dosage_2_weight")
# rows that are not single-variant additive effects; igs refuses them by name
UNSUPPORTED_FLAGS = ("is_haplotype", "is_diplotype", "is_interaction")


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
    """Read one scoring file (gzip or plain); raise InputFormatError naming what is wrong."""
    path = Path(path)
    if not path.is_file():
        raise InputFormatError(f"{path}: scoring file not found.")
    header, n_header = _read_header(path)
    try:
        df = _read_text_table(path, n_header)
    except (ValueError, UnicodeDecodeError, EOFError, OSError) as exc:
        raise InputFormatError(
            f"{path}: cannot be parsed as a tab-separated scoring file ({exc})."
        ) from exc
    if any(c in df.columns for c in PER_GENOTYPE_COLUMNS):
        raise InputFormatError(
            f"{path}: per-genotype weights ({', '.join(PER_GENOTYPE_COLUMNS)}) are not supported; "
            "igs computes additive, dominant and recessive scores only."
        )
    for flag in UNSUPPORTED_FLAGS:
        flagged = _flag(df, flag)
        if flagged.any():
            raise InputFormatError(
                f"{path}: {int(flagged.sum())} row(s) have {flag}=True (first on data row "
                f"{int(np.flatnonzero(flagged.to_numpy())[0]) + 1}); haplotype, diplotype and "
                "interaction effects are not supported. Remove those rows or choose another score."
            )
    harmonised = "hm_pos" in df.columns and "hm_chr" in df.columns
    chrom_col, pos_col = ("hm_chr", "hm_pos") if harmonised else (C.CHR_NAME, C.CHR_POSITION)
    required = [C.EFFECT_ALLELE, C.EFFECT_WEIGHT]
    missing = [c for c in required if c not in df.columns]
    has_pos = chrom_col in df.columns and pos_col in df.columns
    if missing or not (has_pos or C.RSID in df.columns):
        need = missing + (
            []
            if has_pos or C.RSID in df.columns
            else [f"{C.CHR_NAME}+{C.CHR_POSITION} or {C.RSID}"]
        )
        raise InputFormatError(
            f"{path}: missing required column(s) {', '.join(need)}; found {', '.join(df.columns)}."
        )

    other = df.get(C.OTHER_ALLELE, pd.Series("", index=df.index))
    if "hm_inferOtherAllele" in df.columns:
        other = other.where(other != "", df["hm_inferOtherAllele"])
    weight = _to_number(df[C.EFFECT_WEIGHT])
    if weight.isna().any():
        bad = int(np.flatnonzero(weight.isna().to_numpy())[0])
        raise InputFormatError(
            f"{path}: non-numeric {C.EFFECT_WEIGHT} {df[C.EFFECT_WEIGHT].iloc[bad]!r} on data row {bad + 1}."
        )
    infinite = ~np.isfinite(weight.to_numpy(dtype=float))
    if infinite.any():
        bad = int(np.flatnonzero(infinite)[0])
        raise InputFormatError(
            f"{path}: {int(infinite.sum())} infinite {C.EFFECT_WEIGHT}(s), e.g. "
            f"{df[C.EFFECT_WEIGHT].iloc[bad]!r} on data row {bad + 1}; a weight must be a finite number."
        )
    rows = pd.DataFrame(
        {
            "row": np.arange(len(df)),
            C.RSID: _rsid(df),
            C.CHR_NAME: normalise_chroms(df[chrom_col]) if has_pos else "",
            C.CHR_POSITION: _to_number(df[pos_col]).astype("Int64") if has_pos else pd.NA,
            C.EFFECT_ALLELE: upper_alleles(df[C.EFFECT_ALLELE]),
            C.OTHER_ALLELE: upper_alleles(other),
            C.EFFECT_WEIGHT: weight.astype(float),
            "is_dominant": _flag(df, "is_dominant"),
            "is_recessive": _flag(df, "is_recessive"),
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


def _read_text_table(path: Path, n_header: int) -> pd.DataFrame:
    """The table after ``n_header`` comment lines, every cell as text (empty cells ""), read by
    Arrow's C++ CSV reader (several times faster than pandas' on millions of rows)."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    opener = gzip.open if _is_gzip(path) else open
    with opener(path, "rt") as fh:
        for _ in range(n_header):
            fh.readline()
        names = fh.readline().rstrip("\r\n").split("\t")
    if names == [""]:
        return pd.DataFrame()
    stream = pa.input_stream(str(path), compression="gzip" if _is_gzip(path) else None)
    table = pacsv.read_csv(
        stream,
        read_options=pacsv.ReadOptions(skip_rows=n_header + 1, column_names=names),
        parse_options=pacsv.ParseOptions(delimiter="\t"),
        convert_options=pacsv.ConvertOptions(
            column_types={c: pa.string() for c in names}, strings_can_be_null=False
        ),
    )
    return table.to_pandas()


def _is_gzip(path: Path) -> bool:
    with open(path, "rb") as fh:
        return fh.read(2) == b"\x1f\x8b"


def _rsid(df: pd.DataFrame) -> pd.Series:
    """The harmonised rsID where present, else the author's."""
    raw = df[C.RSID] if C.RSID in df.columns else pd.Series("", index=df.index)
    return df["hm_rsID"].where(df["hm_rsID"] != "", raw) if "hm_rsID" in df.columns else raw


def _flag(df: pd.DataFrame, col: str) -> pd.Series:
    if col not in df.columns:
        return pd.Series(False, index=df.index)
    return df[col].str.strip().str.lower().isin(["true", "1", "yes"])


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
