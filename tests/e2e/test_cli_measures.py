"""``fjdp analysis measures``: its refusals are one line, before any work."""

from __future__ import annotations

from pathlib import Path

import pytest

from fjdp.cli.app import main
from fjdp.errors import InputError


def test_a_folder_that_is_not_a_workspace_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["analysis", "measures", "-w", str(tmp_path), "-o", str(tmp_path / "out")])
    assert code == InputError.exit_code
    err = capsys.readouterr().err
    assert "no workspace.duckdb" in err and str(tmp_path) in err
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()


def test_an_unknown_measure_names_the_choices(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        ["analysis", "measures", "-w", str(tmp_path), "-o", str(tmp_path), "--only", "nope"]
    )
    assert code == InputError.exit_code
    err = capsys.readouterr().err
    assert "unknown measure 'nope'" in err and "recurrent_proceedings" in err


def test_the_analysis_help_lists_the_measures_command(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["analysis", "--help"]) == 0
    assert "measures" in capsys.readouterr().out
