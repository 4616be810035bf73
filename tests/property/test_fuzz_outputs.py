"""Files a researcher hands in: output-check specs (SPEC.json for ``fjdp outputs check``,
with the data they name) and the query graph a definition's process sends back to the
engine (``fjdp.analysis.serialise.loads``).

A spec is checked (its verdict printable as strict JSON, as the command prints it) or
refused with one ``InputError`` naming a spec file; a graph is a valid dataset or one
user error: never a traceback."""

from __future__ import annotations

import copy
import json
import math
import tempfile
import warnings
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fjdp.analysis import create_dataset, serialise, years
from fjdp.analysis.tables import namespaces, spec_sources
from fjdp.cli.outputs import _clean
from fjdp.disclosure import default_policy
from fjdp.disclosure.spec import OPERATIONS, check_spec_file
from fjdp.errors import InputError, UserError
from fjdp.specs import all_specs
from lib.fuzz import accepted, fuzz_settings, json_paths, refused

pytestmark = pytest.mark.fuzz

POLICY = default_policy()
COLUMNS = ["sex", "region", "age", "income", "died", "months", "person"]
ROWS = [
    (
        "F" if i % 3 else "M",
        f"r{i % 4}",
        20 + i % 50,
        1000.0 + 37 * i,
        i % 5 == 0,
        i % 60,
        f"p{i % 90}",
    )
    for i in range(150)
]


def _csv(rows: list[tuple[Any, ...]], header: list[str]) -> str:
    return "\n".join([",".join(header), *(",".join(map(str, r)) for r in rows)]) + "\n"


columnish = st.sampled_from([*COLUMNS * 6, "nope", "", "Sex"]) | st.text(max_size=6)
names = st.one_of(
    st.lists(st.sampled_from(COLUMNS), min_size=1, max_size=2, unique=True),
    columnish,
    st.lists(columnish, max_size=3),
    st.integers() | st.none() | st.just({}),
)
any_json = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**20), 10**20) | st.floats() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=6,
)
SPEC_VALUES: dict[str, st.SearchStrategy[Any]] = {
    "data": st.sampled_from(
        ["data.csv", "other.csv", "missing.csv", "", "../data.csv", ".", "a\x00b"]
    ),
    "operation": st.sampled_from([*OPERATIONS, "median", None]),
    "index": names,
    "columns": names,
    "values": names,
    "aggfunc": st.sampled_from(
        ["count", "mean", "sum", "median", "std", "p90", "max", "x", ["count", "mean"], 5, []]
    ),
    "margins": st.sampled_from([True, False, "yes", None, 1]),
    "normalize": st.sampled_from(
        [False, True, "index", "columns", "all", "rows", 1, 0.5, [], None]
    ),
    "mitigate": st.sampled_from(["none", "suppress", "suppress_round", "round", 1, [], None]),
    "unit": columnish | st.none() | st.integers(),
    "filter": st.sampled_from(
        ["age > 30", "sex == 'F'", "age >", "__import__('os')", "nope == 1", "", 5]
    ),
    "y": names,
    "x": names,
    "time": names,
    "event": names,
    "column": names,
    "bins": st.one_of(
        st.integers(-2, 12), st.lists(st.floats(), max_size=4), st.just(True), st.text(max_size=3)
    ),
    "released": st.sampled_from(
        [[], ["released.json"], ["missing.json"], "released.json", [1], ["data.csv"]]
    ),
}


SKELETONS: dict[str, dict[str, Any]] = {
    "crosstab": {"index": ["sex"], "columns": ["region"]},
    "pivot_table": {"index": ["sex"], "values": "income", "aggfunc": "mean"},
    "ols": {"y": "income", "x": ["age"]},
    "logit": {"y": "died", "x": ["age"]},
    "poisson": {"y": "months", "x": ["age"]},
    "survival": {"time": "months", "event": "died"},
    "histogram": {"column": "age", "bins": 5},
}


@st.composite
def specs(draw: st.DrawFn) -> Any:
    """A working spec of one operation with up to three keys changed, or any JSON."""
    if draw(st.integers(0, 9)) == 0:
        return draw(any_json)
    op = draw(st.sampled_from(OPERATIONS))
    doc: dict[str, Any] = {"data": "data.csv", "operation": op, **SKELETONS[op]}
    for key in draw(st.lists(st.sampled_from(sorted(SPEC_VALUES)), max_size=3, unique=True)):
        if draw(st.integers(0, 9)) == 0:
            doc.pop(key, None)
        else:
            doc[key] = draw(
                SPEC_VALUES[key] | any_json if draw(st.integers(0, 5)) == 0 else SPEC_VALUES[key]
            )
    return doc


data_files = st.one_of(
    st.just(_csv(ROWS, COLUMNS)),
    st.just(_csv(ROWS[:3], COLUMNS)),  # too few people for anything to be released
    st.just(_csv([], COLUMNS)),
    st.just(""),
    st.text(max_size=200),
    st.just(_csv([(r[0], r[1], "x", "", r[4], -1, r[6]) for r in ROWS], COLUMNS)),  # wrong types
)


@fuzz_settings(100)
@given(
    spec=specs(),
    data=data_files,
    raw=st.integers(0, 9).flatmap(lambda k: st.binary(max_size=80) if k == 0 else st.none()),
)
def test_an_output_spec_is_checked_or_refused_naming_a_spec(
    spec: Any, data: str, raw: bytes | None
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "data.csv").write_text(_csv(ROWS, COLUMNS))
        (root / "other.csv").write_text(data)
        (root / "released.json").write_text(
            json.dumps(
                {
                    "data": "data.csv",
                    "operation": "crosstab",
                    "index": ["sex"],
                    "columns": ["region"],
                }
            )
        )
        path = root / "SPEC.json"
        if raw is not None:
            path.write_bytes(raw)
        else:
            path.write_text(json.dumps(spec, allow_nan=True))
        try:
            # Convergence and divide-by-zero warnings are printed, not raised, for a user.
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                out, _ = check_spec_file(path, POLICY)
        except InputError as exc:
            message = refused(exc)
            assert str(root) in message, message
            return
        accepted(str(spec.get("operation")) if isinstance(spec, dict) else "")
        json.dumps(_clean(out.verdict()), allow_nan=False)  # what the command prints


@pytest.fixture(scope="module")
def graph() -> dict[str, Any]:
    t = namespaces({n: s.schema for n, s in spec_sources(all_specs()).items()})
    a = t["hospital_admissions"].admissions  # type: ignore[attr-defined]
    first = a.sort_by(a.admission_date).first_for_person()
    d = create_dataset()
    d.define_population(a.where(a.diag_1.starts_with(["F1", "F3"])).exists_for_person())
    d.first = first.admission_date
    d.after = a.where(a.admission_date > first.admission_date + years(1)).count_for_person()
    d.configure(links="possible")
    return json.loads(serialise.dumps(d.to_model()))  # type: ignore[no-any-return]


GRAPH_VALUES = st.one_of(
    any_json,
    st.integers(-2, 40),
    st.sampled_from(
        [
            "Column",
            "Value",
            "TableSchema",
            "Dataset",
            "Popen",
            "eval",
            "nhs_number",
            "date_of_birth",
        ]
    ),
    st.sampled_from(
        [{"ref": 0}, {"ref": 999}, {"date": "2020-02-30"}, {"enum": "Kind", "value": "x"}, math.inf]
    ),
)


@fuzz_settings(200)
@given(data=st.data())
def test_a_tampered_query_graph_is_a_dataset_or_one_user_error(
    graph: dict[str, Any], data: st.DataObject
) -> None:
    doc = copy.deepcopy(graph)
    for _ in range(data.draw(st.integers(1, 3))):
        path = data.draw(st.sampled_from([p for p in json_paths(doc) if p]))
        parent = doc
        for part in path[:-1]:
            parent = parent[part]
        if data.draw(st.booleans()):
            # a copy: sampled_from hands out the same dict each time, and a later edit
            # could change it inside the strategy
            parent[path[-1]] = copy.deepcopy(data.draw(GRAPH_VALUES))
        else:
            del parent[path[-1]]
    text = json.dumps(doc)
    if data.draw(st.integers(0, 5)) == 0:
        text = text[: data.draw(st.integers(0, len(text)))]
    try:
        ds = serialise.loads(text, where="definition.py")
    except UserError as exc:
        refused(exc)
        return
    accepted()
    assert serialise.loads(serialise.dumps(ds)) == ds
