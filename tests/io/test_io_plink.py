"""PLINK reading/writing: hand-computed packing, round trips, and every malformed input."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from igs.errors import InputFormatError
from igs.inputs import summarise_genotypes
from igs.io import plink
from tests.conftest import write_fileset

G = np.array([[0, 1, 2, -9, 1], [2, 2, 0, 0, -9], [1, 1, 1, 1, 1]], dtype=np.int8)


def test_pack_bed_codes_hand_computed():
    # Samples 0..3 of variant 0: A1 counts 0,1,2,missing -> codes 11,10,00,01 (low bits first)
    # byte = 0b01_00_10_11 = 0x4B; sample 4 (count 1 -> 10) in the next byte, padded with 00 -> 0x02
    packed = plink.pack_bed_codes(G[:1])
    assert packed.tolist() == [[0x4B, 0x02]]


@pytest.mark.parametrize("fmt", ["bed", "pgen"])
def test_round_trip_reads_counts_and_missing(tmp_path, fmt):
    write_fileset(tmp_path / "x", G, fmt=fmt)
    gset = plink.open_genotypes(tmp_path / "x", fmt)
    chunks = list(plink.iter_genotype_chunks(gset, chunk_variants=2))
    assert [(a, b) for a, b, _ in chunks] == [(0, 2), (2, 3)]
    got = np.concatenate([c for _, _, c in chunks], axis=1)
    want = np.where(G.T == -9, np.nan, G.T)
    np.testing.assert_array_equal(got, want)


def test_bed_matches_bed_reader_on_simulated_cohort(small_cohort):
    from bed_reader import open_bed

    gset = plink.open_genotypes(small_cohort / "genotypes", "bed")
    ours = np.concatenate(
        [c for *_, c in plink.iter_genotype_chunks(gset, chunk_variants=999)], axis=1
    )
    with open_bed(small_cohort / "genotypes.bed") as bed:
        theirs = bed.read(dtype=np.float32)
    np.testing.assert_array_equal(ours, theirs)
    pset = plink.open_genotypes(small_cohort / "genotypes", "pgen")
    from_pgen = np.concatenate(
        [c for *_, c in plink.iter_genotype_chunks(pset, chunk_variants=999)], axis=1
    )
    np.testing.assert_array_equal(from_pgen, theirs)


def test_truncated_bed_names_file_and_counts(tmp_path):
    write_fileset(tmp_path / "x", G)
    data = (tmp_path / "x.bed").read_bytes()
    (tmp_path / "x.bed").write_bytes(data[:-1])
    with pytest.raises(InputFormatError, match=r"x\.bed: size 8 bytes, expected 9 .*truncated"):
        plink.open_genotypes(tmp_path / "x")


def test_wrong_magic(tmp_path):
    write_fileset(tmp_path / "x", G)
    data = bytearray((tmp_path / "x.bed").read_bytes())
    data[:3] = b"\x00\x00\x00"
    (tmp_path / "x.bed").write_bytes(bytes(data))
    with pytest.raises(InputFormatError, match=r"x\.bed: not a variant-major PLINK 1 \.bed file"):
        plink.open_genotypes(tmp_path / "x")


def test_bim_fam_row_mismatch(tmp_path):
    write_fileset(tmp_path / "x", G)
    lines = (tmp_path / "x.bim").read_text().splitlines()
    (tmp_path / "x.bim").write_text("\n".join(lines[:-1]) + "\n")
    with pytest.raises(InputFormatError, match=r"2 variants \(x\.bim\) x 5 samples \(x\.fam\)"):
        plink.open_genotypes(tmp_path / "x")


def test_duplicate_sample_ids(tmp_path):
    write_fileset(tmp_path / "x", G, iids=["a", "b", "a", "c", "d"])
    with pytest.raises(
        InputFormatError, match=r"x\.fam: 1 duplicate sample ID \(IID\)\(s\), e\.g\. a"
    ):
        plink.open_genotypes(tmp_path / "x")


def test_duplicate_variant_ids(tmp_path):
    write_fileset(tmp_path / "x", G, ids=["rs1", "rs2", "rs1"])
    with pytest.raises(InputFormatError, match=r"x\.bim: 1 duplicate variant ID\(s\), e\.g\. rs1"):
        plink.open_genotypes(tmp_path / "x")


def test_missing_companion_file(tmp_path):
    write_fileset(tmp_path / "x", G)
    (tmp_path / "x.fam").unlink()
    with pytest.raises(InputFormatError, match=r"x\.fam: file not found"):
        plink.open_genotypes(tmp_path / "x")


def test_non_integer_position(tmp_path):
    write_fileset(tmp_path / "x", G)
    text = (tmp_path / "x.bim").read_text().replace("\t200\t", "\t2e2x\t")
    (tmp_path / "x.bim").write_text(text)
    with pytest.raises(
        InputFormatError, match=r"x\.bim: non-integer base-pair position .*'2e2x' on data row 2"
    ):
        plink.open_genotypes(tmp_path / "x")


def test_wrong_column_count(tmp_path):
    write_fileset(tmp_path / "x", G)
    (tmp_path / "x.fam").write_text("a b\nc d\n")
    with pytest.raises(
        InputFormatError, match=r"x\.fam: expected 6 whitespace-separated columns, found 2"
    ):
        plink.open_genotypes(tmp_path / "x")


def test_pgen_count_mismatch(tmp_path):
    write_fileset(tmp_path / "x", G, fmt="pgen")
    lines = (tmp_path / "x.psam").read_text().splitlines()
    (tmp_path / "x.psam").write_text("\n".join(lines[:-1]) + "\n")
    with pytest.raises(
        InputFormatError,
        match=r"x\.pgen: holds 3 variants x 5 samples but .* 3 variants x 4 samples",
    ):
        plink.open_genotypes(tmp_path / "x", "pgen")


def test_all_missing_variant_is_an_error(tmp_path):
    g = G.copy()
    g[1] = -9
    write_fileset(tmp_path / "x", g)
    with pytest.raises(
        InputFormatError, match=r"1 variant\(s\) have no called genotype in any sample, e\.g\. rs1"
    ):
        summarise_genotypes(tmp_path / "x")


def test_summary_counts(small_cohort, small_truth):
    s = summarise_genotypes(small_cohort / "genotypes")
    assert s["n_samples"] == small_truth["genotypes"]["n_samples"]
    assert s["n_variants"] == small_truth["genotypes"]["n_variants"]
    assert sum(s["variants_per_chromosome"].values()) == s["n_variants"]
    assert 0.99 < s["overall_call_rate"] < 1.0


def test_cli_check_leaves_no_output_on_bad_input(tmp_path):
    from click.testing import CliRunner

    from igs.cli import cli

    write_fileset(tmp_path / "x", G)
    shutil.copy(tmp_path / "x.bed", tmp_path / "y.bed")
    (tmp_path / "x.bed").write_bytes((tmp_path / "x.bed").read_bytes()[:-2])
    out = tmp_path / "summary.json"
    result = CliRunner().invoke(
        cli, ["inputs", "check", "--genotypes", str(tmp_path / "x"), "--out", str(out)]
    )
    assert isinstance(result.exception, InputFormatError)
    assert not out.exists()
    assert not list(tmp_path.glob(".summary.json*"))
