"""Writing a folder so that it appears whole or not at all."""

from __future__ import annotations

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
