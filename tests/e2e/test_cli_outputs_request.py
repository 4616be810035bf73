"""``fjdp outputs request``, ``review`` and ``status``: a request made and released from
the command line, and one-line errors with their exit codes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from fjdp.cli.app import main
from fjdp.governance import Role
from fjdp.portal.models import OutputRequestRecord
from lib.portal import active_project, make_user, outputs_folder, standard_people

pytestmark = pytest.mark.django_db
ENV = {"FJDP_PORTAL_SECRET_KEY": "tests", "FJDP_ACTOR": "tests"}


@pytest.fixture
def root(tmp_path: Path, settings: Any) -> tuple[Path, str]:
    for name in ("ANALYSIS", "RELEASES", "OUTPUT_STORE"):
        setattr(settings, f"FJDP_{name}", str(tmp_path / name.lower()))
    folk = standard_people()
    make_user("chk1", Role.OUTPUT_CHECKER)
    make_user("chk2", Role.OUTPUT_CHECKER)
    project = active_project(folk)
    return outputs_folder(project), project.pid


def _one_line(err: str, text: str) -> None:
    assert text in err, err
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1, err


def test_request_review_status(root: tuple[Path, str], capsys: pytest.CaptureFixture[str]) -> None:
    folder, pid = root
    base = ["outputs", "request", "--project", pid, "--user", "res", "--description", "d"]
    args = [*base, str(folder / "rates.csv"), "--justify", "rates.csv=counts of 45 and more"]
    assert main(args, env=ENV) == 0
    rid = OutputRequestRecord.objects.get().rid  # from a sequence PostgreSQL does not reset
    assert rid in capsys.readouterr().out
    # a second open request, a disallowed type, a missing case, a bad --justify
    assert main(args, env=ENV) == 7
    _one_line(capsys.readouterr().err, f"already has an open output request ({rid})")
    for extra, code, text in (
        ([str(folder / "rows.parquet"), "--justify", "rows.parquet=x"], 7, "cannot be released"),
        ([str(folder / "page.html")], 7, "say why it should still be released"),
        ([str(folder / "rates.csv"), "--justify", "x.csv=y"], 2, "not among the files"),
        ([str(folder / "none.csv")], 3, "no such file"),
    ):
        assert main([*base[:5], "lead", *base[6:], *extra], env=ENV) == code
        _one_line(capsys.readouterr().err, text)
    # self-review, then two checkers
    assert (
        main(
            ["outputs", "review", rid, "--user", "res", "--decide", "rates.csv=approve"],
            env=ENV,
        )
        == 7
    )
    _one_line(capsys.readouterr().err, "is not a output checker")
    for c in ("chk1", "chk2"):
        assert (
            main(
                ["outputs", "review", rid, "--user", c, "--decide", "rates.csv=approve"],
                env=ENV,
            )
            == 0
        )
    out = capsys.readouterr().out
    assert "decided" in out and f"release-{pid}-{rid}-r1.zip" in out
    assert (
        main(["outputs", "review", rid, "--user", "chk1", "--decide", "rates.csv=maybe"], env=ENV)
        == 2
    )
    capsys.readouterr()
    assert main(["outputs", "status", "--project", pid], env=ENV) == 0
    assert "approve" in capsys.readouterr().out
    assert main(["outputs", "review", "R0009", "--user", "chk1"], env=ENV) == 3
