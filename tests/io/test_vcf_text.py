"""The compiled VCF reader (igs.io.vcf_text) against cyvcf2/htslib: the same variant table and
bit-identical dosages, on hand-made edge cases and on the 1000 Genomes VCFs under
../shared/oracle, written as plain text, gzip and BGZF; whatever it does not handle is read by
htslib from that record on."""

from __future__ import annotations

import gzip
import struct
import zlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from igs.errors import InputFormatError
from igs.io import dosage, vcf_text
from tests.conftest import SHARED_ORACLE, require_tool, run_tool

PGS586 = SHARED_ORACLE / "1000g_pgs000586/tests/data/vcf/PGS000586_GRCh38.vcf.gz"

DS_HEADER = '##FORMAT=<ID=DS,Number=1,Type=Float,Description="d">\n'
HEADER = f"""##fileformat=VCFv4.2
##contig=<ID=1>
##contig=<ID=chr2>
##contig=<ID=X>
##INFO=<ID=R2,Number=1,Type=Float,Description="r2">
##INFO=<ID=RR2,Number=1,Type=Integer,Description="not R2">
##INFO=<ID=AF,Number=1,Type=Float,Description="af">
##FORMAT=<ID=GT,Number=1,Type=String,Description="g">
{DS_HEADER}##FORMAT=<ID=GP,Number=G,Type=Float,Description="p">
##FORMAT=<ID=XX,Number=1,Type=Integer,Description="x">
#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\ts1\ts2\ts3\ts4
"""

# every number form htslib reads: integers, decimals, signs, leading/trailing points, missing
DS_RECORDS = [
    "1\t100\trs1\tA\tG\t.\t.\tR2=0.912;AF=0.1\tGT:DS\t0/0:0\t0/1:1\t1/1:2\t./.:.",
    "1\t200\t.\tC\tT\t.\t.\tAF=0.2;R2=1\tGT:DS\t0|1:0.999\t1|1:1.987\t0|0:0.001\t0|1:.5",
    "1\t300\trs3\tG\tA\t.\t.\t.\tDS:GT\t1.:0/1\t+0.25:0/0\t-0:0/0\t0.0001234:0/0",
    "1\t400\trs4\tT\tC\t.\t.\tR2=.\tGT:XX:DS\t0/1:5:1.23456789012\t0/0:.:0.1\t0/0:1\t.",
    "1\t450\trs45\tA\tG\t.\t.\t.\tDS:GT:XX\t0.5:0/1:3\t1:0/1\t.\t2:1/1:4",
    "chr2\t500\trs5\tA\tAT\t.\t.\tRR2=3;R2=0.5\tGT:DS\t0/1:0.3333\t1/1:1.6667\t0/0:0.0000\t0/1:1.5",
    "X\t600\trsx1\tA\tG\t.\t.\t.\tGT:DS\t1:0.7\t0/1:0.9\t0:0.2\t.:.",
    "X\t700\trsx2\tA\tG\t.\t.\t.\tGT:DS\t1:0.7\t0:0.1\t1:1\t0:0",
    "X\t800\trsx3\tA\tG\t.\t.\t.\tDS\t0.7\t0.1\t1\t0",
]
GP_RECORDS = [
    "1\t100\trs1\tA\tG\t.\t.\tR2=0.9\tGT:GP\t0/0:1,0,0\t0/1:0.1,0.8,0.1\t1/1:0,0.002,0.998\t.:.",
    "1\t200\trs2\tC\tT\t.\t.\t.\tGP:GT\t0.25,0.5,0.25:0/1\t.,.,.:./.\t0.3,0.3,0.4:0/1\t1,0,0:0/0",
    "X\t300\trsx1\tA\tG\t.\t.\t.\tGT:GP\t1:0.1,0.9\t0/1:0.2,0.5,0.3\t0:1,0\t0/0:.",
    "X\t400\trsx2\tA\tG\t.\t.\t.\tGT:GP\t1:0.1,0.9\t0:0.6,0.4\t1:0,1\t0:1,0",
]
# forms left to htslib: exponents, more than 14 digits, infinities
HTSLIB_RECORDS = [
    "1\t900\trs9\tA\tG\t.\t.\t.\tGT:DS\t0/0:1e-3\t0/1:0.123456789012345678\t1/1:2E0\t0/0:inf",
]


def write_bgzf(path: Path, text: bytes, block: int = 1000) -> None:
    """A BGZF file as bgzip writes it (small blocks, so that lines span blocks), EOF block."""
    with open(path, "wb") as fh:
        for start in range(0, len(text) + 1, block):
            piece = text[start : start + block]
            comp = zlib.compressobj(6, zlib.DEFLATED, -15)
            data = comp.compress(piece) + comp.flush()
            fh.write(b"\x1f\x8b\x08\x04\x00\x00\x00\x00\x00\xff\x06\x00BC\x02\x00")
            fh.write(struct.pack("<H", len(data) + 25))
            fh.write(data)
            fh.write(struct.pack("<II", zlib.crc32(piece), len(piece)))
            if not piece:
                break


def write_all(tmp_path: Path, name: str, text: str) -> list[Path]:
    """The same VCF as plain text, gzip and BGZF."""
    raw = text.encode()
    plain, gz, bgz = (
        tmp_path / f"{name}.vcf",
        tmp_path / f"{name}.gz.vcf.gz",
        tmp_path / f"{name}.vcf.gz",
    )
    plain.write_bytes(raw)
    gz.write_bytes(gzip.compress(raw))
    write_bgzf(bgz, raw)
    assert vcf_text.is_bgzf(bgz) and not vcf_text.is_bgzf(gz)
    return [plain, gz, bgz]


def htslib_reading(gset, index: np.ndarray, chunk: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """The reference: every record through cyvcf2."""
    wanted = np.zeros(gset.n_variants, dtype=bool)
    wanted[index] = True
    state = dosage._ChunkState(np.empty((chunk, gset.n_samples)))
    out = list(dosage._htslib_dosages(gset, wanted, state, 0))
    return out + ([state.take()] if state.idx else [])


def fast_reading_stops_at(gset, index: np.ndarray, chunk: int) -> int | None:
    """The record from which the compiled reader hands over to htslib (None: it read all)."""
    wanted = np.zeros(gset.n_variants, dtype=bool)
    wanted[index] = True
    state = dosage._ChunkState(np.empty((chunk, gset.n_samples)))
    reading = dosage._fast_dosages(gset, wanted, state, 2)
    while True:
        try:
            next(reading)
        except StopIteration as stop:
            return stop.value


def assert_same_reading(path: Path, chunk: int = 3, every: int = 1) -> int | None:
    """Both readers agree; returns the record from which htslib read the dosages."""
    gset = dosage.open_vcf(path)
    info_key = next((k for k in dosage.INFO_KEYS if k in _info_ids(path)), None)
    fast = dosage._fast_variant_table(path, info_key, 2)
    assert fast is not None
    pd.testing.assert_frame_equal(fast, dosage._htslib_variant_table(path, info_key))
    pd.testing.assert_frame_equal(gset.variants, fast)
    index = np.arange(0, gset.n_variants, every)
    ours = list(dosage.iter_vcf_dosages(gset, index, chunk))
    ref = htslib_reading(gset, index, chunk)
    assert len(ours) == len(ref) > 0
    for (i1, g1), (i2, g2) in zip(ours, ref, strict=True):
        np.testing.assert_array_equal(i1, i2)
        assert g1.flags.f_contiguous and g1.shape == g2.shape
        nan = np.isnan(g2)
        np.testing.assert_array_equal(np.isnan(g1), nan)
        assert (g1[~nan].view(np.int64) == g2[~nan].view(np.int64)).all()  # bit for bit
    return fast_reading_stops_at(gset, index, chunk) if gset.dosage_field != "GT" else 0


def _info_ids(path: Path) -> set[str]:
    import cyvcf2

    vcf = cyvcf2.VCF(str(path))
    ids = {h.info().get("ID") for h in vcf.header_iter() if h.type == "INFO"}
    vcf.close()
    return ids


@pytest.mark.parametrize("records", [DS_RECORDS, GP_RECORDS, DS_RECORDS + HTSLIB_RECORDS])
@pytest.mark.parametrize("chunk", [1, 3, 100])
def test_edge_cases_read_as_htslib_reads_them(tmp_path, records, chunk):
    header = HEADER if records is not GP_RECORDS else HEADER.replace(DS_HEADER, "")
    htslib_from = len(DS_RECORDS) if records[-1] in HTSLIB_RECORDS else None
    for path in write_all(tmp_path, "x", header + "\n".join(records) + "\n"):
        assert assert_same_reading(path, chunk) == htslib_from
        every_other = htslib_from if htslib_from is not None and htslib_from % 2 == 0 else None
        assert assert_same_reading(path, chunk, every=2) == every_other  # unwanted: skipped


def test_values_as_htslib_stores_them(tmp_path):
    """DS is float32-rounded as htslib stores it, haploid calls off the autosomes count twice
    (also where every call of a record is haploid), GP gives P(het) + 2 P(hom alt)."""
    path = write_all(tmp_path, "x", HEADER + "\n".join(DS_RECORDS) + "\n")[2]
    gset = dosage.open_vcf(path)
    (_, g), *_ = dosage.iter_vcf_dosages(gset, np.arange(gset.n_variants), 100)
    assert g[0, 1] == np.float64(np.float32(0.999)) and np.isnan(g[3, 0])
    assert g[0, 6] == 2 * np.float64(np.float32(0.7)) and g[1, 6] == np.float64(np.float32(0.9))
    np.testing.assert_array_equal(g[:, 7], 2 * np.float32([0.7, 0.1, 1, 0]))
    np.testing.assert_array_equal(g[:, 8], np.float32([0.7, 0.1, 1, 0]))  # no GT: as given
    assert gset.variants["id"].iloc[1] == "1:200:C:T"
    np.testing.assert_array_equal(
        gset.variants["info"].iloc[:6], [np.float32(0.912), 1, np.nan, np.nan, np.nan, 0.5]
    )


def test_uncommon_records_are_read_by_htslib_from_there_on(tmp_path, caplog):
    records = DS_RECORDS[:2] + HTSLIB_RECORDS + DS_RECORDS[2:]
    path = write_all(tmp_path, "x", HEADER + "\n".join(records) + "\n")[2]
    with caplog.at_level("INFO", logger="igs.io.dosage"):
        assert assert_same_reading(path, 2) == 2
    assert "record 2 read by htslib from here on" in caplog.text


def test_lines_longer_than_a_read(tmp_path, monkeypatch):
    """Records spanning many BGZF blocks and reads."""
    monkeypatch.setattr(vcf_text, "_READ_BYTES", 700)
    rng = np.random.default_rng(1)
    n = 400
    head = HEADER.split("#CHROM")[0] + "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\t"
    lines = [head + "\t".join(f"s{j}" for j in range(n))]
    for v in range(30):
        ds = np.round(rng.uniform(0, 2, n), rng.integers(0, 6))
        cells = [f"0/1:{x:g}" if j % 7 else "./.:." for j, x in enumerate(ds)]
        lines.append(
            f"{1 + v % 2}\t{v + 1}\trs{v}\tA\tC\t.\t.\tR2={ds[0]:g}\tGT:DS\t" + "\t".join(cells)
        )
    for path in write_all(tmp_path, "long", "\n".join(lines) + "\n"):
        assert assert_same_reading(path, 4, every=3) is None
        gset = dosage.open_vcf(path, threads=1)
        one, three = (
            list(dosage.iter_vcf_dosages(gset, np.arange(30), 4, threads=t)) for t in (1, 3)
        )
        for (i1, g1), (i3, g3) in zip(one, three, strict=True):
            np.testing.assert_array_equal(i1, i3)
            np.testing.assert_array_equal(g1, g3)


@pytest.mark.skipif(not PGS586.is_file(), reason="../shared/oracle 1000 Genomes VCF absent")
@pytest.mark.parametrize("field", ["DS", "GP"])
def test_1000g_vcf_as_dosages(tmp_path, field):
    """The 1000G 30x VCF (its first 800 samples; chrX haploid male calls), its GT turned into
    DS or GP with decimals of every length."""
    rng = np.random.default_rng(7)
    out, haploid_calls = [], 0
    with gzip.open(PGS586, "rt") as fh:
        for line in fh:
            if line.startswith("##FORMAT=<ID=GT"):
                out.append(line)
                number = "1" if field == "DS" else "G"
                out.append(f'##FORMAT=<ID={field},Number={number},Type=Float,Description="d">\n')
                continue
            cols = line.rstrip("\n").split("\t")[: 9 + 800]  # keeps the test quick
            if line.startswith("#"):
                out.append(line if line.startswith("##") else "\t".join(cols) + "\n")
                continue
            digits = int(rng.integers(0, 7))
            cells = []
            for gt in cols[9:]:
                alleles = gt.replace("|", "/").split("/")
                haploid_calls += len(alleles) == 1
                x = sum(a == "1" for a in alleles) + rng.uniform(-0.4, 0.4) * (digits > 0)
                x = min(max(x, 0.0), float(len(alleles)))
                if field == "DS":
                    cells.append(f"{gt}:{x:.{digits}f}")
                elif len(alleles) == 1:
                    cells.append(f"{gt}:{1 - x:.{digits}f},{x:.{digits}f}")
                else:
                    het = min(x, 2 - x) / 2
                    cells.append(
                        f"{gt}:{1 - het - x / 2:.{digits}f},{het:.{digits}f},{x / 2 - het / 2:.{digits}f}"
                    )
            out.append("\t".join([*cols[:8], f"GT:{field}", *cells]) + "\n")
    assert haploid_calls > 1000
    path = tmp_path / "g.vcf.gz"
    write_bgzf(path, "".join(out).encode(), block=65280)
    gset = dosage.open_vcf(path)
    assert gset.dosage_field == field and "X" in set(gset.variants["chrom"])
    assert assert_same_reading(path, 64) is None


@pytest.mark.skipif(not PGS586.is_file(), reason="../shared/oracle 1000 Genomes VCF absent")
def test_1000g_gt_vcf_variants(tmp_path):
    """GT-only VCFs: the variant table from the scanner, the dosages from htslib."""
    assert assert_same_reading(PGS586, 256) == 0


def test_bad_records_keep_htslib_errors(tmp_path):
    multi = DS_RECORDS[0].replace("\tG\t.", "\tG,T\t.")
    path = write_all(tmp_path, "multi", HEADER + "\n".join([DS_RECORDS[1], multi]) + "\n")[2]
    with pytest.raises(InputFormatError, match=r"multi\.vcf\.gz: variant 1:100 has 2 ALT alleles"):
        dosage.open_vcf(path)
    no_ds = DS_RECORDS[0].replace("GT:DS\t0/0:0\t0/1:1\t1/1:2\t./.:.", "GT\t0/0\t0/1\t1/1\t./.")
    path = write_all(tmp_path, "nods", HEADER + "\n".join([DS_RECORDS[1], no_ds]) + "\n")[2]
    gset = dosage.open_vcf(path)
    with pytest.raises(InputFormatError, match=r"nods\.vcf\.gz: variant 1:100 has no FORMAT/DS"):
        list(dosage.iter_vcf_dosages(gset, np.arange(2), 10))
    bad = DS_RECORDS[0].replace("0/1:1", "0/1:1x")
    path = write_all(tmp_path, "bad", HEADER + bad + "\n")[2]
    gset = dosage.open_vcf(path)
    with pytest.raises(InputFormatError, match=r"bad\.vcf\.gz: a record cannot be parsed as VCF"):
        list(dosage.iter_vcf_dosages(gset, np.arange(1), 10))


def test_every_call_haploid_counts_twice_as_in_plink2(tmp_path):
    """A chrX record where every call is haploid (cyvcf2 gives no vector end then): DS counts
    twice in both readers, as plink2 --vcf dosage=DS stores it (its --export A is REF count)."""
    records = [
        "X\t3000000\tv1\tA\tG\t.\t.\t.\tGT:DS\t1:0.7\t0:0.2\t1:1\t0:0",
        "X\t3000001\tv2\tA\tG\t.\t.\t.\tGT:DS\t1:0.7\t0/1:0.2\t1:0.9\t0/0:0.01",
    ]
    path = write_all(tmp_path, "x", HEADER + "\n".join(records) + "\n")[0]
    run_tool([require_tool("plink2"), "--vcf", str(path), "dosage=DS", "--export", "A",
              "--out", str(tmp_path / "p")], tmp_path)  # fmt: skip
    ref_count = pd.read_csv(tmp_path / "p.raw", sep="\t")[["v1_A", "v2_A"]].to_numpy()
    gset = dosage.open_vcf(path)
    (_, ours), *_ = dosage.iter_vcf_dosages(gset, np.arange(2), 10)
    (_, htslib), *_ = htslib_reading(gset, np.arange(2), 10)
    np.testing.assert_allclose(ours, 2 - ref_count, rtol=0, atol=1e-4)  # plink2 keeps 1/16384
    np.testing.assert_array_equal(ours, htslib)
    assert ours[0, 0] == 2 * np.float64(np.float32(0.7))


def test_bcf_is_left_to_htslib(tmp_path):
    """A BCF is BGZF too: not read as text, htslib reads it as before."""
    import cyvcf2

    vcf = write_all(tmp_path, "x", HEADER + "\n".join(DS_RECORDS) + "\n")[2]
    bcf = tmp_path / "x.bcf"
    reader = cyvcf2.VCF(str(vcf))
    writer = cyvcf2.Writer(str(bcf), reader, mode="wb")
    for rec in reader:
        writer.write_record(rec)
    writer.close()
    reader.close()
    assert vcf_text.is_bgzf(bcf)
    with pytest.raises(ValueError, match="not VCF text"):
        next(vcf_text.iter_line_chunks(bcf))
    gset = dosage.open_vcf(bcf)
    assert gset.n_variants == len(DS_RECORDS) and gset.dosage_field == "DS"
    (_, g), *_ = dosage.iter_vcf_dosages(gset, np.arange(gset.n_variants), 100)
    (_, ref), *_ = htslib_reading(gset, np.arange(gset.n_variants), 100)
    np.testing.assert_array_equal(g, ref)
