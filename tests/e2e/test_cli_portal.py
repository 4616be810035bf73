"""``fjdp portal``: help, one-line errors with their exit codes, accounts and devices."""

from __future__ import annotations

from pathlib import Path

import pytest

from fjdp.cli.app import main


def test_portal_help_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["portal", "--help"]) == 0
    out = capsys.readouterr().out
    commands = ("init", "serve", "add-user", "totp-device", "unlock", "expire", "collect")
    for cmd in (*commands, "verify"):
        assert cmd in out


def test_init_refuses_an_admin_without_a_password(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["portal", "init", "--dir", str(tmp_path / "p"), "--admin", "root"], env={})
    err = capsys.readouterr().err
    assert code == 2
    assert "no password given for the administrator 'root'" in err
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_serve_refuses_a_bad_port(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["portal", "serve", "--port", "0", "--dir", str(tmp_path)]) == 2
    assert "--port 0 is not a port number" in capsys.readouterr().err


@pytest.mark.django_db
def test_add_user_and_device(capsys: pytest.CaptureFixture[str]) -> None:
    env = {
        "FJDP_PORTAL_PASSWORD": "a long test passphrase 2",
        "FJDP_ACTOR": "admin",
        "FJDP_PORTAL_SECRET_KEY": "tests",
    }
    code = main(
        ["portal", "add-user", "ann", "--role", "researcher", "--role", "linkage_operator"], env=env
    )
    assert code == 7
    assert "cannot be both linkage operator and researcher" in capsys.readouterr().err
    args = ["portal", "add-user", "ann", "--role", "researcher", "--trained-on", "2026-01-01"]
    assert main(args, env=env) == 0
    assert main(["portal", "totp-device", "ann"], env=env) == 0
    assert capsys.readouterr().out.strip().splitlines()[-1].startswith("otpauth://totp/")
    assert main(["portal", "totp-device", "nobody"], env=env) == 7
    assert main(["portal", "add-user", "bob", "--role", "wizard"], env=env) == 2
    assert main(["portal", "verify"], env=env) == 0
