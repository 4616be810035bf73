"""Writing a folder so that it appears whole or not at all."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from fjdp.errors import OutputError


@contextmanager
def staged_or_removed(staging: Path, *, what: str, where: Path, fix: str) -> Iterator[None]:
    """Run the body that fills ``staging`` (and renames it into place); on any failure
    remove ``staging``. An operating-system error becomes a one-line ``OutputError``
    ("cannot <what> (<reason>)"); anything else propagates unchanged."""
    try:
        yield
    except OSError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise OutputError(
            f"cannot {what} ({exc.strerror or type(exc).__name__})", where=str(where), fix=fix
        ) from None
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def pid_alive(pid: int) -> bool:
    """Whether a process with this id is running (a process of another account counts)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # pragma: no cover - another account's process
        return True
    return True


_OWNED = re.compile(r"\.(\d+)\.partial$|\.(\d+)$")


def remove_left_by_dead(folder: Path, pattern: str) -> list[Path]:
    """Remove entries of ``folder`` matching ``pattern`` whose name ends with the id of a
    process that is no longer running (``.<pid>.partial`` or ``.<pid>``): what a killed
    run left. Entries of running processes, and entries without an id, are kept."""
    removed: list[Path] = []
    if not folder.is_dir():
        return removed
    for entry in folder.glob(pattern):
        m = _OWNED.search(entry.name)
        if m is None:
            continue
        pid = int(m.group(1) or m.group(2))
        if pid == os.getpid() or pid_alive(pid):
            continue
        shutil.rmtree(entry, ignore_errors=True)
        removed.append(entry)
    return removed
