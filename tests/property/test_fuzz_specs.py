"""Dataset spec files of any shape: random YAML, and the shipped specs mutated (types,
roles, bounds, code lists, references, keys, persons, checks changed, removed, repeated).

``load_spec`` gives a valid ``DatasetSpec`` or one ``InputError`` naming the file; and a
spec it accepts can be used: every validation rule, File 1 and File 2 of a split compile
and run (here on an extract with no rows), so a spec mistake is caught when the spec is
read, never as a database error in the middle of a split."""

from __future__ import annotations

import copy
import math
import tempfile
from importlib import resources
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from fjdp.errors import InputError
from fjdp.provider.reader import StagedTable
from fjdp.provider.split import _Splitter
from fjdp.specs import DatasetSpec, builtin_names, load_spec
from lib.fuzz import accepted, fuzz_settings, json_paths, refused

pytestmark = pytest.mark.fuzz

SHIPPED = {
    name: yaml.safe_load(
        resources.files("fjdp.specs").joinpath(f"data/{name}.yaml").read_text(encoding="utf-8")
    )
    for name in builtin_names()
}

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**65), 2**65),
    st.floats(),
    st.text(max_size=10),
    st.dates(),
)
yaml_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=10,
)
# Values a person editing a spec might write in each place, right or wrong.
TARGETED: dict[str, st.SearchStrategy[Any]] = {
    "type": st.sampled_from(["string", "date", "int", "float", "bool", "datetime", "Date", ""]),
    "role": st.sampled_from(["key", "reference", "identifier", "content", "secret"]),
    "format": st.sampled_from(["nhs_number", "postcode", "icd10", "email", None]),
    "min": st.sampled_from(
        [0, -1, 5, 1.5, "today", "2020-01-01", "1900-01-01", "x", math.inf, math.nan, True, [1]]
    ),
    "max": st.sampled_from(
        [0, 10, 2.5, "today", "2999-12-31", "2020-02-30", -math.inf, math.nan, False]
    ),
    "codes": st.sampled_from([[], ["M", "F"], [1, 2], ["a'b", "c\\d"], "MF", [None], [[1]]]),
    "references": st.sampled_from(["cases", "persons", "deaths", "births", "nope", "", None]),
    "key": st.sampled_from(["case_id", "death_id", "nhs_number", "date_of_death", "nope", None]),
    "name": st.sampled_from(
        ["cases", "persons", "deaths", "system_id", "x", "Bad", "a-b", "_row", "select", "s"]
    ),
    "earlier": st.sampled_from(
        ["date_of_birth", "date_of_death", "sex", "cases.issue_date", "cases.nope", "x.y", "nope"]
    ),
    "later": st.sampled_from(["date_of_birth", "date_of_death", "sex", "issue_date", "nope"]),
    "via": st.sampled_from(["case_id", "person_id", "sex", "nope", None]),
    "on_error": st.sampled_from(["reject", "flag", "ignore", None]),
    "required": st.sampled_from([True, False, "yes", None]),
    "version": st.sampled_from([1, 0, -1, "2", 1.5, 10**20]),
    "rule": st.sampled_from(["date_order", "other"]),
    "file": st.sampled_from(["x", "../x", "", None]),
}


@st.composite
def mutated_specs(draw: st.DrawFn) -> Any:
    doc = copy.deepcopy(SHIPPED[draw(st.sampled_from(sorted(SHIPPED)))])
    for _ in range(draw(st.integers(1, 4))):
        path = draw(st.sampled_from([p for p in json_paths(doc) if p]))
        parent = doc
        for part in path[:-1]:
            parent = parent[part]
        key = path[-1]
        op = draw(st.sampled_from(["set", "set", "set", "delete", "repeat", "add"]))
        if op == "set":
            # a copy: sampled_from hands out the same list each time, and a later edit
            # could change it inside the strategy
            parent[key] = copy.deepcopy(draw(TARGETED.get(str(key), yaml_values) | yaml_values))
        elif op == "delete":
            del parent[key]
        elif op == "repeat" and isinstance(parent, list):
            parent.insert(draw(st.integers(0, len(parent))), copy.deepcopy(parent[key]))
        elif isinstance(parent, dict):
            k = draw(st.sampled_from(sorted(TARGETED)) | st.text(max_size=6))
            parent[k] = copy.deepcopy(draw(TARGETED.get(k, yaml_values)))
    return doc


def _refused_or_spec(path: Path) -> DatasetSpec | None:
    try:
        spec = load_spec(path)
    except InputError as exc:
        refused(exc, naming=path)
        return None
    assert isinstance(spec, DatasetSpec)
    return spec


@fuzz_settings(100)
@given(text=st.text(max_size=300) | st.binary(max_size=200).map(lambda b: b.decode("latin-1")))
def test_any_text_is_a_spec_or_one_input_error(text: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "spec.yaml"
        path.write_text(text, encoding="utf-8")
        if _refused_or_spec(path) is not None:
            accepted()


@fuzz_settings(100)
@given(
    doc=yaml_values
    | st.dictionaries(
        st.sampled_from(["name", "version", "title", "provider", "tables"]), yaml_values
    )
)
def test_any_yaml_document_is_a_spec_or_one_input_error(doc: Any) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "spec.yaml"
        path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
        if _refused_or_spec(path) is not None:
            accepted()


def _split_sql_runs(spec: DatasetSpec, work: Path) -> None:
    """Every SQL statement of a split built from ``spec`` runs, on tables with no rows."""
    splitter = _Splitter(spec, work, lambda _m: None)
    try:
        for t in spec.table_order:
            staged = work / f"staged_{t.name}.parquet"
            schema = pa.schema([("_row", pa.int64())] + [(c, pa.string()) for c in t.column_names])
            pq.write_table(schema.empty_table(), staged)
            splitter.validate(t, StagedTable(t.name, staged, staged, 0))
            splitter.assign_ids(t)
        splitter.file1()
        for t in spec.table_order:
            splitter.file2(t)
    finally:
        splitter.close()


@fuzz_settings(60)
@given(doc=mutated_specs())
def test_a_mutated_shipped_spec_is_refused_or_usable(doc: Any) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "spec.yaml"
        path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
        spec = _refused_or_spec(path)
        if spec is None:
            return
        accepted()
        _split_sql_runs(spec, Path(tmp) / "work")
