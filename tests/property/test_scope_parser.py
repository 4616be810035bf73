"""Any scope file, however malformed, is a valid Scope or one InputError: never a crash."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from fjdp.errors import InputError
from fjdp.workspace.scope import Scope, read_scope
from lib.fuzz import accepted, fuzz_settings, refused

pytestmark = pytest.mark.fuzz

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.text(max_size=12), st.dates().map(str)
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=12,
)
keys = st.sampled_from(
    ["project", "end_date", "datasets", "link_statuses", "date_window", "reference", "title", "x"]
)


@fuzz_settings(150)
@given(doc=st.dictionaries(keys, values, max_size=6) | values)
def test_any_document_parses_or_is_one_input_error(tmp_path: Path, doc: object) -> None:
    path = tmp_path / "scope.yaml"
    path.write_text(yaml.safe_dump(doc))
    try:
        scope = read_scope(path)
    except InputError as exc:
        refused(exc, naming=path)
    else:
        assert isinstance(scope, Scope)
        accepted()


@fuzz_settings(100)
@given(text=st.text(max_size=200))
def test_any_text_parses_or_is_one_input_error(tmp_path: Path, text: str) -> None:
    path = tmp_path / "scope.yaml"
    path.write_text(text)
    try:
        read_scope(path)
    except InputError as exc:
        refused(exc, naming=path)
    else:
        accepted()
