"""Dataset specs: the shipped ones are valid and cover the world; bad specs are refused
with one line naming the file and the place."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fjdp.errors import InputError
from fjdp.specs import IDENTIFIER_FIELDS, Role, all_specs, builtin_names, load_spec


def test_every_synthetic_source_has_a_spec() -> None:
    assert set(builtin_names()) == {
        "births",
        "court_private",
        "court_public",
        "deaths",
        "emergency_attendances",
        "hospital_admissions",
    }


@pytest.mark.parametrize("name", builtin_names())
def test_shipped_spec_is_consistent(name: str) -> None:
    spec = load_spec(name)
    assert spec.version >= 1
    names = [t.name for t in spec.table_order]
    for t in spec.table_order:
        for c in t.columns:
            if c.references:
                # referenced tables come first, so references can be checked in one pass
                assert names.index(c.references) < names.index(t.name)
        identifiers = {c.name for c in t.columns if c.role is Role.IDENTIFIER}
        assert identifiers == {col for g in t.persons for col in g.columns.values()}
        # no column is both: an identifier never reaches File 2
        assert not identifiers & {c.name for c in t.columns if c.role is Role.CONTENT}


def test_identifier_columns_default_to_flag_and_content_to_reject() -> None:
    deaths = load_spec("deaths").table("deaths")
    assert deaths.column("nhs_number").action.value == "flag"
    assert deaths.column("date_of_death").action.value == "reject"


def test_a_users_own_spec_by_file(tmp_path: Path) -> None:
    text = Path(load_spec.__code__.co_filename).parent.joinpath("data/deaths.yaml").read_text()
    mine = tmp_path / "my_deaths.yaml"
    mine.write_text(text.replace("name: deaths", "name: my_deaths", 1))
    spec = load_spec(mine)
    assert spec.name == "my_deaths"


def _spec(*columns: str, checks: str = "", table: str = "") -> str:
    """A one-table spec with a person (column ``s``), plus ``columns`` (flow mappings),
    a ``checks`` list item and another ``table`` (its YAML list item)."""
    lines = [
        "name: x", "version: 1", "title: t", "provider: p", "tables:",
        "  - name: t", "    persons:", "      - {name: p, columns: {surname: s}}",
        "    columns:", "      - {name: s, role: identifier}",
        *(f"      - {c}" for c in columns),
    ]  # fmt: skip
    if checks:
        lines += ["    checks:", f"      - {checks}"]
    return "\n".join(lines) + "\n" + table


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("name: [unclosed", "not valid YAML"),
        ("- a list", "must be a YAML mapping"),
        ("name: x\nversion: 1\ntitle: t\nprovider: p\ntables: []\nextra: 1", "extra"),
        ("name: Bad Name\nversion: 1\ntitle: t\nprovider: p\ntables: []", "name"),
        (
            "name: x\nversion: 1\ntitle: t\nprovider: p\ntables:\n"
            "  - name: t\n    columns:\n      - {name: a, role: reference}\n",
            "reference but names no table",
        ),
        (
            "name: x\nversion: 1\ntitle: t\nprovider: p\ntables:\n"
            "  - name: t\n    columns:\n      - {name: a, role: identifier}\n",
            "belong to no person",
        ),
        (
            "name: x\nversion: 1\ntitle: t\nprovider: p\ntables:\n"
            "  - name: t\n    columns:\n      - {name: a, role: reference, references: u}\n",
            "unknown table",
        ),
        # Found by tests/property/test_fuzz_specs.py: each was accepted, then failed the
        # split with a database error.
        ("name: x\nversion: 1\ntitle: t\nprovider: p\ntables: []", "lists no tables"),
        (
            _spec(
                "{name: a, role: content}",
                table="  - name: t\n    columns: [{name: b, role: content}]\n",
            ),
            "table names repeat",
        ),
        (_spec("{name: a, role: content, type: int, min: today}"), "it takes a finite number"),
        (_spec("{name: a, role: content, type: float, max: .nan}"), "finite number"),
        (_spec("{name: a, role: content, type: date, min: 5}"), "a date (YYYY-MM-DD) or today"),
        (_spec("{name: a, role: content, min: 1}"), "only date, int and float"),
        (_spec("{name: a, role: reference, references: t}"), "references its own table"),
        (_spec("{name: system_id, role: content}"), "a name File 2 keeps"),
        (
            _spec(
                "{name: a, role: content, type: int}",
                "{name: b, role: content, type: date}",
                checks="{rule: date_order, earlier: a, later: b}",
            ),
            "compares date columns",
        ),
        (
            _spec(
                "{name: b, role: content, type: date}",
                checks="{rule: date_order, earlier: u.d, later: b, via: nope}",
            ),
            "via unknown column",
        ),
        (
            "name: x\nversion: 1\ntitle: t\nprovider: p\ntables:\n"
            "  - name: t\n    columns:\n      - {name: a, role: content}\n",
            "no table has persons",
        ),
    ],
)
def test_bad_specs_are_refused_with_one_line(tmp_path: Path, text: str, words: str) -> None:
    f = tmp_path / "bad.yaml"
    f.write_text(text)
    with pytest.raises(InputError) as info:
        load_spec(f)
    message = info.value.message()
    assert words in message and str(f) in message and "\n" not in message


def test_unknown_spec_name_lists_the_known_ones() -> None:
    with pytest.raises(InputError, match="births"):
        load_spec("no_such_dataset")


_scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=12))
_yamlish = st.recursive(
    _scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(
    doc=_yamlish,
    base=st.sampled_from(builtin_names()),
    key=st.sampled_from(["name", "version", "tables", "title"]),
)
def test_fuzzed_specs_either_load_or_fail_with_an_input_error(
    tmp_path_factory: pytest.TempPathFactory, doc: object, base: str, key: str
) -> None:
    """Runs 150 examples: random YAML documents, and shipped specs with one key replaced
    by random data. Loading either succeeds or raises InputError; nothing else escapes."""
    folder = tmp_path_factory.mktemp("fuzz")
    original = yaml.safe_load(
        Path(load_spec.__code__.co_filename).parent.joinpath(f"data/{base}.yaml").read_text()
    )
    for i, candidate in enumerate((doc, {**original, key: doc})):
        f = folder / f"spec{i}.yaml"
        f.write_text(yaml.safe_dump(candidate))
        try:
            load_spec(f)
        except InputError as exc:
            assert "\n" not in exc.message()


def test_identifier_fields_cover_what_the_linker_needs() -> None:
    assert {"nhs_number", "surname", "date_of_birth", "postcode"} <= set(IDENTIFIER_FIELDS)
    assert all(s.tables for s in all_specs())


def test_a_spec_file_that_is_not_utf8_is_one_input_error(tmp_path: Path) -> None:
    f = tmp_path / "bad.yaml"
    f.write_bytes(b"name: x\x80\n")
    with pytest.raises(InputError, match="not UTF-8 text") as info:
        load_spec(f)
    assert str(f) in info.value.message()
