"""A zone's audit log: one JSON line per event, each chained to the one before by hash.

The log is append-only by convention and tamper-evident by construction: every record
carries ``prev``, the hash of the record before it, and ``hash``, the SHA-256 of its
own content. Editing a line breaks its own hash; deleting, reordering or inserting a
line breaks the sequence or the chain. :func:`verify_log` re-computes the chain and
names the first broken link, so an auditor knows how far the log can be trusted.

The file is read as bytes and split on ``\\n`` only: canonical JSON keeps U+2028 and
other Unicode line separators unescaped, and a text-mode reader would split on them.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

from fjdp.audit.events import GENESIS, Action, AuditEvent, AuditRecord
from fjdp.errors import InputError, IntegrityError, Location

_TAIL_CHUNK = 64 * 1024
_VERIFY_FIX = "run `fjdp audit verify` on the zone and restore the log from backup"


def _utc_now() -> datetime:
    return datetime.now(UTC)


def format_time(moment: datetime) -> str:
    """ISO 8601 in UTC to the second, with 'Z': sortable and unambiguous across zones."""
    if moment.tzinfo is None:
        raise ValueError("audit times must be timezone-aware; got a naive datetime")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_line(raw: bytes) -> AuditRecord:
    """Parse one line (without its line end) into a record.

    Raises:
        ValueError: the line is not JSON, not UTF-8, or not shaped like a record.
    """
    try:
        data = json.loads(raw.decode("utf-8"), parse_constant=_no_constant)
    except UnicodeDecodeError as exc:
        raise ValueError("it is not valid UTF-8") from exc
    except json.JSONDecodeError as exc:
        raise ValueError(f"it is not valid JSON ({exc.msg} at column {exc.colno})") from exc
    except RecursionError as exc:
        raise ValueError("it is nested too deeply to be a record") from exc
    return AuditRecord.from_dict(data)


def _no_constant(name: str) -> float:
    """NaN and Infinity: Python's JSON reader accepts them, canonical JSON (what every
    record is hashed as) refuses them, so no record holds one."""
    raise ValueError(f"it holds {name}, which is not JSON")


def _last_line(f: BinaryIO) -> bytes | None:
    """The last line of ``f`` with its line end, read from the end backwards.

    Reads only as much of the file as the last line needs, so appending to a log of
    millions of events costs the same as appending to a short one. Returns None for
    an empty file and the unterminated fragment if the file ends mid-line.
    """
    end = f.seek(0, os.SEEK_END)
    if end == 0:
        return None
    tail = b""
    pos = end
    while pos > 0:
        step = min(_TAIL_CHUNK, pos)
        pos -= step
        f.seek(pos)
        tail = f.read(step) + tail
        # Look for the line end before the last line (not the one that ends it).
        cut = tail.rfind(b"\n", 0, len(tail) - 1)
        if cut >= 0:
            return tail[cut + 1 :]
    return tail


class AuditLog:
    """The append-only audit log at ``path`` (usually ``ZONE_DIR/audit/log.jsonl``).

    Each :meth:`append` is durable when it returns (flushed and fsynced), so an event
    is never reported done and then lost in a crash. Appends take an exclusive lock on
    the file so that two processes of one zone cannot fork the chain.
    """

    def __init__(self, path: Path | str, *, clock: Callable[[], datetime] = _utc_now) -> None:
        self.path = Path(path)
        self._clock = clock

    def __repr__(self) -> str:
        return f"AuditLog({str(self.path)!r})"

    def append(self, event: AuditEvent) -> AuditRecord:
        """Write ``event`` as the next record of the chain and return that record.

        Raises:
            IntegrityError: the last line of the log is cut short or was edited;
                chaining onto it would hide the damage, so nothing is written.
        """
        if not isinstance(event, AuditEvent):
            raise TypeError(f"append takes an AuditEvent, not {type(event).__name__}")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a+b") as f:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX)  # released when the file closes
            last = self._checked_last(f)
            record = AuditRecord.seal(
                seq=last.seq + 1 if last else 1,
                time=format_time(self._clock()),
                event=event,
                prev=last.hash if last else GENESIS,
            )
            f.write(record.to_json_line().encode("utf-8") + b"\n")
            f.flush()
            os.fsync(f.fileno())
        if last is None:
            _fsync_dir(self.path.parent)
        return record

    def _checked_last(self, f: BinaryIO) -> AuditRecord | None:
        line = _last_line(f)
        if line is None:
            return None
        where = Location(path=str(self.path))
        if not line.endswith(b"\n"):
            raise IntegrityError(
                "cannot append to the audit log: it ends mid-line", where=where, fix=_VERIFY_FIX
            )
        try:
            last = _parse_line(line[:-1])
        except ValueError as exc:
            raise IntegrityError(
                f"cannot append to the audit log: its last line is not a record: {exc}",
                where=where,
                fix=_VERIFY_FIX,
            ) from exc
        if last.hash != last.expected_hash():
            raise IntegrityError(
                f"cannot append to the audit log: its last event ({last.seq}) was edited",
                where=where,
                fix=_VERIFY_FIX,
            )
        return last

    def iter_records(self) -> Iterator[AuditRecord]:
        """Yield the records as written, one line at a time; the chain is not checked.

        Raises:
            IntegrityError: a line is cut short or is not a record.
        """
        if not self.path.exists():
            return
        with open(self.path, "rb") as f:
            for row, raw in enumerate(f, start=1):
                where = Location(path=str(self.path), row=row)
                if not raw.endswith(b"\n"):
                    raise IntegrityError(
                        "the audit log ends mid-line", where=where, fix=_VERIFY_FIX
                    )
                try:
                    yield _parse_line(raw[:-1])
                except ValueError as exc:
                    raise IntegrityError(
                        f"an audit log line is not a record: {exc}", where=where, fix=_VERIFY_FIX
                    ) from exc

    def records(self) -> list[AuditRecord]:
        """Every record as written; use :func:`verify_log` to check the chain."""
        return list(self.iter_records())

    def __len__(self) -> int:
        """The number of complete lines, counted without parsing (0 if no log yet)."""
        if not self.path.exists():
            return 0
        count = 0
        with open(self.path, "rb") as f:
            while chunk := f.read(1024 * 1024):
                count += chunk.count(b"\n")
        return count


def _fsync_dir(folder: Path) -> None:
    """Make a newly created log's directory entry durable too."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def zone_log(zone_dir: Path | str) -> AuditLog:
    """The audit log of the zone whose folder is ``zone_dir``."""
    return AuditLog(Path(zone_dir) / "audit" / "log.jsonl")


@dataclass(frozen=True)
class Verification:
    """The result of checking a log's hash chain.

    ``events`` counts the records checked good, from the first up to (not including)
    the first bad one; ``head`` is the hash of the last good record (None if there is
    none), which an auditor can note down to check later that nothing before it changed.
    ``first_bad_seq`` is the position (line number, which equals the sequence number in
    an intact log) where the chain first breaks; nothing from there on can be trusted.
    """

    ok: bool
    events: int
    first_bad_seq: int | None
    reason: str | None
    head: str | None


def _find_seq(f: BinaryIO, seq: int) -> int | None:
    """The line number after the current position of ``f`` holding event ``seq``."""
    for row, raw in enumerate(f, start=1):
        try:
            data = json.loads(raw.decode("utf-8"))
        except (ValueError, RecursionError):
            continue
        if isinstance(data, dict) and data.get("seq") == seq:
            return row
    return None


def _out_of_sequence(f: BinaryIO, position: int, found: int) -> str:
    """Explain a record whose ``seq`` is not its position: deleted, moved or repeated."""
    if found < position:
        return (
            f"event {found} appears again at line {position}: events were duplicated, "
            "replayed or reordered"
        )
    offset = _find_seq(f, position)
    if offset is not None:
        return (
            f"events are out of order: line {position} holds event {found}, and event "
            f"{position} comes later, at line {position + offset}"
        )
    if found == position + 1:
        return f"event {position} is missing: line {position} holds event {found}"
    return f"events {position} to {found - 1} are missing: line {position} holds event {found}"


def verify_log(path: Path | str) -> Verification:
    """Re-compute the hash chain of the log at ``path`` and name its first broken link.

    Reads the file once, a line at a time, so memory does not grow with the log.
    Checks, for the line at position N: it is complete and is a record; its hash
    matches its content (else it was edited); it is in canonical form (else its bytes
    were changed); its ``seq`` is N (else an event is missing, moved or repeated); its
    ``prev`` is the hash of line N-1 (else an event was inserted, or replaced with a
    re-computed hash).

    Raises:
        InputError: there is no log at ``path`` or it cannot be read.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(
            "no audit log here" if not path.exists() else "the audit log is not a file",
            where=str(path),
            fix="give the zone folder that holds audit/log.jsonl",
        )
    good = 0
    head: str | None = None

    def broken(position: int, reason: str) -> Verification:
        return Verification(ok=False, events=good, first_bad_seq=position, reason=reason, head=head)

    try:
        with open(path, "rb") as f:
            for position, raw in enumerate(f, start=1):
                if not raw.endswith(b"\n"):
                    return broken(
                        position, f"the log ends mid-line: event {position} was cut short"
                    )
                line = raw[:-1]
                if not line.strip():
                    return broken(
                        position, f"line {position} is blank where event {position} should be"
                    )
                try:
                    record = _parse_line(line)
                except ValueError as exc:
                    return broken(position, f"event {position} is damaged: {exc}")
                if record.hash != record.expected_hash():
                    return broken(
                        position,
                        f"event {position} was edited: its hash does not match its content",
                    )
                if line != record.to_json_line().encode("utf-8"):
                    return broken(
                        position,
                        f"event {position} was edited: its line is not in canonical form",
                    )
                if record.seq != position:
                    return broken(position, _out_of_sequence(f, position, record.seq))
                if record.prev != (head or GENESIS):
                    before = (
                        "the start of the chain (64 zeros)"
                        if head is None
                        else f"the hash of event {position - 1}"
                    )
                    return broken(
                        position,
                        f"event {position} does not follow the event before it: its prev is "
                        f"not {before}; an event was inserted, or replaced and re-hashed",
                    )
                good += 1
                head = record.hash
    except OSError as exc:
        raise InputError(
            f"cannot read the audit log: {exc.strerror or exc}",
            where=str(path),
            fix="check the file's permissions",
        ) from exc
    return Verification(ok=True, events=good, first_bad_seq=None, reason=None, head=head)


def verify_chain(records: Iterable[AuditRecord]) -> Verification:
    """Check a chain of records held somewhere other than a log file (the portal's
    database): each record's hash matches its content, its ``seq`` is its position and
    its ``prev`` is the hash of the record before. Names the first broken link."""
    good = 0
    head: str | None = None
    for position, record in enumerate(records, start=1):
        reason = None
        if record.hash != record.expected_hash():
            reason = f"event {position} was edited: its hash does not match its content"
        elif record.seq != position:
            reason = (
                f"event {position} is missing: the record at position {position} is event "
                f"{record.seq}"
                if record.seq > position
                else f"event {record.seq} appears again at position {position}"
            )
        elif record.prev != (head or GENESIS):
            reason = (
                f"event {position} does not follow the event before it: an event was "
                "inserted, or replaced and re-hashed"
            )
        if reason is not None:
            return Verification(
                ok=False, events=good, first_bad_seq=position, reason=reason, head=head
            )
        good += 1
        head = record.hash
    return Verification(ok=True, events=good, first_bad_seq=None, reason=None, head=head)


def record(
    zone_dir: Path | str,
    *,
    zone: str,
    actor: str,
    role: str,
    obj: str,
    events: Iterable[tuple[Action, Mapping[str, Any]]],
) -> None:
    """Append one event per (action, details) about ``obj`` to the zone's log, in order."""
    log = zone_log(zone_dir)
    for action, details in events:
        log.append(
            AuditEvent(
                zone=zone, actor=actor, role=role, action=action, object=obj, details=dict(details)
            )
        )
