"""A throw-away PostgreSQL cluster for the portal's tests: ``initdb`` in a temporary
folder, ``postgres`` on a free loopback port with its socket in that folder, trust
authentication, removed when the run ends.

PostgreSQL refuses to run as root, so as root the cluster belongs to the ``postgres``
account (``runuser``). The binaries come from PATH or Debian's ``/usr/lib/postgresql/N/bin``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path


class PostgresUnavailableError(RuntimeError):
    """No PostgreSQL server binaries, or no account to run them as."""


def bin_dir() -> Path:
    """The folder holding ``initdb``, ``pg_ctl`` and ``postgres``."""
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).resolve().parent
    candidates = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"),
        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0,
    )
    if not candidates:
        raise PostgresUnavailableError(
            "no PostgreSQL server binaries (pg_ctl) on PATH or under /usr/lib/postgresql; "
            "install them with `apt-get install postgresql`, or set FJDP_TEST_POSTGRES to the "
            "DSN of a server you run"
        )
    return candidates[-1].parent


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _runner() -> list[str]:
    """The prefix that runs a command as an account PostgreSQL accepts."""
    if os.geteuid() != 0:
        return []
    runuser = shutil.which("runuser")
    try:
        import pwd

        pwd.getpwnam("postgres")
    except KeyError:
        runuser = None
    if runuser is None:
        raise PostgresUnavailableError(
            "PostgreSQL refuses to run as root and there is no `postgres` account to run it "
            "as (with runuser); run the tests as another user or create that account"
        )
    return [runuser, "-u", "postgres", "--"]


@contextlib.contextmanager
def throwaway_cluster() -> Iterator[str]:
    """Start a cluster and yield its DSN (superuser ``postgres``, database ``postgres``)."""
    binaries = bin_dir()
    run_as = _runner()
    root = Path(tempfile.mkdtemp(prefix="fjdp-pg-"))
    data = root / "data"
    if run_as:
        shutil.chown(root, user="postgres", group="postgres")
    os.chmod(root, 0o700)
    port = _free_port()
    log = root / "server.log"

    def run(*args: str) -> None:
        done = subprocess.run(
            [*run_as, *args], capture_output=True, text=True, check=False, timeout=120
        )
        if done.returncode != 0:
            detail = (done.stderr or done.stdout).strip().splitlines()[-5:]
            raise PostgresUnavailableError(f"{args[0]} failed: " + " | ".join(detail))

    try:
        # fsync off and no WAL archiving: the cluster lives for one test run.
        run(
            str(binaries / "initdb"),
            "-D",
            str(data),
            "-U",
            "postgres",
            "--auth=trust",
            "--no-sync",
            "-E",
            "UTF8",
            "--locale=C",
        )
        options = (
            f"-p {port} -c listen_addresses=127.0.0.1 -k {root} -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off"
        )
        run(str(binaries / "pg_ctl"), "-D", str(data), "-l", str(log), "-o", options, "-w", "start")
        try:
            yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
        finally:
            with contextlib.suppress(PostgresUnavailableError, subprocess.TimeoutExpired):
                run(str(binaries / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop")
    finally:
        shutil.rmtree(root, ignore_errors=True)
