"""One call from a definition file to its rows, on a workspace or on dummy data.

``fjdp analysis run`` and ``fjdp analysis dummy`` are thin wrappers over these.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from fjdp.analysis import model as m
from fjdp.analysis.dummy import DEFAULT_PEOPLE, write_dummy
from fjdp.analysis.engines import Engine, Workspace, open_workspace, run
from fjdp.analysis.loader import load_definition
from fjdp.analysis.tables import Source, spec_sources
from fjdp.specs import DatasetSpec, all_specs, load_spec

# Dummy data is made again with more people when a definition's population is empty.
DUMMY_TRIES = 3


@dataclass(frozen=True)
class Result:
    dataset: m.Dataset
    rows: pa.Table
    workspace: Path
    dummy: bool
    people: int | None = None


def _schema(
    workspace: Path | None,
) -> tuple[list[DatasetSpec], dict[str, Source], Workspace | None]:
    if workspace is None:
        specs = all_specs()
        return specs, spec_sources(specs), None
    ws = open_workspace(workspace)
    return [load_spec(d) for d in ws.datasets], ws.sources(), ws


def make_dummy(
    out: Path,
    *,
    workspace: Path | None = None,
    definition: Path | None = None,
    people: int = DEFAULT_PEOPLE,
    seed: int = 1,
    force: bool = False,
    say: Callable[[str], None] = lambda _m: None,
) -> tuple[dict[str, int], int | None]:
    """Dummy tables shaped as ``workspace`` (or every shipped spec) under ``out``; with a
    definition, made for it, and made again bigger until its population is not empty.
    Returns rows per view and the population's size (None without a definition)."""
    _specs, srcs, _ws = _schema(workspace)
    dataset = load_definition(definition, srcs, say=say) if definition is not None else None
    return _dummy_for(out, workspace, dataset, people=people, seed=seed, force=force, say=say)


def _dummy_for(
    out: Path,
    workspace: Path | None,
    dataset: m.Dataset | None,
    *,
    people: int,
    seed: int,
    force: bool,
    say: Callable[[str], None],
) -> tuple[dict[str, int], int | None]:
    specs, _srcs, ws = _schema(workspace)
    present = ws.columns if ws is not None else None
    rows: dict[str, int] = {}
    size: int | None = None
    for attempt in range(DUMMY_TRIES):
        rows = write_dummy(
            out,
            specs,
            present,
            dataset=dataset,
            people=people * 4**attempt,
            seed=seed + attempt,
            force=force or attempt > 0,
        )
        if dataset is None:
            break
        size = run(dataset, open_workspace(out)).num_rows
        if size:
            break
        say(f"the population is empty on {people * 4**attempt} dummy people; making more")
    return rows, size


def run_definition(
    definition: Path,
    *,
    workspace: Path | None = None,
    dummy: bool = False,
    dummy_dir: Path | None = None,
    engine: Engine = Engine.DUCKDB,
    links: str | None = None,
    people: int = DEFAULT_PEOPLE,
    say: Callable[[str], None] = lambda _m: None,
) -> Result:
    """Run ``definition`` on ``workspace``, or on dummy data shaped as it (``dummy``;
    shaped as every shipped spec without a workspace)."""
    if not dummy:
        if workspace is None:
            raise ValueError("a workspace is needed unless dummy data is asked for")
        ws = open_workspace(workspace)
        ds = load_definition(definition, ws.sources(), say=say)
        return Result(ds, run(ds, ws, engine=engine, links=links), ws.path, ws.dummy)
    # The definition sees the tables of the workspace the dummy data is shaped as, so
    # it is loaded once, before the data is made for it.
    _specs, srcs, _ws = _schema(workspace)
    ds = load_definition(definition, srcs, say=say)
    with tempfile.TemporaryDirectory(prefix="fjdp-dummy-") as tmp:
        out = dummy_dir or Path(tmp) / "dummy"
        _dummy_for(out, workspace, ds, people=people, seed=1, force=True, say=say)
        ws = open_workspace(out)
        return Result(ds, run(ds, ws, engine=engine, links=links), out, True, people)
