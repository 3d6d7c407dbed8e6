"""Fast, deterministic reading and writing of large tab-separated tables (plain or gzip).

Match reports and score tables can have millions of rows; pandas' CSV writer formats every
cell in Python. These helpers go through Arrow's C++ CSV reader and writer instead. Floats
are written in their shortest round-trip form and gzip members carry no timestamp, so the
same table always gives the same bytes.
"""

from __future__ import annotations

import gzip
import os
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

# Fast compression: these tables are intermediate results, read back by igs.
GZIP_LEVEL = 1


def write_tsv(
    df: pd.DataFrame, path: str | os.PathLike[str], *, gzipped: bool | None = None
) -> None:
    """Write ``df`` without its index; gzip when ``gzipped`` (default: the name ends in .gz)."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    path = Path(path)
    gzipped = path.name.endswith(".gz") if gzipped is None else gzipped
    table = pa.Table.from_pandas(df, preserve_index=False)
    options = pacsv.WriteOptions(delimiter="\t", quoting_style="needed")
    if gzipped:
        with (
            open(path, "wb") as raw,
            gzip.GzipFile(
                fileobj=raw, mode="wb", compresslevel=GZIP_LEVEL, mtime=0, filename=""
            ) as fh,
        ):
            pacsv.write_csv(table, fh, write_options=options)
    else:
        pacsv.write_csv(table, str(path), write_options=options)


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
    table = pacsv.read_csv(
        str(path), parse_options=pacsv.ParseOptions(delimiter="\t"), convert_options=convert
    )
    return table.to_pandas(strings_to_categorical=categorical)
