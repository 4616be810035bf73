"""Append chunks of a table to one Parquet file with a fixed schema."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from fjdp.synth.dates import MISSING


def _is_date(name: str) -> bool:
    return "date" in name or name in ("dob", "dod")


def to_arrow(df: pd.DataFrame) -> pa.Table:
    """Dates (int days with a MISSING sentinel) to date32; text to string; the rest as is."""
    arrays, fields = [], []
    for name in df.columns:
        col = df[name].to_numpy()
        if _is_date(name) and col.dtype.kind == "i":
            mask = col == MISSING
            arr = pa.array(np.where(mask, 0, col).astype(np.int32), mask=mask).cast(pa.date32())
        elif col.dtype == object:
            arr = pa.array(col, type=pa.string(), from_pandas=True)
        elif col.dtype.kind == "b":
            arr = pa.array(col, type=pa.bool_())
        elif col.dtype.kind in "iu":
            arr = pa.array(col.astype(np.int64), type=pa.int64())
        else:
            arr = pa.array(col, type=pa.float64())
        arrays.append(arr)
        fields.append(pa.field(name, arr.type))
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields))


class TableWriter:
    """One Parquet file written chunk by chunk; the schema is fixed by the first chunk."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.rows = 0
        self._writer: pq.ParquetWriter | None = None

    def write(self, df: pd.DataFrame) -> None:
        if df.empty and not len(df.columns):
            return
        table = to_arrow(df)
        if self._writer is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._writer = pq.ParquetWriter(self.path, table.schema, compression="zstd")
        else:
            table = table.cast(self._writer.schema)
        self._writer.write_table(table, row_group_size=1_000_000)
        self.rows += len(df)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None
