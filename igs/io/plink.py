"""PLINK 1 (bed/bim/fam) and PLINK 2 (pgen/pvar/psam) genotype files.

Conventions, shared by every stage:

* genotypes are counts of the *counted* allele: PLINK 1 ``A1`` (``.bim`` column 5),
  PLINK 2 ``ALT``. This is the allele ``plink2 --score`` counts when it is named in
  the score file, so sums computed here equal plink2's.
* missing calls are ``NaN`` in float arrays and ``-9`` in ``int8`` arrays.
* readers validate the companion files before any genotype is touched and raise
  :class:`igs.errors.InputFormatError` naming the file and the problem.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from igs.errors import InputFormatError
from igs.io.formats import GENOTYPE_SUFFIXES
from igs.io.memory import release_freed_memory

log = logging.getLogger(__name__)

BED_MAGIC = bytes([0x6C, 0x1B, 0x01])
MISSING_INT8 = -9
GenotypeFormat = Literal["bed", "pgen", "vcf", "bgen"]

# PLINK 1 2-bit codes, indexed by the A1 count (0, 1, 2) and 3 for missing.
# 00 = hom A1, 01 = missing, 10 = het, 11 = hom A2 (first sample in the low bits).
_CODE_FOR_A1_COUNT = np.array([0b11, 0b10, 0b00, 0b01], dtype=np.uint8)

# Chromosome names: chrX (males haploid) and the autosomes, as PLINK and UCSC spell them.
X_CHROMS = ("X", "23", "chrX")
AUTOSOMES = tuple(str(c) for c in range(1, 23)) + tuple(f"chr{c}" for c in range(1, 23))

VARIANT_COLUMNS = ("chrom", "id", "cm", "pos", "a1", "a2")
SAMPLE_COLUMNS = ("FID", "IID", "sex")


@dataclass(frozen=True)
class GenotypeSet:
    """A validated genotype fileset: where it is, its samples and its variants.

    ``variants`` has columns chrom, id, cm, pos, a1 (counted allele), a2.
    ``samples`` has columns FID, IID, sex (1 male, 2 female, 0 unknown).
    For ``vcf``/``bgen`` (:mod:`igs.io.dosage`) ``prefix`` is the file itself, ``variants`` has
    an ``info`` column (imputation R2/INFO, NaN if absent) and ``dosage_field`` says what the
    dosages are read from; a pgen's ``variants`` has ``info`` when its INFO column holds R2.
    """

    prefix: Path
    format: GenotypeFormat
    samples: pd.DataFrame
    variants: pd.DataFrame
    dosage_field: str | None = None
    sample_file: Path | None = None

    @property
    def n_samples(self) -> int:
        return len(self.samples)

    @property
    def n_variants(self) -> int:
        return len(self.variants)

    def file(self, suffix: str) -> Path:
        return Path(f"{self.prefix}.{suffix}")


def fileset_paths(prefix: str | os.PathLike[str], fmt: GenotypeFormat) -> dict[str, Path]:
    """The three files of a PLINK fileset, keyed by their role."""
    if fmt not in ("bed", "pgen"):
        raise InputFormatError(
            f"unknown genotype format {fmt!r}; expected 'bed', 'pgen', 'vcf' or 'bgen'."
        )
    suffixes = GENOTYPE_SUFFIXES[fmt]
    return {
        role: Path(f"{prefix}{s}")
        for role, s in zip(("genotypes", "variants", "samples"), suffixes, strict=True)
    }


# --------------------------------------------------------------------------- readers


def _arrow_text_table(
    path: Path,
    names: list[str],
    *,
    skip_rows: int = 0,
    columns: list[str] | None = None,
    numbers: dict[str, str] | None = None,
) -> pd.DataFrame | None:
    """A tab-separated table read by Arrow with every column kept as Arrow text
    (``string[pyarrow]``: one buffer per column instead of a Python object per field, a few
    times less memory at a million variants), or None when Arrow cannot read it as such (the
    caller then reads it with pandas, whose errors name the problem). ``numbers`` maps columns
    parsed as numbers instead (Arrow type names, e.g. ``{"pos": "int64"}``): a million
    positions parsed as text and converted by pandas took 0.6 s and 25 MB more."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    types = {c: pa.string() for c in names} | {
        c: pa.type_for_alias(t) for c, t in (numbers or {}).items()
    }
    try:
        table = pacsv.read_csv(
            path,
            read_options=pacsv.ReadOptions(skip_rows=skip_rows, column_names=names),
            parse_options=pacsv.ParseOptions(delimiter="\t", quote_char=False),
            convert_options=pacsv.ConvertOptions(column_types=types, include_columns=columns),
        )
    except (pa.ArrowInvalid, OSError):
        return None
    # one chunk per column: taking rows of a 27-chunk column concatenated it (30 MB a take)
    table = table.combine_chunks()
    return table.to_pandas(types_mapper={pa.string(): pd.StringDtype("pyarrow")}.get)


def read_bim(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read a ``.bim`` file (6 whitespace-separated columns, no header).

    A tab-separated file (as plink writes it) is read by Arrow, its text columns kept as Arrow
    text; otherwise positions and cM are parsed as numbers while reading (as strings first they
    took ~3x the memory of the table at 1M variants). A file that does not parse so is read
    again as text, so that the error names the bad value.
    """
    path = Path(path)
    _require_file(path)
    if path.stat().st_size > 0:
        numbers = {"pos": "int64", "cm": "double"}
        df = _arrow_text_table(path, list(VARIANT_COLUMNS), numbers=numbers)
        if df is not None and not df[["pos", "cm"]].isna().any().any():
            return df
        typed = dict(zip(VARIANT_COLUMNS, (str, str, np.float64, np.int64, str, str), strict=True))
        try:
            df = pd.read_csv(
                path, sep=r"\s+", header=None, names=list(VARIANT_COLUMNS), dtype=typed,
                engine="c",
            )  # fmt: skip
        except (ValueError, pd.errors.ParserError):
            df = None
        # 7+ columns would make the first an index; NaN is a missing column or value
        if df is not None and isinstance(df.index, pd.RangeIndex) and df.notna().all().all():
            return df
    df = _read_table(path, names=list(VARIANT_COLUMNS), expected_columns=6)
    df["pos"] = _as_int(df["pos"], path, "base-pair position (column 4)")
    df["cm"] = pd.to_numeric(df["cm"], errors="coerce").fillna(0.0)
    return df


def read_fam(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read a ``.fam`` file (6 columns, no header); returns FID, IID, sex."""
    df = _read_table(path, names=["FID", "IID", "PAT", "MAT", "sex", "PHENO"], expected_columns=6)
    df["sex"] = pd.to_numeric(df["sex"], errors="coerce").fillna(0).astype(np.int8)
    return df[list(SAMPLE_COLUMNS)]


def read_pvar(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read a ``.pvar`` file with a ``#CHROM`` header line (## lines skipped)."""
    path = Path(path)
    _require_file(path)
    with open(path) as fh:
        skip = 0
        header = None
        for line in fh:
            if line.startswith("##"):
                skip += 1
                continue
            header = line.rstrip("\n").lstrip("#").split("\t")
            break
    if header is None or not {"CHROM", "POS", "ID", "REF", "ALT"} <= set(header):
        raise InputFormatError(
            f"{path}: expected a header line '#CHROM POS ID REF ALT', got {header!r}. "
            "Headerless .pvar files are not supported; re-export with plink2 --make-pgen."
        )
    wanted = [c for c in ("CHROM", "POS", "ID", "REF", "ALT", "INFO") if c in header]
    df = _arrow_text_table(
        path, header, skip_rows=skip + 1, columns=wanted, numbers={"POS": "int64"}
    )
    if df is None or df["POS"].isna().any():
        df = pd.read_csv(path, sep="\t", skiprows=skip + 1, header=None, names=header, dtype=str)
    out = pd.DataFrame(
        {
            "chrom": df["CHROM"],
            "id": df["ID"],
            "cm": 0.0,
            "pos": _as_int(df["POS"], path, "POS"),
            "a1": df["ALT"],
            "a2": df["REF"],
        }
    )
    if "INFO" in df.columns:
        info = info_from_column(df["INFO"])
        if info.notna().any():
            out["info"] = info.to_numpy()
    if out["a1"].str.contains(",", regex=False).any():
        raise InputFormatError(
            f"{path}: multi-allelic ALT alleles found; split them first "
            "(plink2 --pfile ... --make-pgen --max-alleles 2, or bcftools norm -m-)."
        )
    return out


def info_from_column(info: pd.Series) -> pd.Series:
    """Imputation quality from a VCF/pvar INFO column: ``R2=``, else ``DR2=``, else ``INFO=``."""
    text = info.fillna("").astype(str)
    for key in ("R2", "DR2", "INFO"):
        value = text.str.extract(rf"(?:^|;){key}=([^;]+)", expand=False)
        if value.notna().any():
            return pd.to_numeric(value, errors="coerce")
    return pd.Series(np.nan, index=info.index)


def read_psam(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read a ``.psam`` file (``#FID IID SEX`` or ``#IID SEX`` header)."""
    path = Path(path)
    _require_file(path)
    df = pd.read_csv(path, sep="\t", dtype=str)
    df.columns = [c.lstrip("#") for c in df.columns]
    if "IID" not in df.columns:
        raise InputFormatError(f"{path}: no IID column in the header {list(df.columns)}.")
    fid = df["FID"] if "FID" in df.columns else df["IID"]
    sex = df["SEX"] if "SEX" in df.columns else pd.Series("0", index=df.index)
    sex = sex.map(lambda v: {"NA": "0", "male": "1", "female": "2"}.get(v, v))
    return pd.DataFrame(
        {
            "FID": fid,
            "IID": df["IID"],
            "sex": pd.to_numeric(sex, errors="coerce").fillna(0).astype(np.int8),
        }
    )


def open_genotypes(
    prefix: str | os.PathLike[str],
    fmt: GenotypeFormat = "bed",
    *,
    sample: str | os.PathLike[str] | None = None,
) -> GenotypeSet:
    """Validate a PLINK fileset (or a VCF/BGEN file, see :mod:`igs.io.dosage`) and return its metadata.

    For ``vcf`` and ``bgen`` ``prefix`` is the file itself; ``sample`` is a BGEN's ``.sample``.

    Checks: all three files exist; the ``.bed`` magic number and its size match the
    ``.bim``/``.fam`` row counts (a truncated file or a bim/fam mismatch is caught
    here); no duplicate sample IDs; no duplicate variant IDs.
    """
    if fmt in ("vcf", "bgen"):
        from igs.io import dosage

        return dosage.open_vcf(prefix) if fmt == "vcf" else dosage.open_bgen(prefix, sample)
    paths = fileset_paths(prefix, fmt)
    for p in paths.values():
        _require_file(p)
    if fmt == "bed":
        variants, samples = read_bim(paths["variants"]), read_fam(paths["samples"])
        _check_bed_size(paths["genotypes"], n_samples=len(samples), n_variants=len(variants))
    else:
        variants, samples = read_pvar(paths["variants"]), read_psam(paths["samples"])
        _check_pgen_counts(paths["genotypes"], n_samples=len(samples), n_variants=len(variants))
    _check_unique(samples["IID"], paths["samples"], "sample ID (IID)")
    _check_unique(variants["id"][variants["id"] != "."], paths["variants"], "variant ID")
    release_freed_memory()
    return GenotypeSet(prefix=Path(prefix), format=fmt, samples=samples, variants=variants)


def iter_genotype_chunks(
    gset: GenotypeSet, *, chunk_variants: int = 4096, dtype: type = np.float32
) -> Iterator[tuple[int, int, np.ndarray]]:
    """Yield ``(start, stop, G)`` with ``G`` of shape (n_samples, stop - start), F order.

    ``G`` holds counted-allele dosages with ``NaN`` for missing calls. Only one chunk
    is in memory at a time, so memory is bounded by ``n_samples * chunk_variants``.
    """
    every = np.arange(gset.n_variants)
    for idx, g in iter_dosage_chunks(
        gset, every, chunk_variants=chunk_variants, dtype=dtype, order="F"
    ):
        yield int(idx[0]), int(idx[-1]) + 1, g


def iter_dosage_chunks(
    gset: GenotypeSet,
    variant_index: np.ndarray,
    *,
    chunk_variants: int = 1024,
    dtype: type = np.float64,
    order: Literal["C", "F"] = "C",
    threads: int | None = None,
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield ``(variant_index, G)`` for chunks of the selected (sorted) variants only.

    ``G`` is (n_samples, len(chunk)) counted-allele dosages (pgen dosages where present),
    ``NaN`` for missing. ``threads`` bounds the VCF reader's threads (default: its own).
    """
    if chunk_variants < 1:
        raise ValueError("chunk_variants must be >= 1")
    variant_index = np.asarray(variant_index, dtype=np.int64)
    chunks = (
        variant_index[start : start + chunk_variants]
        for start in range(0, len(variant_index), chunk_variants)
    )
    if gset.format in ("vcf", "bgen"):
        from igs.io import dosage

        chunks_read = (
            dosage.iter_vcf_dosages(gset, variant_index, chunk_variants, threads=threads)
            if gset.format == "vcf"
            else dosage.iter_bgen_dosages(gset, variant_index, chunk_variants)
        )
        for idx, g in chunks_read:
            yield idx, np.asarray(g, dtype=dtype, order=order)
        return
    if gset.format == "bed":
        from bed_reader import open_bed

        with open_bed(
            gset.file("bed"), iid_count=gset.n_samples, sid_count=gset.n_variants, count_A1=True,
            num_threads=1,
        ) as bed:  # fmt: skip
            for idx in chunks:
                cols = slice(int(idx[0]), int(idx[-1]) + 1) if _is_contiguous(idx) else idx
                yield idx, bed.read(index=np.s_[:, cols], dtype=dtype, order=order)
        return
    import pgenlib

    n = gset.n_samples
    with pgenlib.PgenReader(bytes(gset.file("pgen")), raw_sample_ct=n) as reader:
        for idx in chunks:
            buf = _read_pgen_dosages(reader, idx, np.empty((len(idx), n), dtype=np.float64))
            buf[buf == MISSING_INT8] = np.nan
            yield idx, np.asarray(buf.T, dtype=dtype, order=order)


def _read_pgen_dosages(reader, idx: np.ndarray, out: np.ndarray) -> np.ndarray:
    """``out`` (len(idx), n_samples) filled with the ALT dosages of the pgen rows ``idx``
    (sorted) in one pgenlib call; a missing call is -9."""
    if _is_contiguous(idx):
        reader.read_dosages_range(int(idx[0]), int(idx[-1]) + 1, out, allele_idx=1)
    else:
        reader.read_dosages_list(idx.astype(np.uint32), out, allele_idx=1)
    return out


def iter_dosage_rows(
    gset: GenotypeSet,
    variant_index: np.ndarray,
    *,
    chunk_variants: int = 1024,
    worker: int = 0,
    n_workers: int = 1,
    threads: int | None = None,
) -> Iterator[tuple[int, np.ndarray]]:
    """Yield ``(start, D)`` for chunks of the selected (sorted) variants: ``D`` float64 of shape
    (chunk, n_samples), variant-major and C-ordered, holding the dosages of
    ``variant_index[start : start + len(D)]`` (:func:`iter_dosage_chunks` transposed). A
    missing call is -9, as pgenlib writes it (dosages are never negative): no pass over a pgen
    chunk is spent on marking them.

    A pgen chunk is one bulk pgenlib call into a buffer that is reused (consume ``D`` before
    asking for the next); pgenlib releases the GIL, so ``n_workers`` threads can each read
    every ``n_workers``-th chunk (``worker`` is this one's number), each with its own reader.
    Other formats are one stream, read by one worker (a VCF's reader on ``threads``).
    """
    if chunk_variants < 1:
        raise ValueError("chunk_variants must be >= 1")
    if gset.format != "pgen":
        if n_workers != 1:
            raise ValueError(f"{gset.format} dosages are read by one worker only")
        start = 0
        chunks = iter_dosage_chunks(
            gset, variant_index, chunk_variants=chunk_variants, threads=threads
        )
        for _, g in chunks:
            d = np.ascontiguousarray(g.T)
            np.copyto(d, MISSING_INT8, where=np.isnan(d))
            yield start, d
            start += len(d)
        return
    variant_index = np.asarray(variant_index, dtype=np.int64)
    import pgenlib

    n = gset.n_samples
    buf = np.empty((chunk_variants, n), dtype=np.float64)
    with pgenlib.PgenReader(bytes(gset.file("pgen")), raw_sample_ct=n) as reader:
        for start in range(worker * chunk_variants, len(variant_index), n_workers * chunk_variants):
            idx = variant_index[start : start + chunk_variants]
            yield start, _read_pgen_dosages(reader, idx, buf[: len(idx)])


def read_genotype_codes(
    gset: GenotypeSet,
    variant_index: np.ndarray | slice,
    sample_index: np.ndarray | None = None,
) -> np.ndarray:
    """Hard calls as int8 A1 counts, shape (n_selected_samples, n_selected_variants), F order.

    Missing calls are negative (bed-reader writes -127, pgenlib -9). ``variant_index``
    is a slice or sorted indices; ``sample_index`` sorted indices or None for all.
    """
    if gset.format in ("vcf", "bgen"):
        raise ValueError(
            f"{gset.prefix}: hard calls (QC) are read from bed or pgen filesets, not {gset.format}; "
            "dosages are read with iter_dosage_chunks"
        )
    if isinstance(variant_index, slice):
        variant_index = np.arange(gset.n_variants)[variant_index]
    variant_index = np.asarray(variant_index, dtype=np.int64)
    n_sel = gset.n_samples if sample_index is None else len(sample_index)
    if gset.format == "bed":
        from bed_reader import open_bed

        with open_bed(
            gset.file("bed"),
            iid_count=gset.n_samples,
            sid_count=gset.n_variants,
            count_A1=True,
            num_threads=1,
        ) as bed:
            rows = slice(None) if sample_index is None else np.asarray(sample_index)
            if len(variant_index) and _is_contiguous(variant_index):
                cols = slice(int(variant_index[0]), int(variant_index[-1]) + 1)
                return bed.read(index=np.s_[rows, cols], dtype=np.int8, order="F")
            return bed.read(index=np.s_[rows, variant_index], dtype=np.int8, order="F")
    import pgenlib

    subset = None if sample_index is None else np.asarray(sample_index, dtype=np.uint32)
    with pgenlib.PgenReader(
        bytes(gset.file("pgen")), raw_sample_ct=gset.n_samples, sample_subset=subset
    ) as reader:
        buf = np.empty((len(variant_index), n_sel), dtype=np.int8)
        if len(variant_index):
            reader.read_list(variant_index.astype(np.uint32), buf)
        return np.asfortranarray(buf.T)


def iter_genotype_codes(
    gset: GenotypeSet,
    *,
    chunk_variants: int = 8192,
    variant_mask: np.ndarray | None = None,
    sample_index: np.ndarray | None = None,
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield ``(variant_index, G)`` for chunks of the selected variants, G int8 as above.

    Memory is bounded by ``n_samples * chunk_variants`` bytes whatever the variant count.
    """
    if chunk_variants < 1:
        raise ValueError("chunk_variants must be >= 1")
    selected = (
        np.arange(gset.n_variants)
        if variant_mask is None
        else np.flatnonzero(np.asarray(variant_mask, dtype=bool))
    )
    for start in range(0, len(selected), chunk_variants):
        idx = selected[start : start + chunk_variants]
        yield idx, read_genotype_codes(gset, idx, sample_index)


def iter_bed_rows(
    gset: GenotypeSet, variant_index: np.ndarray, *, chunk_variants: int = 8192
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield ``(variant_index, words)`` with the selected variants' packed ``.bed`` rows.

    ``words`` is uint64 of shape (len(variant_index), ceil(n_samples / 32)): 2-bit codes, first
    sample in the low bits (``00`` hom A1, ``01`` missing, ``10`` het, ``11`` hom A2), each row
    padded with ``00`` past the last sample (whatever the file holds there). Nothing is
    unpacked; memory is one chunk of rows. ``variant_index`` must be sorted.
    """
    if gset.format != "bed":
        raise ValueError("packed rows exist only for PLINK 1 .bed files")
    if chunk_variants < 1:
        raise ValueError("chunk_variants must be >= 1")
    n = gset.n_samples
    n_bytes, n_words = (n + 3) // 4, (n + 31) // 32
    variant_index = np.asarray(variant_index, dtype=np.int64)
    tail_mask = np.uint8((1 << (2 * (n % 4))) - 1) if n % 4 else np.uint8(0xFF)
    # plain reads, not a memory map: mapped pages would count towards the process's memory
    with open(gset.file("bed"), "rb", buffering=0) as fh:
        for start in range(0, len(variant_index), chunk_variants):
            idx = variant_index[start : start + chunk_variants]
            raw = np.empty((len(idx), n_bytes), dtype=np.uint8)
            run_starts = np.flatnonzero(np.diff(idx, prepend=-2) != 1)
            run_stops = np.append(run_starts[1:], len(idx))
            for a, b in zip(run_starts, run_stops, strict=True):
                fh.seek(3 + int(idx[a]) * n_bytes)
                if fh.readinto(memoryview(raw[a:b]).cast("B")) != (b - a) * n_bytes:
                    raise InputFormatError(f"{gset.file('bed')}: file ended early (truncated?).")
            padded = np.zeros((len(idx), n_words * 8), dtype=np.uint8)
            padded[:, :n_bytes] = raw
            padded[:, n_bytes - 1] &= tail_mask
            yield idx, padded.view("<u8")


def _is_contiguous(index: np.ndarray) -> bool:
    return bool(index[-1] - index[0] + 1 == len(index))


# --------------------------------------------------------------------------- writers


class BedWriter:
    """Stream variants into a PLINK 1 ``.bed`` file (variant-major)."""

    def __init__(self, path: str | os.PathLike[str], n_samples: int) -> None:
        self.path = Path(path)
        self.n_samples = n_samples
        self.n_variants = 0
        self._fh = open(self.path, "wb")  # noqa: SIM115 - closed by close()/__exit__
        self._fh.write(BED_MAGIC)

    def append(self, genotypes: np.ndarray) -> None:
        """Append variants; ``genotypes`` is int8 (n_variants, n_samples), -9 = missing."""
        g = np.asarray(genotypes)
        if g.ndim != 2 or g.shape[1] != self.n_samples:
            raise ValueError(f"expected shape (k, {self.n_samples}), got {g.shape}")
        self._fh.write(memoryview(pack_bed_codes(g)).cast("B"))
        self.n_variants += g.shape[0]

    def append_packed(self, rows: np.ndarray) -> None:
        """Append variants already packed: uint8 (n_variants, ceil(n_samples / 4)) PLINK 1 bytes."""
        if rows.ndim != 2 or rows.shape[1] != (self.n_samples + 3) // 4:
            raise ValueError(f"expected shape (k, {(self.n_samples + 3) // 4}), got {rows.shape}")
        self._fh.write(memoryview(np.ascontiguousarray(rows, dtype=np.uint8)).cast("B"))
        self.n_variants += rows.shape[0]

    def close(self) -> None:
        self._fh.close()

    def __enter__(self) -> BedWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def pack_bed_codes(genotypes: np.ndarray) -> np.ndarray:
    """Pack int8 A1 counts (k, n) into PLINK 1 bytes (k, ceil(n / 4))."""
    g = np.asarray(genotypes, dtype=np.int8)
    idx = np.where((g >= 0) & (g <= 2), g, 3).astype(np.intp)
    codes = _CODE_FOR_A1_COUNT[idx]
    k, n = codes.shape
    pad = (-n) % 4
    if pad:
        codes = np.concatenate([codes, np.zeros((k, pad), dtype=np.uint8)], axis=1)
    codes = codes.reshape(k, -1, 4)
    return codes[:, :, 0] | (codes[:, :, 1] << 2) | (codes[:, :, 2] << 4) | (codes[:, :, 3] << 6)


def write_bim(
    path: str | os.PathLike[str], variants: pd.DataFrame, rows: np.ndarray | None = None
) -> None:
    """Write a ``.bim`` of ``variants`` (or of its ``rows``, positions); the cM column as plink
    writes it (``0``, not ``0.0``). Written by :func:`igs.io.tables.write_plain_tsv` (a million
    rows in 0.1 s, pandas took 1.1 s, and no copy of the table)."""
    from igs.io.tables import write_plain_tsv

    columns = {c: variants[c].array for c in VARIANT_COLUMNS} | {"cm": _cm_text(variants["cm"])}
    bim = pd.DataFrame(columns, columns=list(VARIANT_COLUMNS), copy=False)
    write_plain_tsv(bim, path, gzipped=False, header=False, rows=rows)


def _cm_text(cm: pd.Series) -> np.ndarray:
    """Genetic positions as plink writes them (``%.15g``: ``0``, ``1.25``)."""
    values = cm.to_numpy(dtype=np.float64)
    if not values.any():
        return np.full(len(values), "0", dtype=object)
    return np.array([f"{x:.15g}" for x in values], dtype=object)


def write_fam(path: str | os.PathLike[str], samples: pd.DataFrame) -> None:
    fam = pd.DataFrame(
        {
            "FID": samples["FID"],
            "IID": samples["IID"],
            "PAT": 0,
            "MAT": 0,
            "sex": samples["sex"],
            "PHENO": -9,
        }
    )
    fam.to_csv(path, sep="\t", header=False, index=False)


def write_pvar(path: str | os.PathLike[str], variants: pd.DataFrame) -> None:
    pvar = pd.DataFrame(
        {
            "#CHROM": variants["chrom"],
            "POS": variants["pos"],
            "ID": variants["id"],
            "REF": variants["a2"],
            "ALT": variants["a1"],
        }
    )
    pvar.to_csv(path, sep="\t", index=False)


def write_psam(path: str | os.PathLike[str], samples: pd.DataFrame) -> None:
    psam = pd.DataFrame({"#FID": samples["FID"], "IID": samples["IID"], "SEX": samples["sex"]})
    psam.to_csv(path, sep="\t", index=False)


# --------------------------------------------------------------------------- checks


def _require_file(path: Path) -> None:
    if not Path(path).is_file():
        raise InputFormatError(f"{path}: file not found.")


def _read_table(
    path: str | os.PathLike[str], *, names: list[str], expected_columns: int
) -> pd.DataFrame:
    path = Path(path)
    _require_file(path)
    if path.stat().st_size == 0:
        raise InputFormatError(f"{path}: file is empty.")
    df = pd.read_csv(path, sep=r"\s+", header=None, dtype=str, engine="c")
    if df.shape[1] != expected_columns:
        raise InputFormatError(
            f"{path}: expected {expected_columns} whitespace-separated columns, found {df.shape[1]}."
        )
    df.columns = names
    return df


def _as_int(values: pd.Series, path: str | os.PathLike[str], what: str) -> pd.Series:
    out = pd.to_numeric(values, errors="coerce")
    if out.isna().any():
        row = int(np.flatnonzero(out.isna().to_numpy())[0])
        value = values.iloc[row]
        shown = "a missing value" if pd.isna(value) else repr(value)
        raise InputFormatError(f"{path}: non-integer {what} {shown} on data row {row + 1}.")
    return out.astype(np.int64)


def _check_unique(ids: pd.Series, path: Path, what: str) -> None:
    """Raise if any ID occurs twice. Counted by Arrow: pandas' ``duplicated`` of a million
    Arrow strings made Python objects of them (80 MB kept after the check)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    counts = pc.value_counts(pa.array(ids, from_pandas=True))
    dup = pc.filter(counts.field("values"), pc.greater(counts.field("counts"), 1))
    if len(dup):
        shown = ", ".join(map(str, dup.to_pylist()[:5]))
        raise InputFormatError(
            f"{path}: {len(dup)} duplicate {what}(s), e.g. {shown}. "
            "Each ID must be unique; deduplicate the file (e.g. plink2 --set-all-var-ids / --rm-dup)."
        )


def _check_bed_size(path: Path, *, n_samples: int, n_variants: int) -> None:
    with open(path, "rb") as fh:
        magic = fh.read(3)
    if magic != BED_MAGIC:
        raise InputFormatError(
            f"{path}: not a variant-major PLINK 1 .bed file (first bytes {magic.hex()}, expected 6c1b01)."
        )
    expected = 3 + n_variants * ((n_samples + 3) // 4)
    actual = path.stat().st_size
    if actual != expected:
        bim, fam = path.with_suffix(".bim"), path.with_suffix(".fam")
        raise InputFormatError(
            f"{path}: size {actual} bytes, expected {expected} for {n_variants} variants ({bim.name}) x "
            f"{n_samples} samples ({fam.name}). The .bed is truncated or the .bim/.fam row counts do not match it."
        )


def _check_pgen_counts(path: Path, *, n_samples: int, n_variants: int) -> None:
    import pgenlib

    try:
        with pgenlib.PgenReader(bytes(path)) as reader:
            got_v, got_s = reader.get_variant_ct(), reader.get_raw_sample_ct()
    except RuntimeError as exc:
        raise InputFormatError(f"{path}: cannot be read as a .pgen file ({exc}).") from exc
    if (got_v, got_s) != (n_variants, n_samples):
        raise InputFormatError(
            f"{path}: holds {got_v} variants x {got_s} samples but the .pvar/.psam list "
            f"{n_variants} variants x {n_samples} samples."
        )
