"""The audit log: append and read back, and every kind of tampering named at its first line."""

from __future__ import annotations

import hashlib
import json
import re
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fjdp.audit import (
    Action,
    AuditEvent,
    AuditLog,
    AuditRecord,
    Verification,
    verify_log,
    zone_log,
)
from fjdp.audit.events import GENESIS
from fjdp.errors import EXIT_CODES, InputError, IntegrityError
from fjdp.types import Zone

T0 = datetime(2025, 3, 1, 9, 30, tzinfo=UTC)


def ticking_clock() -> Callable[[], datetime]:
    """A clock that moves one second per call: deterministic times in the log."""
    calls = iter(range(10**9))
    return lambda: T0 + timedelta(seconds=next(calls))


def event(i: int = 0, **details: Any) -> AuditEvent:
    return AuditEvent(
        zone=Zone.PROVIDER,
        actor="alice",
        role="data provider",
        action=Action.SPLIT,
        object=f"extract-{i}",
        details={"rows": 100 + i, **details},
    )


def write_log(path: Path, n: int) -> list[AuditRecord]:
    log = AuditLog(path, clock=ticking_clock())
    return [log.append(event(i)) for i in range(n)]


def lines(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines(keepends=True)


def rewrite(path: Path, new_lines: list[bytes]) -> None:
    path.write_bytes(b"".join(new_lines))


def edited_line(raw: bytes, change: Callable[[dict[str, Any]], None]) -> bytes:
    """The line with ``change`` applied to its record, the hash left as it was."""
    data = json.loads(raw)
    change(data)
    return (
        json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        + b"\n"
    )


def rehashed_line(data: dict[str, Any]) -> bytes:
    """What a forger with the code would write: a record whose own hash is right."""
    content = {k: v for k, v in data.items() if k != "hash"}
    text = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    data = {**content, "hash": hashlib.sha256(text.encode("utf-8")).hexdigest()}
    return AuditRecord.from_dict(data).to_json_line().encode("utf-8") + b"\n"


def assert_broken_at(
    result: Verification, seq: int, records: list[AuditRecord], *words: str
) -> None:
    assert not result.ok
    assert result.first_bad_seq == seq, result.reason
    assert result.events == seq - 1
    assert result.head == (records[seq - 2].hash if seq > 1 else None)
    assert result.reason is not None
    for word in words:
        assert word in result.reason, result.reason


# --- appending and reading back --------------------------------------------------------------


def test_append_then_verify_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "zone" / "audit" / "log.jsonl"  # parent folders do not exist yet
    written = write_log(path, 5)

    log = AuditLog(path)
    assert log.records() == written
    assert len(log) == 5
    assert [r.seq for r in written] == [1, 2, 3, 4, 5]
    assert written[0].prev == GENESIS
    assert [r.prev for r in written[1:]] == [r.hash for r in written[:-1]]
    assert written[0].time == "2025-03-01T09:30:00Z"
    assert written[1].time == "2025-03-01T09:30:01Z"
    assert verify_log(path) == Verification(
        ok=True, events=5, first_bad_seq=None, reason=None, head=written[-1].hash
    )


def test_hash_is_sha256_of_canonical_json_without_hash(tmp_path: Path) -> None:
    """Anyone can re-compute the chain from the documented rule, without fjdp."""
    path = tmp_path / "log.jsonl"
    write_log(path, 2)
    prev = "0" * 64
    for raw in lines(path):
        data = json.loads(raw)
        assert raw == json.dumps(data, sort_keys=True, separators=(",", ":")).encode() + b"\n"
        body = {k: v for k, v in data.items() if k != "hash"}
        canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        assert data["hash"] == hashlib.sha256(canonical.encode("utf-8")).hexdigest()
        assert data["prev"] == prev
        prev = data["hash"]


def test_record_json_line_round_trips(tmp_path: Path) -> None:
    record = write_log(tmp_path / "log.jsonl", 1)[0]
    assert AuditRecord.from_dict(json.loads(record.to_json_line())) == record
    assert record.expected_hash() == record.hash
    assert record.zone == "provider" and type(record.zone) is str
    assert record.action == "split"


def test_default_clock_writes_utc_seconds_with_z(tmp_path: Path) -> None:
    record = AuditLog(tmp_path / "log.jsonl").append(event())
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", record.time)


def test_a_naive_clock_is_refused(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "log.jsonl", clock=lambda: datetime(2025, 1, 1))
    with pytest.raises(ValueError, match="timezone"):
        log.append(event())


def test_a_new_log_object_continues_the_chain(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    first = write_log(path, 3)
    more = AuditLog(path).append(event(9))
    assert more.seq == 4 and more.prev == first[-1].hash
    assert verify_log(path).ok


def test_append_reads_only_the_tail_even_past_a_long_last_line(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    log = AuditLog(path)
    log.append(event(0))
    big = log.append(event(1, blob="x" * 200_000))  # longer than one tail read
    after = log.append(event(2))
    assert (after.seq, after.prev) == (3, big.hash)
    assert verify_log(path).ok


def test_unicode_line_separators_in_details_do_not_split_lines(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    log = AuditLog(path)
    log.append(event(0, note="a\u2028b\u2029c\x85d\re\nf"))
    log.append(event(1, note="ünïcødé ✓"))
    assert len(log) == 2
    assert [r.details["note"] for r in log.records()] == ["a\u2028b\u2029c\x85d\re\nf", "ünïcødé ✓"]
    assert verify_log(path).ok


def test_zone_log_lives_in_the_zone_audit_folder(tmp_path: Path) -> None:
    log = zone_log(tmp_path / "ttp")
    assert log.path == tmp_path / "ttp" / "audit" / "log.jsonl"
    assert len(log) == 0 and log.records() == []
    log.append(event())
    assert log.path.is_file()


def test_an_empty_log_verifies_with_no_head(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    path.touch()
    assert verify_log(path) == Verification(
        ok=True, events=0, first_bad_seq=None, reason=None, head=None
    )


def test_verifying_a_missing_log_is_an_input_error(tmp_path: Path) -> None:
    path = tmp_path / "nowhere" / "log.jsonl"
    with pytest.raises(InputError) as info:
        verify_log(path)
    assert str(path) in info.value.message()
    assert "no audit log" in info.value.message()
    assert info.value.exit_code == 3


def test_integrity_error_has_its_own_exit_code() -> None:
    assert IntegrityError.exit_code == 6
    assert EXIT_CODES["IntegrityError"] == 6
    assert len(set(EXIT_CODES.values())) == len(EXIT_CODES)  # never reuse a code


# --- events are typed and JSON-safe ----------------------------------------------------------


def test_event_takes_an_action_value_and_refuses_unknown_ones() -> None:
    e = AuditEvent("ttp", "bob", "linkage operator", "key.use", "k1")  # type: ignore[arg-type]
    assert e.action is Action.KEY_USE
    with pytest.raises(ValueError, match=r"key\.steal"):
        AuditEvent("ttp", "bob", "linkage operator", "key.steal", "k1")  # type: ignore[arg-type]


def test_event_details_are_frozen_copies() -> None:
    details: dict[str, Any] = {"rows": 1, "files": ("a", "b")}
    e = AuditEvent("ttp", "bob", "linkage operator", Action.RECEIVE, "file1", details)
    details["rows"] = 2
    assert e.details == {"rows": 1, "files": ["a", "b"]}  # as it will read back from JSON
    with pytest.raises(TypeError):
        e.details["rows"] = 3  # type: ignore[index]


@pytest.mark.parametrize(
    ("details", "error"),
    [
        ({"ratio": float("nan")}, ValueError),
        ({"ratio": float("inf")}, ValueError),
        ({1: "int key"}, TypeError),
        ({"when": datetime(2025, 1, 1, tzinfo=UTC)}, TypeError),
        ({"ids": {"a", "b"}}, TypeError),
    ],
)
def test_event_details_must_survive_json(details: dict[Any, Any], error: type[Exception]) -> None:
    with pytest.raises(error):
        AuditEvent("ttp", "bob", "linkage operator", Action.LINK, "x", details)


def test_event_needs_who_and_where() -> None:
    with pytest.raises(ValueError, match="actor"):
        AuditEvent("ttp", "", "linkage operator", Action.LINK, "x")


def test_from_dict_refuses_fields_the_hash_would_not_cover(tmp_path: Path) -> None:
    record = write_log(tmp_path / "log.jsonl", 1)[0]
    with pytest.raises(ValueError, match="unexpected field 'approved_by'"):
        AuditRecord.from_dict({**record.to_dict(), "approved_by": "mallory"})
    with pytest.raises(ValueError, match="no field 'prev'"):
        AuditRecord.from_dict({k: v for k, v in record.to_dict().items() if k != "prev"})
    with pytest.raises(ValueError, match="seq"):
        AuditRecord.from_dict({**record.to_dict(), "seq": True})


# --- tampering: each kind is found at its first line and named ---------------------------------


@pytest.fixture
def ten(tmp_path: Path) -> tuple[Path, list[AuditRecord]]:
    path = tmp_path / "log.jsonl"
    return path, write_log(path, 10)


def test_edited_detail_value_is_found(ten: tuple[Path, list[AuditRecord]]) -> None:
    path, records = ten
    rows = lines(path)
    rows[3] = edited_line(rows[3], lambda d: d["details"].update(rows=99))
    rewrite(path, rows)
    assert_broken_at(verify_log(path), 4, records, "event 4 was edited", "hash does not match")


def test_deleted_middle_line_is_found(ten: tuple[Path, list[AuditRecord]]) -> None:
    path, records = ten
    rows = lines(path)
    del rows[4]
    rewrite(path, rows)
    assert_broken_at(verify_log(path), 5, records, "event 5 is missing")


def test_deleted_run_of_lines_is_named(ten: tuple[Path, list[AuditRecord]]) -> None:
    path, records = ten
    rows = lines(path)
    del rows[4:7]
    rewrite(path, rows)
    assert_broken_at(verify_log(path), 5, records, "events 5 to 7 are missing")


def test_swapped_lines_are_found(ten: tuple[Path, list[AuditRecord]]) -> None:
    path, records = ten
    rows = lines(path)
    rows[3], rows[4] = rows[4], rows[3]
    rewrite(path, rows)
    assert_broken_at(
        verify_log(path), 4, records, "out of order", "line 4 holds event 5", "at line 5"
    )


def test_truncated_last_line_is_found(ten: tuple[Path, list[AuditRecord]]) -> None:
    path, records = ten
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 40])
    assert_broken_at(verify_log(path), 10, records, "ends mid-line", "event 10")


def test_missing_final_newline_is_found(ten: tuple[Path, list[AuditRecord]]) -> None:
    path, records = ten
    path.write_bytes(path.read_bytes()[:-1])
    assert_broken_at(verify_log(path), 10, records, "ends mid-line")


def test_inserted_forged_line_is_found(ten: tuple[Path, list[AuditRecord]]) -> None:
    """A forger who re-computes the hash still cannot know what ``prev`` to chain to."""
    path, records = ten
    rows = lines(path)
    forged = {**json.loads(rows[3]), "object": "forged", "prev": "ab" * 32}
    rows.insert(3, rehashed_line(forged))
    rewrite(path, rows)
    assert_broken_at(verify_log(path), 4, records, "event 4 does not follow", "inserted")


def test_replaced_and_rehashed_line_breaks_the_next_link(
    ten: tuple[Path, list[AuditRecord]],
) -> None:
    path, _records = ten
    rows = lines(path)
    rows[3] = rehashed_line({**json.loads(rows[3]), "actor": "mallory"})
    rewrite(path, rows)
    result = verify_log(path)
    assert result.first_bad_seq == 5 and result.reason is not None
    assert "prev is not the hash of event 4" in result.reason


def test_duplicated_line_is_found(ten: tuple[Path, list[AuditRecord]]) -> None:
    path, records = ten
    rows = lines(path)
    rows.insert(4, rows[3])
    rewrite(path, rows)
    assert_broken_at(verify_log(path), 5, records, "event 4 appears again at line 5")


def test_first_event_must_start_the_chain(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    records = write_log(path, 3)
    rows = lines(path)
    rows[0] = rehashed_line({**json.loads(rows[0]), "prev": "cd" * 32})
    rewrite(path, rows)
    assert_broken_at(verify_log(path), 1, records, "start of the chain")


@pytest.mark.parametrize(
    ("damage", "words"),
    [
        (lambda raw: raw.replace(b'","', b'", "', 1), "canonical form"),
        (lambda raw: raw[:-2] + b',"approved_by":"mallory"}\n', "unexpected field"),
        (lambda raw: b"\n", "blank"),
        (lambda raw: b"not json\n", "not valid JSON"),
        (lambda raw: b"\xff" + raw, "UTF-8"),
    ],
)
def test_other_damage_to_a_line_is_found(
    ten: tuple[Path, list[AuditRecord]], damage: Callable[[bytes], bytes], words: str
) -> None:
    path, records = ten
    rows = lines(path)
    rows[6] = damage(rows[6])
    rewrite(path, rows)
    assert_broken_at(verify_log(path), 7, records, words)


def test_append_refuses_to_chain_onto_a_cut_or_edited_tail(
    ten: tuple[Path, list[AuditRecord]],
) -> None:
    path, _ = ten
    rows = lines(path)
    for bad_tail in (rows[-1][:-30], edited_line(rows[-1], lambda d: d.update(actor="eve"))):
        rewrite(path, [*rows[:-1], bad_tail])
        before = path.read_bytes()
        with pytest.raises(IntegrityError) as info:
            AuditLog(path).append(event())
        assert path.read_bytes() == before
        assert "audit verify" in info.value.message()
        assert info.value.exit_code == 6


def test_reading_records_of_a_cut_log_is_an_integrity_error(
    ten: tuple[Path, list[AuditRecord]],
) -> None:
    path, _ = ten
    path.write_bytes(path.read_bytes()[:-20])
    with pytest.raises(IntegrityError, match="row 10"):
        AuditLog(path).records()


# --- properties ------------------------------------------------------------------------------

json_scalars: st.SearchStrategy[Any] = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=8),
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=4,
)
events = st.builds(
    AuditEvent,
    zone=st.sampled_from(list(Zone)),
    actor=st.text(min_size=1, max_size=10),
    role=st.sampled_from(["data provider", "linkage operator", "data manager", "auditor"]),
    action=st.sampled_from(list(Action)),
    object=st.text(max_size=10),
    details=st.dictionaries(st.text(max_size=6), json_values, max_size=4),
)
hex64 = st.text(alphabet="0123456789abcdef", min_size=64, max_size=64)
new_values: dict[str, st.SearchStrategy[Any]] = {
    "seq": st.integers(min_value=1, max_value=10**6),
    "time": st.text(max_size=25),
    "zone": st.text(max_size=10),
    "actor": st.text(max_size=10),
    "role": st.text(max_size=10),
    "action": st.text(max_size=10),
    "object": st.text(max_size=10),
    "details": st.dictionaries(st.text(max_size=6), json_values, max_size=4),
    "prev": hex64,
    "hash": hex64,
}


@settings(max_examples=100, deadline=None)
@given(evs=st.lists(events, min_size=1, max_size=8), data=st.data())
def test_any_single_line_edit_is_found_at_exactly_that_line(
    evs: list[AuditEvent], data: st.DataObject
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "log.jsonl"
        log = AuditLog(path, clock=ticking_clock())
        records = [log.append(e) for e in evs]
        assert verify_log(path) == Verification(True, len(evs), None, None, records[-1].hash)

        k = data.draw(st.integers(min_value=1, max_value=len(evs)), label="line")
        name = data.draw(st.sampled_from(sorted(new_values)), label="field")
        old = records[k - 1].to_dict()[name]
        new = data.draw(new_values[name].filter(lambda v: v != old), label="new value")
        rows = lines(path)
        rows[k - 1] = edited_line(rows[k - 1], lambda d: d.update({name: new}))
        rewrite(path, rows)

        assert_broken_at(verify_log(path), k, records)


@settings(max_examples=100, deadline=None)
@given(evs=st.lists(events, min_size=1, max_size=8), data=st.data())
def test_any_single_byte_change_is_found_at_exactly_that_line(
    evs: list[AuditEvent], data: st.DataObject
) -> None:
    """Whatever byte changes, the log is never taken as intact, and never blamed earlier."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "log.jsonl"
        log = AuditLog(path, clock=ticking_clock())
        records = [log.append(e) for e in evs]
        rows = lines(path)
        k = data.draw(st.integers(min_value=1, max_value=len(evs)), label="line")
        line = rows[k - 1]
        at = data.draw(st.integers(min_value=0, max_value=len(line) - 2), label="byte")
        new = data.draw(
            st.integers(min_value=0, max_value=255).filter(lambda b: b not in (line[at], 10)),
            label="new byte",
        )
        rows[k - 1] = line[:at] + bytes([new]) + line[at + 1 :]
        rewrite(path, rows)

        assert_broken_at(verify_log(path), k, records)


def test_verify_chain_checks_records_held_outside_a_file() -> None:
    """The portal keeps its chain in a database; the same rules apply."""
    from fjdp.audit import verify_chain
    from fjdp.audit.events import GENESIS

    records = []
    prev = GENESIS
    for seq in (1, 2, 3):
        event = AuditEvent(zone="portal", actor="a", role="r", action=Action.LOGIN, object="o")
        rec = AuditRecord.seal(seq=seq, time="2026-01-01T00:00:00Z", event=event, prev=prev)
        records.append(rec)
        prev = rec.hash
    assert verify_chain(records).ok
    assert verify_chain(records).events == 3
    edited = AuditRecord(**{**records[1].to_dict(), "actor": "mallory"})
    bad = verify_chain([records[0], edited, records[2]])
    assert not bad.ok and bad.first_bad_seq == 2 and "edited" in (bad.reason or "")
    gap = verify_chain([records[0], records[2]])
    assert not gap.ok and gap.first_bad_seq == 2 and "missing" in (gap.reason or "")


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_a_line_holding_nan_is_broken_not_a_crash(tmp_path: Path, constant: str) -> None:
    # Python's JSON reader accepts NaN; the canonical JSON a record is hashed as does not.
    log = AuditLog(tmp_path / "log.jsonl")
    log.append(AuditEvent(zone="ttp", actor="a", role="r", action=Action.ZONE_INIT, object="o"))
    line = (
        (tmp_path / "log.jsonl")
        .read_text()
        .replace('"details":{}', f'"details":{{"x":{constant}}}')
    )
    (tmp_path / "log.jsonl").write_text(line)
    result = verify_log(tmp_path / "log.jsonl")
    assert not result.ok and result.first_bad_seq == 1
    assert f"it holds {constant}" in (result.reason or "")
    with pytest.raises(IntegrityError, match="last line is not a record"):
        log.append(AuditEvent(zone="ttp", actor="a", role="r", action=Action.ZONE_INIT, object="o"))
