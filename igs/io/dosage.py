"""Imputed dosages from VCF (cyvcf2) and BGEN v1.2/1.3 (cbgen), streamed in chunks.

Both readers give the same :class:`igs.io.plink.GenotypeSet` as a PLINK fileset, so matching
and :func:`igs.io.plink.iter_dosage_chunks` work unchanged:

* the counted allele ``a1`` is the VCF ``ALT`` / the BGEN's second allele, ``a2`` the other;
* ``variants`` gains an ``info`` column (VCF ``INFO/R2``, ``DR2`` or ``INFO``; NaN if absent);
* dosages are read variant by variant into one chunk of floats, so memory is bounded by
  ``n_samples * chunk_variants`` whatever the file size.

VCF dosages come from ``FORMAT/DS``, else ``GP`` (P(het) + 2 P(hom alt)), else ``GT`` (hard
calls); the field used is ``GenotypeSet.dosage_field``. BGEN probabilities give the expected
count of the second allele. A haploid call (a male on chrX: GT ``1``, DS 0..1, two GP values,
BGEN ploidy 1) counts twice, as ``plink2 --vcf/--bgen`` stores it and ``plink2 --score`` scores
it; a VCF's haploid DS is found by its GT, looked at off the autosomes only.

VCF text is read by :mod:`igs.io.vcf_text` (BGZF inflated and records parsed on threads, the
same float32-rounded values as htslib); cyvcf2/htslib reads GT-only files and, from that record
on, any record the compiled reader does not handle (exponents, > 14 digits, malformed fields),
so htslib's parse errors still name the file.
"""

from __future__ import annotations

import csv
import io
import itertools
import logging
import os
import tempfile
import zlib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import NoReturn

import numpy as np
import pandas as pd

from igs.errors import InputFormatError
from igs.io import vcf_text
from igs.io.plink import GenotypeSet, _check_unique, _require_file

log = logging.getLogger(__name__)

VCF_DOSAGE_FIELDS = ("DS", "GP", "GT")
INFO_KEYS = ("R2", "DR2", "INFO")  # minimac, Beagle, IMPUTE-style INFO scores
AUTOSOMES = frozenset([*map(str, range(1, 23)), *(f"chr{c}" for c in range(1, 23))])


# --------------------------------------------------------------------------- VCF


def open_vcf(path: str | os.PathLike[str], threads: int | None = None) -> GenotypeSet:
    """Validate a VCF/VCF.gz and read its samples and variants (one pass, genotypes skipped).

    The variant columns are read by :mod:`igs.io.vcf_text` (BGZF inflated on ``threads``
    threads); a file it does not handle is read by cyvcf2 (htslib), whose errors stand.
    """
    import cyvcf2

    path = Path(path)
    _require_file(path)
    try:
        vcf = cyvcf2.VCF(str(path))
    except Exception as exc:  # cyvcf2 raises bare Exceptions on unparseable headers
        raise InputFormatError(f"{path}: cannot be read as a VCF ({exc}).") from exc
    fmt_ids = {h.info().get("ID") for h in vcf.header_iter() if h.type == "FORMAT"}
    info_ids = {h.info().get("ID") for h in vcf.header_iter() if h.type == "INFO"}
    field = next((f for f in VCF_DOSAGE_FIELDS if f in fmt_ids), None)
    if field is None:
        raise InputFormatError(
            f"{path}: no FORMAT/DS, FORMAT/GP or FORMAT/GT declared in the header "
            f"(FORMAT fields: {sorted(fmt_ids) or 'none'}); cannot read dosages."
        )
    info_key = next((k for k in INFO_KEYS if k in info_ids), None)
    samples = list(vcf.samples)
    vcf.close()
    variants = _fast_variant_table(path, info_key, threads or vcf_text.threads_default())
    if variants is None:
        variants = _htslib_variant_table(path, info_key)
    sample_table = pd.DataFrame({"FID": samples, "IID": samples, "sex": np.int8(0)})
    _check_unique(sample_table["IID"], path, "sample ID (IID)")
    log.info(
        "%s: %d samples x %d variants, dosages from %s", path, len(samples), len(variants), field
    )
    return GenotypeSet(
        prefix=path, format="vcf", samples=sample_table, variants=variants, dosage_field=field
    )


def _refuse_multi_alt(path: Path, chrom: str, pos: object, n_alt: int) -> NoReturn:
    raise InputFormatError(
        f"{path}: variant {chrom}:{pos} has {n_alt} ALT alleles; split "
        "multi-allelic sites first (bcftools norm -m-)."
    )


def _htslib_variant_table(path: Path, info_key: str | None) -> pd.DataFrame:
    """The variant table read by cyvcf2 (no samples: genotypes are not parsed)."""
    import cyvcf2

    rows: dict[str, list] = {k: [] for k in ("chrom", "id", "pos", "a1", "a2", "info")}
    for rec in _records(cyvcf2.VCF(str(path), samples=[]), path):
        if len(rec.ALT) != 1:
            _refuse_multi_alt(path, rec.CHROM, rec.POS, len(rec.ALT))
        rows["chrom"].append(rec.CHROM)
        rows["id"].append(rec.ID or f"{rec.CHROM}:{rec.POS}:{rec.REF}:{rec.ALT[0]}")
        rows["pos"].append(rec.POS)
        rows["a1"].append(rec.ALT[0])
        rows["a2"].append(rec.REF)
        value = rec.INFO.get(info_key) if info_key else None
        rows["info"].append(np.nan if value is None else float(value))
    return _variant_table(rows)


def _fast_variant_table(path: Path, info_key: str | None, threads: int) -> pd.DataFrame | None:
    """The variant table read by the compiled scanner, or None where htslib must read it."""
    key = np.frombuffer((info_key or "").encode(), dtype=np.uint8)
    parts = []
    try:
        for chunk in vcf_text.iter_line_chunks(path, threads):
            starts, ends, status = vcf_text.index_lines(chunk)
            out = np.empty(len(chunk), dtype=np.uint8)
            w, _, scan_status, line = vcf_text.scan_variants(chunk, starts, ends, key, out)
            if scan_status == vcf_text.MULTI_ALT:
                cols = bytes(chunk[starts[line] : ends[line]]).decode(errors="replace")
                cols = cols.split("\t")
                _refuse_multi_alt(path, cols[0], cols[1], len(cols[4].split(",")))
            if status != vcf_text.OK or scan_status != vcf_text.OK:
                log.info("%s: record not in the common form; variants read by htslib", path)
                return None
            parts.append(out[:w].tobytes())
    except (ValueError, OSError, EOFError, zlib.error) as exc:
        log.info("%s: %s; variants read by htslib", path, exc)
        return None
    text = b"".join(parts)
    if not text:
        return _variant_table({k: [] for k in ("chrom", "id", "pos", "a1", "a2", "info")})
    try:
        table = pd.read_csv(
            io.BytesIO(text), sep="\t", header=None, quoting=csv.QUOTE_NONE,
            names=["chrom", "pos", "id", "a2", "a1", "info"], dtype=str, na_filter=False,
            engine="c",
        )  # fmt: skip
        info = np.array(
            [np.nan if v in ("", ".") else float(np.float32(float(v))) for v in table["info"]]
        )
        pos = table["pos"].astype(np.int64).to_numpy()
    except (ValueError, OverflowError) as exc:
        log.info("%s: %s; variants read by htslib", path, exc)
        return None
    ids = table["id"].where(
        table["id"] != ".",
        table["chrom"] + ":" + table["pos"] + ":" + table["a2"] + ":" + table["a1"],
    )
    rows = {
        "chrom": table["chrom"].tolist(),
        "id": ids.tolist(),
        "pos": pos,
        "a1": table["a1"].tolist(),
        "a2": table["a2"].tolist(),
        "info": info,
    }
    return _variant_table(rows)


def iter_vcf_dosages(
    gset: GenotypeSet,
    variant_index: np.ndarray,
    chunk_variants: int,
    threads: int | None = None,
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield ``(variant_index, G)`` chunks, G float64 (n_samples, k) ALT dosages, NaN missing;
    G is F-ordered (variant-major in memory, as it is read), a fresh array each chunk.

    DS and GP records in the common form are parsed by :mod:`igs.io.vcf_text` (the same floats
    as htslib); from the first record it does not handle on, and for GT-only files, cyvcf2
    reads the rest.
    """
    wanted = np.zeros(gset.n_variants, dtype=bool)
    wanted[variant_index] = True
    rows = np.empty((chunk_variants, gset.n_samples))
    state = _ChunkState(rows)
    start = 0
    if gset.dosage_field in vcf_text.MODES:
        start = yield from _fast_dosages(gset, wanted, state, threads or vcf_text.threads_default())
    if start is not None:
        yield from _htslib_dosages(gset, wanted, state, start)
    if state.idx:
        yield state.take()


class _ChunkState:
    """The chunk being filled: rows (variant, sample) and the record numbers they hold."""

    def __init__(self, rows: np.ndarray) -> None:
        self.rows, self.idx = rows, []

    def take(self) -> tuple[np.ndarray, np.ndarray]:
        """The filled chunk as (records, G): G (n_samples, k) is the rows' transpose, a view
        (F-ordered, not copied); the next chunk is filled in a new buffer."""
        k = len(self.idx)
        out = np.array(self.idx), self.rows[:k].T
        self.rows, self.idx = np.empty_like(self.rows), []
        return out


def _fast_dosages(gset: GenotypeSet, wanted: np.ndarray, state: _ChunkState, threads: int):
    """Fill and yield chunks with the compiled parser, records split over ``threads`` threads;
    return None when the file is done, else the record from which htslib must read."""
    mode, pow10 = vcf_text.MODES[gset.dosage_field], vcf_text.pow10()
    vi = 0  # record number of the chunk's first line
    try:
        with ThreadPoolExecutor(threads) as pool:
            for chunk in vcf_text.iter_line_chunks(gset.prefix, threads):
                starts, ends, status = vcf_text.index_lines(chunk)
                if vi + len(starts) > len(wanted):
                    return vi  # more records than open_vcf found: htslib's error
                lines = np.flatnonzero(wanted[vi : vi + len(starts)])
                while len(lines):
                    take = lines[: len(state.rows) - len(state.idx)]
                    bad = _parse_lines_threaded(pool, threads, chunk, starts, ends, take, state,
                                                mode, pow10)  # fmt: skip
                    if bad is not None:
                        state.idx.extend((vi + take[: bad[0]]).tolist())
                        return _bad_record(gset, chunk, starts, ends, bad, vi + take[bad[0]])
                    state.idx.extend((vi + take).tolist())
                    lines = lines[len(take) :]
                    if len(state.idx) == len(state.rows):
                        yield state.take()
                if status != vcf_text.OK:
                    return vi + len(starts)  # an empty line: htslib decides
                vi += len(starts)
    except (ValueError, OSError, EOFError, zlib.error) as exc:
        log.info("%s: %s; read by htslib from record %d on", gset.prefix, exc, vi)
        return vi
    return None


def _parse_lines_threaded(pool, threads, chunk, starts, ends, take, state, mode, pow10):
    """Parse the records ``take`` (line numbers in the chunk) into the free rows, in
    ``threads`` runs of consecutive lines; returns None, or (first line not parsed, status)."""
    col = len(state.idx)
    bounds = np.linspace(0, len(take), min(threads, len(take)) + 1).astype(int)
    runs = [
        pool.submit(
            vcf_text.parse_lines,
            chunk,
            starts[take[a:b]],
            ends[take[a:b]],
            state.rows[col + a : col + b],
            mode,
            pow10,
        )
        for a, b in itertools.pairwise(bounds)
    ]
    for a, run in zip(bounds[:-1], runs, strict=True):
        done, status = run.result()
        if status != vcf_text.OK:
            for later in runs:
                later.result()
            return a + done, status
    return None


def _bad_record(gset, chunk, starts, ends, bad, record: int) -> int:
    """A record the parser did not take: the missing-field error, or htslib from there on."""
    line, status = bad
    if status == vcf_text.NO_FIELD:
        chrom, pos = bytes(chunk[starts[line] : ends[line]]).split(b"\t", 2)[:2]
        raise InputFormatError(
            f"{gset.prefix}: variant {chrom.decode()}:{pos.decode()} has no "
            f"FORMAT/{gset.dosage_field}."
        )
    log.info("%s: record %d read by htslib from here on", gset.prefix, record)
    return record


def _htslib_dosages(gset: GenotypeSet, wanted: np.ndarray, state: _ChunkState, start: int):
    """Fill and yield chunks with cyvcf2 from record ``start`` on."""
    import cyvcf2

    vcf = cyvcf2.VCF(str(gset.prefix), gts012=True, lazy=True, threads=1)
    try:
        for i, rec in enumerate(_records(vcf, gset.prefix)):
            if i < start or not wanted[i]:
                continue
            state.rows[len(state.idx)] = _vcf_dosage(rec, gset.dosage_field, gset.prefix)
            state.idx.append(i)
            if len(state.idx) == len(state.rows):
                yield state.take()
    finally:
        vcf.close()


def _records(vcf, path: Path) -> Iterator:
    """The VCF's records; htslib's parse errors become InputFormatError naming the file."""
    it = iter(vcf)
    while True:
        try:
            rec = next(it)
        except StopIteration:
            return
        except Exception as exc:  # cyvcf2 raises bare Exceptions for htslib errors
            raise InputFormatError(f"{path}: a record cannot be parsed as VCF ({exc}).") from exc
        yield rec


def _vcf_dosage(rec, field: str, path: Path) -> np.ndarray:
    if field == "GT":
        gt = rec.gt_types.astype(np.float64)  # 0 hom ref, 1 het, 2 hom alt, 3 unknown
        gt[gt == 3] = np.nan
        return gt
    values = rec.format(field)
    if values is None:
        raise InputFormatError(f"{path}: variant {rec.CHROM}:{rec.POS} has no FORMAT/{field}.")
    values = values.astype(np.float64)
    if field == "DS":
        haploid = _haploid(rec)
        return values[:, 0] if haploid is None else np.where(haploid, 2.0, 1.0) * values[:, 0]
    if values.shape[1] == 2:  # every call haploid: P(ref), P(alt)
        return 2.0 * values[:, 1]
    if values.shape[1] != 3:
        raise InputFormatError(
            f"{path}: variant {rec.CHROM}:{rec.POS} FORMAT/GP has {values.shape[1]} values per "
            "sample, expected 3 (diploid, biallelic) or 2 (haploid)."
        )
    # a haploid call's two values are padded with NaN (htslib's vector end)
    haploid = np.isnan(values[:, 2]) & ~np.isnan(values[:, 1])
    return np.where(haploid, 2.0 * values[:, 1], values[:, 1] + 2.0 * values[:, 2])


def _haploid(rec) -> np.ndarray | None:
    """Samples whose GT is haploid (one allele, then htslib's vector end), or None when there
    are none; autosomes are not looked at (males are haploid on chrX/Y, MT)."""
    if rec.CHROM in AUTOSOMES or "GT" not in rec.FORMAT:
        return None
    gt = rec.genotype.array()  # alleles (-2: vector end), then the phase column
    if gt.shape[1] == 2:  # every call haploid
        return np.ones(len(gt), dtype=bool)
    haploid = gt[:, 1] == -2
    return haploid if haploid.any() else None


# --------------------------------------------------------------------------- BGEN


def open_bgen(
    path: str | os.PathLike[str], sample: str | os.PathLike[str] | None = None
) -> GenotypeSet:
    """Validate a BGEN v1.2/1.3 file with its ``.sample`` file and read its variants.

    ``sample`` defaults to the file next to it (``x.bgen`` -> ``x.sample``); when that is
    absent, the BGEN must hold sample IDs itself.
    """
    import cbgen

    path = Path(path)
    _require_file(path)
    try:
        bgen = cbgen.bgen_file(path)
    except RuntimeError as exc:
        raise InputFormatError(f"{path}: cannot be read as a BGEN file ({exc}).") from exc
    with bgen:
        sample_path = Path(sample) if sample is not None else path.with_suffix(".sample")
        if sample_path.is_file():
            iids = read_bgen_sample(sample_path)
            if len(iids) != bgen.nsamples:
                raise InputFormatError(
                    f"{sample_path}: lists {len(iids)} samples but {path} holds {bgen.nsamples}."
                )
        elif sample is not None or not bgen.contain_samples:
            raise InputFormatError(
                f"{sample_path}: BGEN sample file not found, and {path.name} holds no sample IDs; "
                "set genotypes.sample to the .sample file."
            )
        else:
            iids = [s.decode() if isinstance(s, bytes) else str(s) for s in bgen.read_samples()]
        rows: dict[str, list] = {k: [] for k in ("chrom", "id", "pos", "a1", "a2", "info")}
        offsets = []
        with tempfile.TemporaryDirectory() as tmp:
            meta = Path(tmp) / "variants.metafile"
            bgen.create_metafile(meta)
            with cbgen.bgen_metafile(meta) as mf:
                for p in range(mf.npartitions):
                    v = mf.read_partition(p).variants
                    for j in range(len(v.offset)):
                        alleles = v.allele_ids[j].decode().split(",")
                        if len(alleles) != 2:
                            raise InputFormatError(
                                f"{path}: variant {v.rsid[j].decode()} has {len(alleles)} alleles; "
                                "only biallelic variants are supported."
                            )
                        chrom, vid = v.chromosome[j].decode(), v.rsid[j].decode()
                        rows["chrom"].append(chrom)
                        rows["id"].append(vid or v.id[j].decode())
                        rows["pos"].append(int(v.position[j]))
                        rows["a1"].append(alleles[1])
                        rows["a2"].append(alleles[0])
                        rows["info"].append(np.nan)
                        offsets.append(int(v.offset[j]))
    samples = pd.DataFrame({"FID": iids, "IID": iids, "sex": np.int8(0)})
    _check_unique(samples["IID"], sample_path, "sample ID (IID)")
    variants = _variant_table(rows)
    variants["offset"] = np.array(offsets, dtype=np.int64)
    return GenotypeSet(
        prefix=path,
        format="bgen",
        samples=samples,
        variants=variants,
        dosage_field="probabilities",
        sample_file=sample_path if sample_path.is_file() else None,
    )


def read_bgen_sample(path: str | os.PathLike[str]) -> list[str]:
    """Sample IDs (``ID_2``, the IID) of an Oxford ``.sample`` file (two header lines)."""
    path = Path(path)
    _require_file(path)
    lines = path.read_text().splitlines()
    header = lines[0].split() if lines else []
    if len(lines) < 2 or header[:2] != ["ID_1", "ID_2"]:
        raise InputFormatError(
            f"{path}: not an Oxford .sample file (expected a header 'ID_1 ID_2 missing ...' "
            f"and a types line; got {header[:3]!r})."
        )
    return [line.split()[1] for line in lines[2:] if line.strip()]


def iter_bgen_dosages(
    gset: GenotypeSet, variant_index: np.ndarray, chunk_variants: int
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield ``(variant_index, G)`` chunks, G float64 (n_samples, k) second-allele dosages."""
    import cbgen

    offsets = gset.variants["offset"].to_numpy()
    n = gset.n_samples
    with cbgen.bgen_file(gset.prefix) as bgen:
        for start in range(0, len(variant_index), chunk_variants):
            idx = variant_index[start : start + chunk_variants]
            g = np.empty((n, len(idx)))
            for k, i in enumerate(idx):
                g[:, k] = _bgen_dosage(bgen.read_genotype(int(offsets[i])))
            yield idx, g


def _bgen_dosage(gt) -> np.ndarray:
    """Expected count of the second allele from one variant's probabilities."""
    p, ploidy = gt.probability, np.asarray(gt.ploidy)
    if gt.phased:  # per haplotype: (allele 1, allele 2) for each
        second = np.nansum(p[:, 1::2], axis=1)
        dosage = np.where(ploidy == 1, 2.0 * second, second)
    else:  # diploid: P(11), P(12), P(22); haploid: P(1), P(2)
        diploid = p[:, 1] + 2.0 * p[:, 2] if p.shape[1] >= 3 else np.zeros(len(p))
        dosage = np.where(ploidy == 1, 2.0 * p[:, 1], diploid)
    dosage[np.asarray(gt.missing, dtype=bool)] = np.nan
    return dosage


# --------------------------------------------------------------------------- shared


def _variant_table(rows: dict[str, list]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "chrom": pd.Series(rows["chrom"], dtype=object),
            "id": pd.Series(rows["id"], dtype=object),
            "cm": 0.0,
            "pos": np.array(rows["pos"], dtype=np.int64),
            "a1": pd.Series(rows["a1"], dtype=object),
            "a2": pd.Series(rows["a2"], dtype=object),
            "info": np.array(rows["info"], dtype=np.float64),
        }
    )
