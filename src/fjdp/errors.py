"""Errors a user can act on, kept apart from bugs.

A :class:`UserError` is something the person running fjdp did or can fix: bad input,
a missing file, a refused operation. The CLI prints it as one line (what, where, what
to do) and exits with the class's stable exit code, never with a traceback. Anything
else that escapes is a bug and keeps its traceback.
"""

from __future__ import annotations

import errno
from dataclasses import dataclass

_LINE_BREAKS = dict.fromkeys(map(ord, "\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029"), " ")
"""What ``str.splitlines`` splits on: each becomes a space in a message."""


@dataclass(frozen=True)
class Location:
    """Where a problem is: a file and, when known, the row and column within it."""

    path: str | None = None
    row: int | None = None
    column: str | None = None

    def __str__(self) -> str:
        parts = []
        if self.path is not None:
            parts.append(self.path)
        if self.row is not None:
            parts.append(f"row {self.row}")
        if self.column is not None:
            parts.append(f"column {self.column!r}")
        return ", ".join(parts)


class FjdpError(Exception):
    """Base of every error fjdp raises on purpose."""


class UserError(FjdpError):
    """A problem the user can fix. Subclasses fix the exit code; never reuse a code."""

    exit_code = 2

    def __init__(self, what: str, *, where: Location | str | None = None, fix: str | None = None):
        self.what = what
        self.where = where if isinstance(where, Location | None) else Location(path=where)
        self.fix = fix
        super().__init__(self.message())

    def message(self) -> str:
        """The single line shown to the user: what; where; what to do."""
        text = self.what
        if self.where is not None and str(self.where):
            text += f" ({self.where})"
        if self.fix:
            text += f"; {self.fix}"
        # Any line break a file's contents put in the message (\r, \u2028, ...), not only \n.
        return text.translate(_LINE_BREAKS)


class UsageError(UserError):
    """An argument or option is out of range or contradicts another."""

    exit_code = 2


class InputError(UserError):
    """An input file is missing, unreadable or malformed."""

    exit_code = 3


class OutputError(UserError):
    """An output location cannot be written, or would overwrite something kept."""

    exit_code = 4


class RefusedError(UserError):
    """The operation is not allowed: wrong zone, bad signature, separation of duties."""

    exit_code = 5


class IntegrityError(UserError):
    """A record that must not change has changed: an audit log's hash chain is broken."""

    exit_code = 6


class GovernanceError(UserError):
    """A governance rule forbids it: separation of duties, an unaccredited person, a
    project in the wrong state for the step, a decision someone may not take."""

    exit_code = 7


EXIT_CODES: dict[str, int] = {
    cls.__name__: cls.exit_code
    for cls in (UsageError, InputError, OutputError, RefusedError, IntegrityError, GovernanceError)
}


# What the operating system can refuse that the person running fjdp can put right: the
# disk is full, the account may not write there, the file system is read-only. Libraries
# report these in their own exception types (DuckDB's IOException, Arrow's), often with
# only the system's text, so both the errno and that text are recognised.
_SYSTEM_REFUSALS: tuple[tuple[frozenset[int], str, str, str], ...] = (
    (
        frozenset({errno.ENOSPC, errno.EDQUOT}),
        "No space left on device",
        "no space left on the device",
        "free space on that disk (or use a folder on another one) and run the command "
        "again; what this step had written was not kept",
    ),
    (
        frozenset({errno.EACCES, errno.EPERM}),
        "Permission denied",
        "permission denied",
        "run the command as the zone's service account, or give that account access to "
        "the folder; what this step had written was not kept",
    ),
    (
        frozenset({errno.EROFS}),
        "Read-only file system",
        "the file system is read-only",
        "use a writable folder and run the command again",
    ),
)


def from_system_error(exc: BaseException) -> OutputError | None:
    """The :class:`OutputError` a full disk, a denied permission or a read-only file
    system becomes, or None for anything else (a bug keeps its traceback)."""
    code = exc.errno if isinstance(exc, OSError) else None
    text = str(exc)
    for codes, marker, what, fix in _SYSTEM_REFUSALS:
        if code in codes or marker in text:
            where = getattr(exc, "filename", None)
            if where is None:
                # DuckDB and Arrow name the file in their text: keep its first line.
                detail = text.strip().splitlines()[0] if text.strip() else ""
                return OutputError(f"{what}: {detail}" if detail else what, fix=fix)
            return OutputError(what, where=str(where), fix=fix)
    return None
