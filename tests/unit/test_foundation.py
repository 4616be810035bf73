"""The foundation modules: user errors, shared types and settings."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fjdp.errors import (
    EXIT_CODES,
    FjdpError,
    InputError,
    Location,
    OutputError,
    RefusedError,
    UsageError,
    UserError,
)
from fjdp.settings import DEFAULT_DEMO_DIR, DEFAULT_SEED, DEMO_LAYOUT, Settings
from fjdp.types import LinkStatus, Zone


def all_subclasses(cls: type[UserError]) -> set[type[UserError]]:
    found: set[type[UserError]] = set()
    for sub in cls.__subclasses__():
        found |= {sub, *all_subclasses(sub)}
    return found


# --- Location ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("location", "text"),
    [
        (Location(), ""),
        (Location(path="extract.csv"), "extract.csv"),
        (Location(path="extract.csv", row=12), "extract.csv, row 12"),
        (Location(path="extract.csv", row=12, column="dob"), "extract.csv, row 12, column 'dob'"),
        (Location(path="extract.csv", column="dob"), "extract.csv, column 'dob'"),
        (Location(row=3), "row 3"),
        (Location(row=0, column="sex"), "row 0, column 'sex'"),
    ],
)
def test_location_str_names_only_what_is_known(location: Location, text: str) -> None:
    assert str(location) == text


def test_location_is_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        Location(path="a.csv").row = 1  # type: ignore[misc]


# --- UserError.message ------------------------------------------------------------------


def test_message_gives_what_where_and_fix_in_that_order() -> None:
    err = InputError(
        "date of birth is not a date",
        where=Location(path="extract.csv", row=12, column="dob"),
        fix="use YYYY-MM-DD",
    )
    assert err.message() == (
        "date of birth is not a date (extract.csv, row 12, column 'dob'); use YYYY-MM-DD"
    )
    assert str(err) == err.message()


def test_message_is_one_line_even_when_parts_span_lines() -> None:
    err = UserError("bad\nthing", where="dir/\nfile.csv", fix="do\nthis")
    assert "\n" not in err.message()
    assert err.message() == "bad thing (dir/ file.csv); do this"


def test_message_without_where_or_fix_is_just_what() -> None:
    assert UserError("nothing to do").message() == "nothing to do"
    assert UserError("nothing to do", fix="").message() == "nothing to do"


def test_message_leaves_out_an_empty_location() -> None:
    assert UserError("oops", where=Location(), fix="retry").message() == "oops; retry"


def test_where_given_as_a_string_becomes_a_location_path() -> None:
    err = OutputError("folder exists", where="demo/world")
    assert err.where == Location(path="demo/world")
    assert err.message() == "folder exists (demo/world)"


def test_where_none_stays_none() -> None:
    assert UserError("x").where is None


@given(
    what=st.text(min_size=1),
    path=st.none() | st.text(),
    row=st.none() | st.integers(min_value=0),
    column=st.none() | st.text(),
    fix=st.none() | st.text(),
)
def test_message_never_contains_a_newline(
    what: str, path: str | None, row: int | None, column: str | None, fix: str | None
) -> None:
    err = UserError(what, where=Location(path=path, row=row, column=column), fix=fix)
    message = err.message()
    assert len(message.splitlines()) <= 1
    assert message.startswith(re.sub("[\n\r\v\f\x1c-\x1e\x85\u2028\u2029]", " ", what))


# --- the error family and its exit codes -------------------------------------------------


def test_user_errors_are_fjdp_errors_and_exceptions() -> None:
    for cls in (UserError, UsageError, InputError, OutputError, RefusedError):
        assert issubclass(cls, FjdpError)
        assert issubclass(cls, Exception)


def test_each_user_error_class_has_its_own_exit_code() -> None:
    classes = all_subclasses(UserError)
    assert {UsageError, InputError, OutputError, RefusedError} <= classes
    codes = [cls.exit_code for cls in classes]
    assert len(codes) == len(set(codes)), {cls.__name__: cls.exit_code for cls in classes}


def test_exit_codes_leave_0_and_1_for_success_and_bugs() -> None:
    classes: list[type[UserError]] = [UserError, *all_subclasses(UserError)]
    for cls in classes:
        assert isinstance(cls.exit_code, int)
        assert 2 <= cls.exit_code <= 125, cls


def test_exit_codes_table_matches_the_classes() -> None:
    assert EXIT_CODES == {
        "UsageError": 2,
        "InputError": 3,
        "OutputError": 4,
        "RefusedError": 5,
        "IntegrityError": 6,
        "GovernanceError": 7,
    }
    assert {cls.__name__: cls.exit_code for cls in all_subclasses(UserError)} == EXIT_CODES


def test_an_instance_reports_its_class_exit_code() -> None:
    assert RefusedError("wrong zone").exit_code == 5


# --- types --------------------------------------------------------------------------------


def test_link_statuses_are_the_six_of_the_design() -> None:
    assert [s.value for s in LinkStatus] == [
        "DET_STRONG_ID",
        "DET_DEMOG",
        "PROB_ACCEPT",
        "PROB_POSSIBLE",
        "UNMATCHED",
        "MULTIPLE",
    ]


def test_default_included_is_exactly_the_three_accepted_statuses() -> None:
    included = LinkStatus.default_included()
    assert isinstance(included, frozenset)
    assert included == {LinkStatus.DET_STRONG_ID, LinkStatus.DET_DEMOG, LinkStatus.PROB_ACCEPT}
    assert LinkStatus.PROB_POSSIBLE not in included


def test_zones() -> None:
    assert {z.value for z in Zone} == {"provider", "ttp", "databank", "workspace", "portal"}


# --- settings -----------------------------------------------------------------------------


def test_settings_from_an_empty_env_are_the_defaults() -> None:
    settings = Settings.from_env({})
    assert settings == Settings()
    assert settings.demo_dir == DEFAULT_DEMO_DIR == Path("demo")
    assert settings.seed == DEFAULT_SEED
    assert settings.progress is True


def test_settings_from_env_reads_each_variable() -> None:
    settings = Settings.from_env(
        {"FJDP_DEMO_DIR": "/tmp/elsewhere", "FJDP_SEED": "7", "FJDP_PROGRESS": "0"}
    )
    assert settings == Settings(demo_dir=Path("/tmp/elsewhere"), seed=7, progress=False)


@pytest.mark.parametrize(
    ("value", "progress"),
    [("0", False), ("false", False), ("no", False), ("1", True), ("yes", True), ("", True)],
)
def test_settings_progress_values(value: str, progress: bool) -> None:
    assert Settings.from_env({"FJDP_PROGRESS": value}).progress is progress


def test_settings_ignore_unrelated_variables() -> None:
    assert Settings.from_env({"HOME": "/root", "FJDP_UNKNOWN": "x"}) == Settings()


def test_settings_from_env_without_a_mapping_reads_the_process_env(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FJDP_SEED", "123")
    monkeypatch.delenv("FJDP_DEMO_DIR", raising=False)
    monkeypatch.delenv("FJDP_PROGRESS", raising=False)
    assert Settings.from_env() == Settings(seed=123)


def test_settings_are_frozen() -> None:
    settings = Settings()
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.seed = 1  # type: ignore[misc]
    assert dataclasses.replace(settings, seed=1).seed == 1
    assert settings.seed == DEFAULT_SEED


def test_demo_layout_is_the_stable_set_of_folders() -> None:
    assert DEMO_LAYOUT == (
        "world",
        "provider",
        "ttp",
        "databank",
        "workspaces",
        "analysis",
        "portal",
        "releases",
        "audit-report",
    )


def test_a_bad_seed_in_the_environment_is_a_user_error() -> None:
    with pytest.raises(UsageError, match="FJDP_SEED must be a whole number"):
        Settings.from_env({"FJDP_SEED": "twelve"})


def test_a_full_disk_or_a_denied_permission_becomes_a_one_line_output_error() -> None:
    import errno as e

    from fjdp.errors import OutputError, from_system_error

    full = from_system_error(OSError(e.ENOSPC, "No space left on device", "/data/x.parquet"))
    assert isinstance(full, OutputError)
    assert full.message().startswith("no space left on the device (/data/x.parquet); free")
    denied = from_system_error(PermissionError(e.EACCES, "Permission denied", "/zone/datasets"))
    assert denied is not None and "permission denied (/zone/datasets)" in denied.message()
    # DuckDB says it in its own exception type, naming the file in its text
    duck = from_system_error(
        RuntimeError('IO Error: Could not write file "/w/a.duckdb": No space left on device')
    )
    assert duck is not None and '"/w/a.duckdb"' in duck.message()
    assert "\n" not in duck.message()
    # anything else is a bug and keeps its traceback
    assert from_system_error(OSError(e.ENOENT, "No such file or directory", "/x")) is None
    assert from_system_error(ValueError("bad")) is None


def test_a_message_is_one_line_whatever_line_breaks_the_input_put_in_it() -> None:
    # A manifest key or a file name can carry \r or U+2028, not only \n.
    err = InputError("bad key 'a\rb\u2028c'", where="f\nx.json", fix="fix\r\nit")
    assert err.message().splitlines() == [err.message()]
    assert err.message() == "bad key 'a b c' (f x.json); fix  it"
