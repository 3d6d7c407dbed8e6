"""Small imputed-dosage files for tests: VCF with DS/GP/GT and BGEN v1.2 (24-bit, zlib).

Dosages are multiples of 1/16384 (plink2's dosage precision) so that every format holds them
exactly (a 24-bit BGEN to 6e-8) and plink2's import loses nothing (it reads BGENs of up to 28 bits): plink2 scores on
these files are exact oracles.
"""

from __future__ import annotations

import gzip
import struct
import zlib
from pathlib import Path

import numpy as np

ALLELES = ("A", "C", "G", "T")


def random_dosages(n_samples: int, n_variants: int, seed: int, missing: float = 0.02) -> np.ndarray:
    """(variants, samples) ALT dosages on plink2's 1/16384 grid, NaN for missing."""
    rng = np.random.default_rng(seed)
    freq = rng.uniform(0.05, 0.6, size=(n_variants, 1))
    d = rng.binomial(2, freq, size=(n_variants, n_samples)).astype(float)
    noise = rng.normal(0, 0.25, size=d.shape)
    d = np.clip(np.round((d + noise) * 8192) / 8192, 0, 2)  # k/8192 keeps GP halves on the grid
    d[rng.random(d.shape) < missing] = np.nan
    return d


def variant_table(n_variants: int, chromosomes: tuple[str, ...], seed: int) -> list[tuple]:
    """(chrom, pos, id, ref, alt) rows, chromosomes in blocks, no strand-ambiguous pairs."""
    rng = np.random.default_rng(seed)
    rows = []
    for j in range(n_variants):
        chrom = chromosomes[j * len(chromosomes) // n_variants]
        ref = ALLELES[rng.integers(4)]
        alt = rng.choice([a for a in ALLELES if a not in (ref, _complement(ref))])
        rows.append((chrom, 1000 + 100 * j, f"v{j}", ref, str(alt)))
    return rows


def write_vcf(
    path: Path, variants: list[tuple], samples: list[str], d: np.ndarray, field: str = "DS"
) -> None:
    """A bgzip-free gzip VCF with one FORMAT field: DS, GP (P(het) = 0, P(hom alt) = d/2) or GT."""
    fmt_header = {
        "DS": '##FORMAT=<ID=DS,Number=1,Type=Float,Description="ALT dosage">',
        "GP": '##FORMAT=<ID=GP,Number=G,Type=Float,Description="Genotype probabilities">',
        "GT": '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">',
        "XX": '##FORMAT=<ID=XX,Number=1,Type=Float,Description="Something else">',
    }[field]
    chroms = dict.fromkeys(v[0] for v in variants)
    lines = ["##fileformat=VCFv4.2", fmt_header]
    lines += [f"##contig=<ID={c}>" for c in chroms]
    lines.append('##INFO=<ID=R2,Number=1,Type=Float,Description="Imputation R2">')
    lines.append(
        "\t".join(
            ["#CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO", "FORMAT", *samples]
        )
    )
    for (chrom, pos, vid, ref, alt), row in zip(variants, d, strict=True):
        r2 = 0.3 + 0.7 * ((pos // 100) % 10) / 10
        cells = [_vcf_cell(x, field) for x in row]
        lines.append(
            "\t".join([chrom, str(pos), vid, ref, alt, ".", "PASS", f"R2={r2:.2f}", field, *cells])
        )
    with gzip.open(path, "wt") as fh:
        fh.write("\n".join(lines) + "\n")


def _vcf_cell(x: float, field: str) -> str:
    if np.isnan(x):
        return {"DS": ".", "GP": ".", "GT": "./.", "XX": "."}[field]
    if field in ("DS", "XX"):
        return repr(float(x))
    if field == "GP":
        return f"{float(1 - x / 2)!r},0,{float(x / 2)!r}"
    return ("0/0", "0/1", "1/1")[int(np.rint(x))]


def write_bgen(
    path: Path,
    variants: list[tuple],
    samples: list[str],
    d: np.ndarray,
    *,
    sample_file: bool = True,
    embed_ids: bool = False,
) -> None:
    """BGEN v1.2, layout 2, zlib-compressed, 24-bit unphased diploid probabilities
    P(ref/ref) = 1 - d/2, P(ref/alt) = 0, P(alt/alt) = d/2 (alleles listed ref first)."""
    n = len(samples)
    flags = 1 | (2 << 2) | ((1 << 31) if embed_ids else 0)  # zlib, layout 2, IDs
    header = (
        struct.pack("<I", 20)
        + struct.pack("<II", len(variants), n)
        + b"bgen"
        + struct.pack("<I", flags)
    )
    ids = b""
    if embed_ids:
        body = b"".join(struct.pack("<H", len(s)) + s.encode() for s in samples)
        ids = struct.pack("<II", 8 + len(body), n) + body
    blocks = []
    scale = 2**24 - 1
    for (chrom, pos, vid, ref, alt), row in zip(variants, d, strict=True):
        out = b""
        for text in (vid, vid, chrom):
            out += struct.pack("<H", len(text)) + text.encode()
        alleles = (ref, *alt.split(","))  # a multi-allelic site only for error tests
        out += struct.pack("<IH", pos, len(alleles))
        for a in alleles:
            out += struct.pack("<I", len(a)) + a.encode()
        missing = np.isnan(row)
        p_alt = np.where(missing, 0.0, row / 2)
        probs = np.empty(2 * n, dtype=np.uint32)
        probs[0::2] = np.round((1 - p_alt) * scale).astype(np.uint64).astype(np.uint32)
        probs[1::2] = 0
        probs[0::2][missing] = 0
        ploidy = np.where(missing, 0x82, 0x02).astype(np.uint8)
        geno = struct.pack("<IHBB", n, 2, 2, 2) + ploidy.tobytes() + struct.pack("<BB", 0, 24)
        geno += probs.astype("<u4").view(np.uint8).reshape(-1, 4)[:, :3].tobytes()
        packed = zlib.compress(geno)
        out += struct.pack("<II", len(packed) + 4, len(geno)) + packed
        blocks.append(out)
    with open(path, "wb") as fh:
        fh.write(struct.pack("<I", len(header) + len(ids)))
        fh.write(header)
        fh.write(ids)
        for b in blocks:
            fh.write(b)
    if sample_file:
        text = "ID_1 ID_2 missing\n0 0 0\n" + "".join(f"{s} {s} 0\n" for s in samples)
        path.with_suffix(".sample").write_text(text)


def _complement(a: str) -> str:
    return {"A": "T", "T": "A", "C": "G", "G": "C"}[a]


def split_vcf_by_chromosome(src: Path, out: Path) -> dict[str, Path]:
    """pgsc_calc's samplesheet shape: the 1000G VCF as one gzip VCF per autosome (records
    copied verbatim)."""
    header, files = [], {}
    with gzip.open(src, "rt") as fh:
        for line in fh:
            if line.startswith("#"):
                header.append(line)
                continue
            chrom = line.split("\t", 1)[0]
            if chrom not in {str(c) for c in range(1, 23)}:
                continue
            if chrom not in files:
                files[chrom] = gzip.open(  # noqa: SIM115
                    out / f"PGS000586_GRCh38_{chrom}.vcf.gz", "wt", compresslevel=1
                )
                files[chrom].writelines(header)
            files[chrom].write(line)
    for fh in files.values():
        fh.close()
    return {c: out / f"PGS000586_GRCh38_{c}.vcf.gz" for c in files}


def split_bgen_by_chromosome(src: Path, out: Path) -> None:
    """chr{N}.bgen (BGEN 1.2) with chr{N}.sample beside it for each autosome, written by plink2
    from ``src`` and the .sample file next to it."""
    from tests.conftest import require_tool, run_tool

    for c in range(1, 23):
        run_tool(
            [require_tool("plink2"), "--bgen", str(src), "ref-first", "--sample",
             str(src.with_suffix(".sample")), "--chr", str(c), "--export", "bgen-1.2",
             "--out", str(out / f"chr{c}")],
            out,
        )  # fmt: skip


def write_vcf_with_gt(
    path: Path, variants: list[tuple], samples: list[str], d: np.ndarray, haploid: np.ndarray,
    field: str = "DS",
) -> None:  # fmt: skip
    """A gzip VCF with GT and DS (or GP); where ``haploid`` (variants x samples) is set the call
    is haploid, as a male's on chrX: GT ``0``/``1``, DS the ALT probability (0..1), GP two values."""
    lines = [
        "##fileformat=VCFv4.2",
        '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">',
        '##FORMAT=<ID=DS,Number=A,Type=Float,Description="ALT dosage">'
        if field == "DS"
        else '##FORMAT=<ID=GP,Number=G,Type=Float,Description="Genotype probabilities">',
        *[f"##contig=<ID={c}>" for c in dict.fromkeys(v[0] for v in variants)],
        "\t".join(["#CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO", "FORMAT", *samples]),
    ]  # fmt: skip
    for (chrom, pos, vid, ref, alt), row, hap in zip(variants, d, haploid, strict=True):
        cells = []
        for x, h in zip(row, hap, strict=True):
            if np.isnan(x):
                cells.append("." if h else "./.")
                continue
            gt = str(int(x >= 0.5)) if h else ("0/0", "0/1", "1/1")[int(np.rint(x))]
            if field == "DS":
                value = repr(float(x))
            else:
                value = (
                    f"{float(1 - x)!r},{float(x)!r}"
                    if h
                    else f"{float(1 - x / 2)!r},0,{float(x / 2)!r}"
                )
            cells.append(f"{gt}:{value}")
        lines.append(
            "\t".join([chrom, str(pos), vid, ref, alt, ".", "PASS", ".", f"GT:{field}", *cells])
        )
    with gzip.open(path, "wt") as fh:
        fh.write("\n".join(lines) + "\n")


def write_haploid_bgen(
    path: Path, variants: list[tuple], samples: list[str], d: np.ndarray, haploid: np.ndarray
) -> None:
    """BGEN v1.2, layout 2, zlib, 24-bit unphased; a haploid call (ploidy 1) stores P(ref) = 1 - d,
    a diploid one P(ref/ref) = 1 - d/2, P(ref/alt) = 0 (``d`` as in :func:`write_vcf_with_gt`)."""
    n = len(samples)
    header = struct.pack("<I", 20) + struct.pack("<II", len(variants), n) + b"bgen"
    header += struct.pack("<I", 1 | (2 << 2))  # zlib, layout 2, no sample IDs inside
    scale = 2**24 - 1
    blocks = []
    for (chrom, pos, vid, ref, alt), row, hap in zip(variants, d, haploid, strict=True):
        out = b"".join(struct.pack("<H", len(t)) + t.encode() for t in (vid, vid, chrom))
        out += struct.pack("<IH", pos, 2)
        out += b"".join(struct.pack("<I", len(a)) + a.encode() for a in (ref, alt))
        missing = np.isnan(row)
        ploidy = np.where(hap, 1, 2) | np.where(missing, 0x80, 0)
        probs = []
        for x, h, m in zip(row, hap, missing, strict=True):
            if m:
                probs += [0] if h else [0, 0]
            elif h:
                probs.append(round((1 - x) * scale))
            else:
                probs += [round((1 - x / 2) * scale), 0]
        geno = struct.pack("<IHBB", n, 2, 1 if hap.any() else 2, 2 if (~hap).any() else 1)
        geno += ploidy.astype(np.uint8).tobytes() + struct.pack("<BB", 0, 24)
        geno += np.array(probs, dtype="<u4").view(np.uint8).reshape(-1, 4)[:, :3].tobytes()
        packed = zlib.compress(geno)
        out += struct.pack("<II", len(packed) + 4, len(geno)) + packed
        blocks.append(out)
    with open(path, "wb") as fh:
        fh.write(struct.pack("<I", len(header)) + header + b"".join(blocks))
    text = "ID_1 ID_2 missing\n0 0 0\n" + "".join(f"{s} {s} 0\n" for s in samples)
    path.with_suffix(".sample").write_text(text)
