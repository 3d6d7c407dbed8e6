"""Fast, deterministic reading and writing of large tab-separated tables (plain or gzip).

Match reports and score tables can have millions of rows; pandas' CSV writer formats every
cell in Python. These helpers go through Arrow's C++ CSV reader and writer instead. Floats
are written in their shortest round-trip form and gzip members carry no timestamp, so the
same table always gives the same bytes.
"""

from __future__ import annotations

import contextlib
import gzip
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pandas as pd

from igs.errors import InputFormatError

# Fast compression: these tables are intermediate results, read back by igs.
GZIP_LEVEL = 1


@contextlib.contextmanager
def deterministic_gzip(path: str | os.PathLike[str], compresslevel: int = 9) -> Iterator[BinaryIO]:
    """A binary handle writing one gzip member whose header has no file name and no timestamp.

    Python's and pandas' gzip writers store the (temporary) file name and the time, so two
    identical runs would otherwise give different bytes. Level 1 (:data:`GZIP_LEVEL`) is
    ISA-L's fastest level (3x faster than zlib's level 1 at a similar size); 2-9 are zlib's.
    """
    if compresslevel <= 1:
        from isal.igzip import IGzipFile as Writer
    else:
        Writer = gzip.GzipFile
    with (
        open(path, "wb") as raw,
        Writer(fileobj=raw, mode="wb", compresslevel=compresslevel, mtime=0, filename="") as fh,
    ):
        yield fh


def write_csv_gz(
    df: pd.DataFrame, path: str | os.PathLike[str], *, compresslevel: int = 9, **to_csv: object
) -> None:
    """``df.to_csv(path, index=False, **to_csv)`` gzipped with :func:`deterministic_gzip`."""
    with deterministic_gzip(path, compresslevel) as fh:
        df.to_csv(fh, index=False, **to_csv)


def write_plain_tsv(
    df: pd.DataFrame,
    path: str | os.PathLike[str],
    *,
    gzipped: bool | None = None,
    header: bool = True,
    rows: np.ndarray | None = None,
    batch_rows: int = 1 << 16,
) -> None:
    """Write ``df`` (or its ``rows``, positions) as pandas' ``to_csv(sep="\\t", index=False,
    header=header)`` would (text unquoted, booleans True/False, missing values empty), but
    through Arrow, ``batch_rows`` rows at a time, and gzipped at :data:`GZIP_LEVEL` when
    ``gzipped`` (default: the name ends in .gz).

    A million-row table takes ~1 s instead of pandas' ~6 s, and memory holds one batch (no
    copy of ``df`` or of its ``rows``). Floats are in shortest round-trip form (``1`` for 1.0,
    ``1e-07``). Text holding a tab, newline or quote needs quoting, which only pandas does:
    such a table is written by pandas.
    """
    import pyarrow.csv as pacsv

    path = Path(path)
    gzipped = path.name.endswith(".gz") if gzipped is None else gzipped
    rows = np.arange(len(df)) if rows is None else np.asarray(rows)
    options = pacsv.WriteOptions(include_header=False, delimiter="\t", quoting_style="none")
    with (
        deterministic_gzip(path, GZIP_LEVEL) if gzipped else open(path, "wb") as fh,
        contextlib.ExitStack() as stack,
    ):
        if header:
            fh.write(("\t".join(map(str, df.columns)) + "\n").encode())
        writer, schema = None, None
        for start in range(0, len(rows), batch_rows):
            table = _plain_batch(df.iloc[rows[start : start + batch_rows]])
            if table is None:
                break
            if writer is None:
                schema = table.schema
                writer = stack.enter_context(pacsv.CSVWriter(fh, schema, write_options=options))
            writer.write_table(table.cast(schema))
        else:
            return
    with deterministic_gzip(path, GZIP_LEVEL) if gzipped else open(path, "wb") as fh:
        df.iloc[rows].to_csv(fh, sep="\t", index=False, header=header)


def _plain_batch(df: pd.DataFrame):  # -> pa.Table | None
    """Arrow columns of ``df`` as :func:`write_plain_tsv` writes them, or None when some text
    holds a tab, newline or quote."""
    import pyarrow as pa
    import pyarrow.compute as pc

    columns = {}
    for name, values in df.items():
        array = pa.array(values, from_pandas=True)
        if pa.types.is_dictionary(array.type):
            array = array.cast(array.type.value_type)
        if pa.types.is_boolean(array.type):
            array = pc.if_else(array, "True", "False")
        elif pa.types.is_null(array.type):
            array = array.cast(pa.string())
        elif (pa.types.is_string(array.type) or pa.types.is_large_string(array.type)) and pc.any(
            pc.match_substring_regex(array, '[\t\n\r"]')
        ).as_py():
            return None
        columns[str(name)] = array
    return pa.table(columns)


def write_tsv(
    df: pd.DataFrame, path: str | os.PathLike[str], *, gzipped: bool | None = None
) -> None:
    """Write ``df`` without its index; gzip when ``gzipped`` (default: the name ends in .gz)."""
    with TsvWriter(path, gzipped=gzipped) as out:
        out.write(df)


class TsvWriter:
    """Write a large table in parts with bytes identical to :func:`write_tsv` of the whole.

    ``write`` takes DataFrames with the same columns; the first fixes each column's type
    (an all-missing column is text), so memory holds one part, not the table.
    """

    def __init__(self, path: str | os.PathLike[str], *, gzipped: bool | None = None) -> None:
        self._path = Path(path)
        self._gzipped = self._path.name.endswith(".gz") if gzipped is None else gzipped
        self._stack = contextlib.ExitStack()
        self._writer = None
        self._schema = None

    def __enter__(self) -> TsvWriter:
        return self

    def write(self, df: pd.DataFrame) -> None:
        import pyarrow as pa
        import pyarrow.csv as pacsv

        table = pa.Table.from_pandas(df, preserve_index=False)
        if self._writer is None:
            fields = [
                pa.field(f.name, pa.string()) if pa.types.is_null(f.type) else f
                for f in table.schema
            ]
            self._schema = pa.schema(fields)
            sink = (
                self._stack.enter_context(deterministic_gzip(self._path, GZIP_LEVEL))
                if self._gzipped
                else self._stack.enter_context(open(self._path, "wb"))  # noqa: SIM115 - closed by the stack
            )
            options = pacsv.WriteOptions(delimiter="\t", quoting_style="needed")
            self._writer = self._stack.enter_context(
                pacsv.CSVWriter(sink, self._schema, write_options=options)
            )
        self._writer.write_table(table.cast(self._schema))

    def __exit__(self, *exc: object) -> None:
        self._stack.close()


def read_tsv(
    path: str | os.PathLike[str],
    *,
    columns: Sequence[str] | None = None,
    dtypes: dict[str, str] | None = None,
    categorical: bool = False,
) -> pd.DataFrame:
    """Read a table written by :func:`write_tsv` (or any TSV with a header line).

    Empty cells are missing values; ``columns`` limits what is read; ``dtypes`` maps a column
    to an Arrow type name (e.g. ``"string"``, ``"int64"``, ``"float64"``); ``categorical``
    returns text columns as pandas categoricals (far less memory for repetitive labels).
    """
    import pyarrow as pa
    import pyarrow.csv as pacsv

    convert = pacsv.ConvertOptions(
        include_columns=list(columns) if columns is not None else None,
        column_types={k: pa.type_for_alias(v) for k, v in (dtypes or {}).items()},
        strings_can_be_null=True,
        null_values=[""],
        true_values=["True", "true"],
        false_values=["False", "false"],
    )
    try:
        table = pacsv.read_csv(
            str(path), parse_options=pacsv.ParseOptions(delimiter="\t"), convert_options=convert
        )
    except FileNotFoundError as exc:
        raise InputFormatError(f"{path}: file not found.") from exc
    except pa.ArrowKeyError as exc:  # a requested column is absent
        header = _header(Path(path))
        missing = [c for c in columns or () if c not in header]
        raise InputFormatError(
            f"{path}: missing column(s) {', '.join(missing)}; found {', '.join(header) or 'none'}. "
            "Was it written by the igs step that makes it?"
        ) from exc
    except pa.ArrowInvalid as exc:
        raise InputFormatError(f"{path}: cannot be read as a tab-separated table ({exc}).") from exc
    return table.to_pandas(strings_to_categorical=categorical)


def _header(path: Path) -> list[str]:
    """The column names on the first line of a (possibly gzipped) TSV."""
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rt") as fh:
        return fh.readline().rstrip("\n").split("\t")
