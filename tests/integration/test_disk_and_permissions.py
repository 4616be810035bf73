"""A full disk and a denied permission, for real: a step's own command run with the
folder it writes on a tmpfs too small for its output, or as an account that may not
write there. Each ends with one line saying what, where and what to do, a non-zero
exit, no traceback, and the zone as it was before (nothing half-written is kept).

Both need root: mounting a tmpfs, and dropping to the ``nobody`` account with setpriv
(root writes anywhere, so a read-only folder alone proves nothing). Elsewhere they skip.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
import yaml

from fjdp.audit import verify_log
from fjdp.errors import OutputError
from lib.faultsteps import ACTOR, DATASET, PROJECT, run, states_before_each_step

ROOT = Path(__file__).resolve().parents[2]
PEOPLE = 4_000
NOBODY = 65534

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("setpriv") is None,
    reason="needs root (tmpfs mounts, and setpriv to act as an unprivileged account)",
)


@pytest.fixture(scope="module")
def before() -> Iterator[dict[str, Path]]:
    """The state just before each step, in a folder every account may read."""
    base = Path(tempfile.mkdtemp(prefix="fjdp-disk-", dir="/tmp"))
    base.chmod(0o755)
    snapshots = states_before_each_step(base, people=PEOPLE)
    yield snapshots
    shutil.rmtree(base, ignore_errors=True)


def _copy(src: Path, name: str) -> Path:
    dest = Path(tempfile.mkdtemp(prefix=f"fjdp-{name}-", dir="/tmp"))
    dest.chmod(0o755)
    root = dest / "root"
    shutil.copytree(src, root, symlinks=True)
    return root


def _argv(step: str, root: Path) -> list[str]:
    if step == "split":
        return [
            "provider",
            "split",
            str(root / "world" / DATASET),
            "--spec",
            DATASET,
            "--to-ttp",
            str(root / "ttp" / "keys" / "card.json"),
            "--to-databank",
            str(root / "databank" / "keys" / "card.json"),
            "--out",
            str(root / "provider" / "outbox"),
            "--zone",
            str(root / "provider"),
        ]
    if step == "load":
        return ["databank", "load", "--zone", str(root / "databank")]
    if step == "provision":
        scope = root / "scope.yaml"
        scope.write_text(
            yaml.safe_dump(
                {
                    "project": PROJECT,
                    "end_date": (dt.date.today() + dt.timedelta(days=30)).isoformat(),
                    "datasets": {DATASET: {"persons": {"columns": "*"}, "cases": {"columns": "*"}}},
                }
            )
        )
        return [
            "databank",
            "provision",
            "--zone",
            str(root / "databank"),
            "--project",
            PROJECT,
            "--scope",
            str(scope),
            "--workspaces",
            str(root / "workspaces"),
        ]
    raise AssertionError(step)


def _fjdp(argv: list[str], *, as_nobody: bool = False) -> subprocess.CompletedProcess[str]:
    prefix = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "FJDP_ACTOR": ACTOR}
    return subprocess.run(
        [*(prefix if as_nobody else []), sys.executable, "-m", "fjdp", *argv],
        capture_output=True,
        text=True,
        env=env,
        cwd="/tmp",
        timeout=300,
        check=False,
    )


def _one_clear_line(result: subprocess.CompletedProcess[str], words: str) -> str:
    err = result.stderr.strip()
    assert result.returncode == OutputError.exit_code, (result.returncode, err)
    assert "Traceback" not in err and len(err.splitlines()) == 1, err
    assert err.startswith("error:") and words in err.lower(), err
    return err


def _catalogue(path: Path) -> str | None:
    """What the databank's catalogue says (its versions), not its bytes: a first load
    that failed may leave it created, and empty."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        rows = con.execute("select * from versions order by all").fetchall()
    finally:
        con.close()
    return repr(rows) if rows else None


def _state(root: Path) -> dict[str, str]:
    """Every file under the zones and workspaces with a hash of its bytes (the databank's
    catalogue by its versions), but the audit logs (a refusal may be recorded), each
    zone's scratch folder and empty folders."""
    out = {}
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root)
        if rel.parts[0] in ("world", "scope.yaml") or rel.parts[0].endswith(".orig"):
            continue
        if "work" in rel.parts[1:2] or rel.parts[1:2] == ("outbox.orig",):
            continue
        if p.name == "catalogue.duckdb":
            versions = _catalogue(p)
            if versions is not None:
                out[rel.as_posix()] = versions
        elif p.is_file() and rel.parts[1:] != ("audit", "log.jsonl"):
            out[rel.as_posix()] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def _logs_intact(root: Path) -> None:
    for zone in ("provider", "ttp", "databank"):
        assert verify_log(root / zone / "audit" / "log.jsonl").ok, zone


@pytest.fixture
def tmpfs() -> Iterator[list[Path]]:
    mounted: list[Path] = []
    yield mounted
    for m in reversed(mounted):
        subprocess.run(["umount", "-l", str(m)], check=False)


def _kib(path: Path, *, allocated: bool = False) -> int:
    """What ``path`` takes on a tmpfs, which gives each file whole 4 KiB pages; with
    ``allocated``, what its files hold on disk (a DuckDB file is sparse until filled)."""

    def one(p: Path) -> int:
        if allocated:
            return p.stat().st_blocks // 2
        return -(-p.stat().st_size // 4096) * 4

    if not path.exists():
        return 0
    if path.is_file():
        return one(path)
    files = sum(one(p) for p in path.rglob("*") if p.is_file())
    return files + 4 * sum(1 for p in path.rglob("*") if p.is_dir())


def _written_kib(step: str, where: str, before: dict[str, Path]) -> int:
    """What a clean run of ``step`` writes under ``where``, measured on a copy."""
    root = _copy(before[step], f"measure-{step}")
    try:
        was = _kib(root / where, allocated=True)
        run(step, root)
        return _kib(root / where, allocated=True) - was
    finally:
        shutil.rmtree(root.parent, ignore_errors=True)


def _mount_full(folder: Path, spare_kib: int, mounted: list[Path]) -> None:
    """Put ``folder``'s contents on a tmpfs with only ``spare_kib`` KiB free."""
    keep = folder.with_name(folder.name + ".orig")
    folder.rename(keep)
    folder.mkdir()
    size = _kib(keep) + spare_kib
    r = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}k,mode=0755", "tmpfs", str(folder)],
        capture_output=True,
        text=True,
        check=False,
    )
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {r.stderr.strip()}")
    mounted.append(folder)
    for child in keep.iterdir():
        if child.is_dir():
            shutil.copytree(child, folder / child.name, symlinks=True)
        else:
            shutil.copy2(child, folder / child.name)


@pytest.mark.parametrize(
    ("step", "where", "spare"),
    [
        ("split", "provider/outbox", 24),
        ("split", "provider/outbox", -1),
        ("load", "databank", 16),
        ("load", "databank/datasets", -1),
        ("provision", "workspaces", 16),
        ("provision", "workspaces", -1),
    ],
)
def test_a_full_disk_is_one_clear_line_and_keeps_nothing(
    step: str, where: str, spare: int, before: dict[str, Path], tmpfs: list[Path]
) -> None:
    root = _copy(before[step], f"full-{step}")
    (root / where).mkdir(parents=True, exist_ok=True)
    if spare < 0:  # room for half of what the step writes: it fails part-way through
        spare = _written_kib(step, where, before) // 2
    argv = _argv(step, root)
    want = _state(root)
    _mount_full(root / where, spare, tmpfs)
    _one_clear_line(_fjdp(argv), "no space left")
    assert _state(root) == want
    _logs_intact(root)


@pytest.mark.parametrize(
    ("step", "locked"),
    [
        ("split", "provider/outbox"),
        ("load", "databank/datasets"),
        ("provision", "workspaces"),
    ],
)
def test_a_denied_permission_is_one_clear_line_and_keeps_nothing(
    step: str, locked: str, before: dict[str, Path]
) -> None:
    root = _copy(before[step], f"denied-{step}")
    (root / locked).mkdir(parents=True, exist_ok=True)
    argv = _argv(step, root)
    want = _state(root)
    # The zones belong to the unprivileged account, all but the folder the step writes.
    subprocess.run(["chown", "-R", f"{NOBODY}:{NOBODY}", str(root)], check=True)
    os.chown(root / locked, 0, 0)
    (root / locked).chmod(0o755)
    probe = _fjdp(["--help"], as_nobody=True)
    if probe.returncode != 0:
        pytest.skip(f"the unprivileged account cannot run fjdp here: {probe.stderr[-200:]}")
    err = _one_clear_line(_fjdp(argv, as_nobody=True), "permission denied")
    assert locked.split("/")[-1] in err, err
    assert _state(root) == want
    _logs_intact(root)
