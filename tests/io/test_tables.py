"""igs.io.tables writers against pandas' own writer (the format users read)."""

from __future__ import annotations

import gzip

import numpy as np
import pandas as pd
import pytest

from igs.io.plink import read_bim, write_bim
from igs.io.tables import deterministic_gzip, write_plain_tsv


def _table(n: int = 1000) -> pd.DataFrame:
    rng = np.random.default_rng(3)
    df = pd.DataFrame(
        {
            "chrom": pd.array(rng.choice(["1", "2", "X"], n), dtype="string[pyarrow]"),
            "id": [f"rs{i}" for i in range(n)],
            "pos": rng.integers(1, 10**8, n),
            "freq": rng.random(n),
            "p": 10.0 ** -rng.uniform(0, 300, n),
            "used": rng.random(n) < 0.5,
            "fail": rng.choice(["", "maf", "hwe"], n),
            "group": pd.Categorical(rng.choice(["a", "b"], n)),
        }
    )
    df.loc[::7, "freq"] = np.nan
    df.loc[3, "p"] = 1.0
    return df


@pytest.mark.parametrize("batch_rows", [1, 64, 1 << 16])
def test_plain_tsv_reads_back_as_pandas_to_csv(tmp_path, batch_rows):
    df = _table()
    write_plain_tsv(df, tmp_path / "a.tsv.gz", batch_rows=batch_rows)
    df.to_csv(tmp_path / "b.tsv", sep="\t", index=False)
    read = {
        "keep_default_na": False, "na_values": [""], "dtype": {"chrom": str, "fail": str},
        "float_precision": "round_trip",
    }  # fmt: skip
    ours = pd.read_csv(tmp_path / "a.tsv.gz", sep="\t", **read)
    theirs = pd.read_csv(tmp_path / "b.tsv", sep="\t", **read)
    pd.testing.assert_frame_equal(ours, theirs, check_exact=True)
    np.testing.assert_array_equal(ours["p"], df["p"])  # shortest round-trip text
    lines = gzip.decompress((tmp_path / "a.tsv.gz").read_bytes()).decode().splitlines()
    assert lines[0] == "\t".join(df.columns)  # header and text unquoted, booleans as pandas
    assert lines[1].split("\t")[5] in ("True", "False") and '"' not in "".join(lines)
    assert len(lines) == len(df) + 1


def test_plain_tsv_quotes_text_that_needs_it_as_pandas_does(tmp_path):
    df = pd.DataFrame({"id": ['a"b', "c\td", "e"], "x": [1.5, 2.0, np.nan]})
    write_plain_tsv(df, tmp_path / "a.tsv", gzipped=False)
    assert (tmp_path / "a.tsv").read_text() == df.to_csv(sep="\t", index=False)


def test_plain_tsv_of_no_rows_is_its_header(tmp_path):
    write_plain_tsv(_table().iloc[:0], tmp_path / "a.tsv", gzipped=False)
    assert (tmp_path / "a.tsv").read_text() == "\t".join(_table().columns) + "\n"


@pytest.mark.parametrize("level", [1, 6])
def test_gzip_has_no_name_or_time_and_is_repeatable(tmp_path, level):
    for name in ("one.gz", "two.gz"):
        with deterministic_gzip(tmp_path / name, level) as fh:
            fh.write(b"x\t1\n" * 1000)
    one, two = (tmp_path / "one.gz").read_bytes(), (tmp_path / "two.gz").read_bytes()
    assert one == two and one[4:8] == b"\0\0\0\0"  # MTIME
    assert gzip.decompress(one) == b"x\t1\n" * 1000


def test_bim_written_by_arrow_equals_pandas(tmp_path):
    v = pd.DataFrame(
        {
            "chrom": ["1", "X", "22"], "id": ["rs1", 'odd"id', "rs3"], "cm": [0.0, 1.25, 0.0],
            "pos": [5, 7, 9], "a1": ["A", "C", "AT"], "a2": ["G", "T", "A"],
        }
    )  # fmt: skip
    for frame in (v, v.assign(id=["rs1", "rs2", "rs3"]), v.assign(cm=0.0)):
        write_bim(tmp_path / "a.bim", frame)
        expected = frame.assign(cm=[f"{x:.15g}" for x in frame["cm"]])
        assert (tmp_path / "a.bim").read_text() == expected.to_csv(
            sep="\t", header=False, index=False
        )
        back = read_bim(tmp_path / "a.bim")
        assert back["pos"].tolist() == frame["pos"].tolist()


def test_bim_of_some_rows_in_batches(tmp_path):
    n = 70_000  # more than one batch of 65,536 rows
    v = pd.DataFrame(
        {
            "chrom": "1", "id": [f"rs{i}" for i in range(n)], "cm": 0.0, "pos": np.arange(n) + 1,
            "a1": "A", "a2": "G",
        }
    )  # fmt: skip
    rows = np.flatnonzero(np.arange(n) % 3 != 0)
    write_bim(tmp_path / "a.bim", v, rows=rows)
    back = read_bim(tmp_path / "a.bim")
    assert back["id"].tolist() == v["id"].iloc[rows].tolist()
    assert (tmp_path / "a.bim").read_text().splitlines()[0] == "1\trs1\t0\t2\tA\tG"


def test_memory_helpers_keep_arrow_and_malloc_working():
    """After keep_resident_memory_low (Arrow on malloc, one glibc arena) and
    release_freed_memory, Arrow tables and threads that allocate still work."""
    import threading

    import pyarrow as pa

    from igs.io.memory import keep_resident_memory_low, release_freed_memory

    before = pa.default_memory_pool()
    try:
        keep_resident_memory_low()
        assert pa.default_memory_pool().backend_name == "system"
        sums = []
        threads = [
            threading.Thread(target=lambda: sums.append(int(np.ones(1 << 20).sum())))
            for _ in range(4)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sums == [1 << 20] * 4
        release_freed_memory()
        assert pa.table({"x": list(range(1000))}).num_rows == 1000
    finally:
        pa.set_memory_pool(before)
        from igs.io.memory import _M_ARENA_MAX, _libc_function

        if _libc_function("mallopt") is not None:
            _libc_function("mallopt")(_M_ARENA_MAX, 0)  # glibc's default again
