"""Provider, TTP and databank zones for tests, and a split whose two halves are opened."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from fjdp.flow import Zones, set_up_zones
from fjdp.provider.split import SplitResult, split_extract
from fjdp.specs import DatasetSpec, load_spec
from fjdp.transfer import read_bundle
from fjdp.types import Zone

ACTOR = "tester"


def make_zones(root: Path) -> Zones:
    """The three zones under ``root``, each trusting the cards it exchanges files with."""
    return set_up_zones(Path(root), ACTOR)


def split_and_open(
    zones: Zones,
    spec_name_or_path: str | Path | DatasetSpec,
    extract_path: Path,
    tmp: Path,
    *,
    out: Path | None = None,
    encoding: str | None = None,
    delimiter: str | None = None,
) -> tuple[SplitResult, pa.Table, dict[str, pa.Table]]:
    """Split ``extract_path`` at the provider (bundles under ``out``, default ``tmp/outbox``),
    open File 1 with the TTP's keys and File 2 with the databank's, and read them.

    Returns the split result, File 1 as one table and File 2 as ``{table name: table}``.
    """
    tmp = Path(tmp)
    spec = (
        spec_name_or_path
        if isinstance(spec_name_or_path, DatasetSpec)
        else load_spec(spec_name_or_path)
    )
    result = split_extract(
        spec,
        Path(extract_path),
        zone=zones.provider,
        ttp=zones.provider.trusted(Zone.TTP),
        databank=zones.provider.trusted(Zone.DATABANK),
        out=out if out is not None else tmp / "outbox",
        actor=ACTOR,
        encoding=encoding,
        delimiter=delimiter,
        again=True,  # tests split the same small extracts many times on purpose
    )
    file1_dir = tmp / "opened" / result.extract_id / "file1"
    file2_dir = tmp / "opened" / result.extract_id / "file2"
    read_bundle(result.to_ttp, zones.ttp, file1_dir)
    read_bundle(result.to_databank, zones.databank, file2_dir)
    file1 = pq.read_table(file1_dir / "file1.parquet")
    file2 = {p.stem: pq.read_table(p) for p in sorted(file2_dir.glob("*.parquet"))}
    return result, file1, file2
