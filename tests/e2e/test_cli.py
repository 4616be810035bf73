"""``fjdp`` run in-process as a user would: the demo and bad input."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from fjdp.cli.app import main
from fjdp.settings import DEMO_LAYOUT


def _one_line(text: str) -> str:
    lines = [ln for ln in text.strip().splitlines() if ln.strip()]
    assert len(lines) == 1, text
    assert "Traceback" not in text
    return lines[0]


def test_demo_builds_the_world_and_the_layout(demo: Path) -> None:
    # The session's demo run (tests/e2e/conftest.py): one demo serves every e2e test.
    for name in DEMO_LAYOUT:
        assert (demo / name).is_dir()
    assert (demo / "world/spine/people.parquet").exists()
    assert (demo / "world/truth/calibration.json").exists()
    assert (demo / "audit-report" / "report.html").exists()


def test_demo_refuses_a_non_empty_folder_without_force(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "demo"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    assert main(["demo", "--out", str(out), "--people", "5000", "--no-progress"]) == 4
    assert "--force" in _one_line(capsys.readouterr().err)
    assert sorted(p.name for p in out.iterdir()) == ["keep.txt"]


@pytest.mark.parametrize(
    ("args", "code", "words"),
    [
        (["synth", "--people", "-5"], 2, "--people must be between"),
        (["synth", "--people", "0"], 2, "--people must be between"),
        (["synth", "--people", "lots"], 2, "Invalid value for '--people'"),
        (["synth", "--seed", "-1"], 2, "--seed"),
        (["synth", "--people", "5000", "--bogus"], 2, "No such option"),
    ],
)
def test_nonsense_arguments_get_one_line_and_write_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], code: int, words: str
) -> None:
    out = tmp_path / "w"
    assert main([*args, "--out", str(out)]) == code
    assert words in _one_line(capsys.readouterr().err)
    assert not out.exists()


def test_existing_output_needs_force(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "w"
    out.mkdir()
    (out / "x").write_text("x")
    assert main(["synth", "--people", "5000", "--out", str(out), "--no-progress"]) == 4
    assert "already exists" in _one_line(capsys.readouterr().err)
    assert main(["synth", "--people", "5000", "--out", str(out), "--no-progress", "--force"]) == 0
    assert not (out / "x").exists()
    assert (out / "spine/people.parquet").exists()


def test_unwritable_output_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    assert main(["synth", "--people", "5000", "--out", str(blocker / "w"), "--no-progress"]) == 4
    assert "cannot write" in _one_line(capsys.readouterr().err)


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write anywhere")
def test_read_only_folder_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    assert main(["synth", "--people", "5000", "--out", str(ro / "w"), "--no-progress"]) == 4
    _one_line(capsys.readouterr().err)


def test_a_failed_build_leaves_nothing_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import fjdp.synth.world as world

    def boom(*a: object, **k: object) -> None:
        raise RuntimeError("simulated crash in the middle of a build")

    out = tmp_path / "w"
    out.mkdir()
    (out / "previous.txt").write_text("the previous world")
    monkeypatch.setattr(world, "_write_court", boom)
    with pytest.raises(RuntimeError):
        main(["synth", "--people", "5000", "--out", str(out), "--no-progress", "--force"])
    assert (out / "previous.txt").read_text() == "the previous world"
    assert [p.name for p in tmp_path.iterdir()] == ["w"]


def test_help_and_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert "fjdp" in capsys.readouterr().out
    assert main(["synth", "--help"]) == 0
    assert "--people" in capsys.readouterr().out
