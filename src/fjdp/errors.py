"""Errors a user can act on, kept apart from bugs.

A :class:`UserError` is something the person running fjdp did or can fix: bad input,
a missing file, a refused operation. The CLI prints it as one line (what, where, what
to do) and exits with the class's stable exit code, never with a traceback. Anything
else that escapes is a bug and keeps its traceback.
"""

from __future__ import annotations

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
