"""Hail start-up and genotype import, shared by the QC and scoring engines.

Hail is optional (``pip install 'igs[hail]'``); :func:`import_hail` explains how to install it.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import struct
import zlib
from pathlib import Path
from typing import Any

from igs.errors import ConfigError, InputFormatError
from igs.io.plink import open_genotypes

# Reference genomes this process has registered with Hail (one per distinct .bim contig set).
_REFERENCES: set[str] = set()


def import_hail():  # type: ignore[no-untyped-def]
    """Import hail, or explain how to install it."""
    try:
        import hail as hl
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ConfigError(
            "engine 'hail' needs the optional dependency: pip install 'igs[hail]' (and Java 11/17)."
        ) from exc
    return hl


def init_hail(hail_config: dict[str, Any] | None = None) -> Any:
    """Start Hail once per process: local Spark by default, a cluster when master is set."""
    hl = import_hail()
    cfg = hail_config or {}
    if hl.utils.java.Env._hc is None:
        tmp = Path(cfg.get("tmp_dir") or "tmp/hail")
        tmp.mkdir(parents=True, exist_ok=True)
        hl.init(
            master=cfg.get("master") or "local[2]",
            tmp_dir=str(tmp),
            local_tmpdir=str(tmp),
            log=str(tmp / "hail.log"),
            quiet=True,
            idempotent=True,
        )
    return hl


def read_matrix_table(
    path: str,
    fmt: str,
    hl: Any,
    *,
    genome_build: str | None = None,
    sample: str | os.PathLike[str] | None = None,
    entry_fields: tuple[str, ...] = ("GT",),
    tmp_dir: str | os.PathLike[str] | None = None,
) -> Any:
    """Genotypes as a MatrixTable with GT counting the PLINK A1 / VCF ALT allele.

    Columns keyed by ``s`` (IID) with ``fam_id`` and ``is_male``; rows with ``rsid``.
    PLINK input uses a reference genome built from its own contigs, so any build works.
    VCF/BGEN loci are on ``genome_build`` (contigs renamed to its style, ``1`` <-> ``chr1``;
    without it, guessed from the contig names as before). A BGEN's samples are the ID_2 of
    ``sample`` (default: the ``.sample`` beside it), as the local reader reads them;
    ``entry_fields`` are the BGEN fields to import (``GT``, ``dosage``), its Hail index is
    written under ``tmp_dir`` (default: beside the BGEN).
    """
    if fmt == "bed":
        gset = open_genotypes(path, "bed")  # same validation as the local engine
        v = gset.variants
        lengths = (v.groupby("chrom", sort=False)["pos"].max() + 1).to_dict()
        x = [c for c in lengths if c in ("X", "23")]
        name = f"igs_{hashlib.sha1(repr(sorted(lengths.items())).encode()).hexdigest()[:12]}"
        if name not in _REFERENCES:
            hl.ReferenceGenome(
                name, list(lengths), {k: int(n) for k, n in lengths.items()}, x_contigs=x
            )
            _REFERENCES.add(name)
        mt = hl.import_plink(
            f"{path}.bed", f"{path}.bim", f"{path}.fam", reference_genome=name, a2_reference=True,
            quant_pheno=True, missing="-9",
        )  # fmt: skip
        return mt.annotate_cols(is_male=mt.is_female == False)  # noqa: E712 - Hail expression
    if fmt == "vcf":
        build = genome_build or _vcf_reference(path)
        mt = hl.import_vcf(
            path, reference_genome=build, contig_recoding=contig_recoding(build),
            array_elements_required=False, **_gzip_kind(path),
        )  # fmt: skip
    elif fmt == "bgen":
        build = genome_build or "GRCh37"
        phased, bits = bgen_probability_layout(path)
        if phased or bits != 8:
            raise InputFormatError(
                f"{path}: {'phased' if phased else f'{bits}-bit'} BGEN; Hail reads unphased "
                "diploid 8-bit BGEN only. Score it with the local engine, or convert it (plink2 "
                "--bgen ... --make-pgen erase-phase, then --export bgen-1.2 bits=8)."
            )
        index = (
            {path: str(Path(tmp_dir) / f"{hashlib.sha1(path.encode()).hexdigest()[:16]}.idx2")}
            if tmp_dir is not None
            else None
        )
        hl.index_bgen(path, index_file_map=index, reference_genome=build,
                      contig_recoding=contig_recoding(build))  # fmt: skip
        mt = hl.import_bgen(path, entry_fields=list(entry_fields), index_file_map=index)
        mt = _bgen_samples(mt, path, sample, hl)
    else:
        raise ConfigError(f"the Hail engine reads bed, vcf or bgen, not {fmt!r}.")
    return mt.annotate_cols(fam_id=mt.s, is_male=hl.missing(hl.tbool))


def bgen_probability_layout(path: str | os.PathLike[str]) -> tuple[bool, int]:
    """(phased, bits per probability) of a BGEN v1.2 file's first variant (layout 2)."""
    with open(path, "rb") as fh:
        try:
            (first,) = struct.unpack("<I", fh.read(4))
            fh.seek(4 + first - 4)  # the header's flags: its last 4 bytes
            (flags,) = struct.unpack("<I", fh.read(4))
            fh.seek(first + 4)  # the first variant block
            for _ in range(3):  # varid, rsid, chromosome
                (n,) = struct.unpack("<H", fh.read(2))
                fh.seek(n, 1)
            fh.seek(4, 1)  # position
            (k,) = struct.unpack("<H", fh.read(2))
            for _ in range(k):
                (n,) = struct.unpack("<I", fh.read(4))
                fh.seek(n, 1)
            (size,) = struct.unpack("<I", fh.read(4))
            block = fh.read(size)
            if flags & 3 == 2:  # zstd: Hail refuses it itself, naming the compression
                return False, 8
            if flags & 3 == 1:
                block = zlib.decompressobj().decompress(block[4:], 1 << 20)
            (n_samples,) = struct.unpack("<I", block[:4])
            phased, bits = block[8 + n_samples], block[9 + n_samples]
        except (struct.error, IndexError, zlib.error) as exc:
            raise InputFormatError(f"{path}: cannot be read as a BGEN file ({exc}).") from exc
    return bool(phased), int(bits)


def _gzip_kind(path: str) -> dict[str, bool]:
    """import_vcf's flag for a compressed VCF: BGZF read in blocks, plain gzip as one stream."""
    with open(path, "rb") as fh:
        head = fh.read(18)
    if head[:2] != b"\x1f\x8b":
        return {}
    bgzf = len(head) >= 14 and head[3] & 4 and head[12:14] == b"BC"
    return {"force_bgz": True} if bgzf else {"force": True}


def contig_recoding(build: str) -> dict[str, str]:
    """Contig names of the other style renamed to ``build``'s (GRCh38 ``chr1``, GRCh37 ``1``)."""
    plain = [*map(str, range(1, 23)), "X", "Y"]
    if build == "GRCh38":
        return {**{c: f"chr{c}" for c in plain}, "MT": "chrM", "23": "chrX"}
    return {**{f"chr{c}": c for c in plain}, "chrM": "MT", "chrMT": "MT", "23": "X"}


def _bgen_samples(mt: Any, path: str, sample: str | os.PathLike[str] | None, hl: Any) -> Any:
    """Columns keyed by the ID_2 of the .sample file (given, else beside the BGEN, else the
    BGEN's own IDs), checked as the local reader checks them."""
    from igs.io.dosage import read_bgen_sample

    sample_path = Path(sample) if sample is not None else Path(path).with_suffix(".sample")
    if not sample_path.is_file():
        if sample is not None:
            raise InputFormatError(f"{sample_path}: BGEN sample file not found.")
        return mt
    ids = read_bgen_sample(sample_path)
    n = mt.count_cols()
    if len(ids) != n:
        raise InputFormatError(f"{sample_path}: lists {len(ids)} samples but {path} holds {n}.")
    mt = mt.add_col_index("igs_col")
    return mt.key_cols_by(s=hl.literal(ids)[hl.int32(mt.igs_col)]).drop("igs_col")


def _vcf_reference(path: str) -> str:
    """GRCh38 for 'chr'-prefixed contigs, GRCh37 for plain ones (from the first data line)."""
    opener = gzip.open if path.endswith((".gz", ".bgz")) else open
    with opener(path, "rt") as fh:
        for line in fh:
            if not line.startswith("#"):
                return "GRCh38" if line.startswith("chr") else "GRCh37"
    raise InputFormatError(f"{path}: no variant lines in the VCF.")
