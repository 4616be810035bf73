"""The query graph to and from JSON: what a definition's process hands back.

The graph is written as a list of nodes, each once, children before parents, with
references by position, so a shared sub-graph stays shared and the text stays small.
Reading accepts only the query model's own node types and rebuilds each through its
constructor, which validates it again: whatever the definition's process printed, what
comes back is a valid graph or an error, never an object of another kind.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from enum import StrEnum
from typing import Any

from fjdp.analysis import model as m
from fjdp.errors import InputError

FORMAT = "fjdp-dataset-definition/1"

NODES: dict[str, type] = {
    cls.__name__: cls
    for cls in (
        m.ColumnSchema,
        m.TableSchema,
        m.SelectTable,
        m.Filter,
        m.Sort,
        m.PickOne,
        m.Column,
        m.Value,
        m.Function,
        m.IsIn,
        m.DateShift,
        m.DateDiff,
        m.Case,
        m.AggregateFrame,
        m.AggregateSeries,
        m.Dataset,
    )
}
ENUMS: dict[str, type[StrEnum]] = {
    cls.__name__: cls for cls in (m.Type, m.Kind, m.DateUnit, m.Op, m.Position, m.Aggregate)
}


def dumps(dataset: m.Dataset) -> str:
    nodes: list[dict[str, Any]] = []
    index: dict[int, int] = {}
    keep: list[object] = []  # keeps ids stable while writing

    def enc(v: object) -> object:
        if dataclasses.is_dataclass(v) and not isinstance(v, type):
            return {"ref": node(v)}
        if isinstance(v, StrEnum):
            return {"enum": type(v).__name__, "value": v.value}
        if isinstance(v, tuple):
            return {"tuple": [enc(x) for x in v]}
        if isinstance(v, dt.date):
            return {"date": v.isoformat()}
        if v is None or isinstance(v, bool | int | float | str):
            return v
        raise TypeError(f"cannot write {type(v).__name__} in a query graph")

    def node(n: object) -> int:
        if id(n) in index:
            return index[id(n)]
        fields = {
            f.name: enc(getattr(n, f.name))
            for f in dataclasses.fields(n)  # type: ignore[arg-type]
            if f.init
        }
        keep.append(n)
        index[id(n)] = len(nodes)
        nodes.append({"node": type(n).__name__, **fields})
        return index[id(n)]

    root = node(dataset)
    return json.dumps({"format": FORMAT, "nodes": nodes, "root": root}, separators=(",", ":"))


def loads(text: str, *, where: str = "the definition's output") -> m.Dataset:
    """A validated :class:`~fjdp.analysis.model.Dataset` from ``text``, or an error."""

    def bad(why: str) -> InputError:
        return InputError(f"not a dataset definition: {why}", where=where)

    try:
        doc = json.loads(text)
    except (json.JSONDecodeError, RecursionError):
        raise bad("the text is not JSON") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise bad(f"the text does not say format {FORMAT}")
    raw = doc.get("nodes")
    if not isinstance(raw, list):
        raise bad("no node list")
    built: list[object] = []

    def dec(v: object) -> object:
        if isinstance(v, dict):
            if set(v) == {"ref"}:
                i = v["ref"]
                if not isinstance(i, int) or isinstance(i, bool) or not 0 <= i < len(built):
                    raise bad(f"a reference to node {i!r}, which is not written before it")
                return built[i]
            if set(v) == {"tuple"} and isinstance(v["tuple"], list):
                return tuple(dec(x) for x in v["tuple"])
            if set(v) == {"date"} and isinstance(v["date"], str):
                try:
                    return dt.date.fromisoformat(v["date"])
                except ValueError:
                    raise bad(f"{v['date']!r} is not a date") from None
            if set(v) == {"enum", "value"} and isinstance(v["enum"], str) and v["enum"] in ENUMS:
                try:
                    return ENUMS[v["enum"]](v["value"])
                except ValueError:
                    raise bad(f"{v['value']!r} is not a {v['enum']}") from None
            raise bad(f"an unknown value {json.dumps(v)[:80]}")
        if v is None or isinstance(v, bool | int | float | str):
            return v
        raise bad(f"an unknown value {json.dumps(v)[:80]}")

    for item in raw:
        # A name that is not a string (a list, say) is not hashable: test it before the lookup.
        if (
            not isinstance(item, dict)
            or not isinstance(item.get("node"), str)
            or item["node"] not in NODES
        ):
            name = item.get("node") if isinstance(item, dict) else type(item).__name__
            raise bad(f"an unknown node {name!r}")
        cls = NODES[item["node"]]
        names = {f.name for f in dataclasses.fields(cls) if f.init}
        args = {k: v for k, v in item.items() if k != "node"}
        if not set(args) <= names:
            raise bad(f"{cls.__name__} has no fields {sorted(set(args) - names)}")
        try:
            built.append(cls(**{k: dec(v) for k, v in args.items()}))
        except m.DefinitionError:
            raise
        except (TypeError, AttributeError, KeyError, ValueError) as exc:
            raise bad(f"a malformed {cls.__name__} ({exc})") from None
    root = doc.get("root")
    if not isinstance(root, int) or isinstance(root, bool) or not 0 <= root < len(built):
        raise bad("no root node")
    ds = built[root]
    if not isinstance(ds, m.Dataset):
        raise bad(f"the root is a {type(ds).__name__}, not a dataset")
    _check_types(ds)
    return ds


def _check_types(ds: m.Dataset) -> None:
    """Constructors check meaning, not Python types: a field that should hold a node and
    holds a number is refused here, before an engine trips on it."""
    for n in m.walk(ds):
        for child in m.children(n):
            if not isinstance(child, m.Series | m.Frame):
                raise InputError(
                    f"not a dataset definition: {type(n).__name__} holds a "
                    f"{type(child).__name__} where a series or table belongs"
                )
