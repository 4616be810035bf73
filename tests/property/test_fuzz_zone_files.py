"""Other files that cross a zone boundary: public key cards (``fjdp zone trust``), audit
logs read by ``fjdp audit verify``, and the deprivation lookup the databank imports
(``fjdp databank reference``); and the ``fjdp`` command itself on a sample of them.

A card is a card or one InputError; a damaged log is BROKEN at a named event, never a
traceback; a lookup is imported whole or refused leaving the zone as it was; the
command exits non-zero with one line on stderr."""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fjdp.audit import verify_log
from fjdp.cli.app import main
from fjdp.databank.reference import import_reference
from fjdp.errors import InputError, UserError
from fjdp.keys import PublicKeyCard, ZoneKeys, init_zone, open_zone
from fjdp.types import Zone
from lib.fuzz import accepted, fuzz_settings, refused, refused_as, snapshot

pytestmark = pytest.mark.fuzz

any_json = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=6,
)
LINE_EDITS = st.sampled_from(
    ["cut", "flip", "drop", "repeat", "swap", "field", "blank", "crlf", "nan", "bignum"]
)


@pytest.fixture(scope="module")
def bank(tmp_path_factory: pytest.TempPathFactory) -> ZoneKeys:
    zone = init_zone(tmp_path_factory.mktemp("zones") / "bank", Zone.DATABANK, actor="tester")
    provider = init_zone(zone.path.parent / "provider", Zone.PROVIDER, actor="tester")
    zone.trust(provider.card, actor="tester")  # a few more audit events
    return zone


def _mutated(doc: dict[str, Any], data: st.DataObject) -> dict[str, Any]:
    doc = dict(doc)
    key = data.draw(st.sampled_from(sorted(doc)) | st.text(max_size=6), label="key")
    if data.draw(st.booleans(), label="remove"):
        doc.pop(key, None)
    else:
        doc[key] = data.draw(any_json | st.sampled_from(["databank", "ttp", "aa" * 32, "zz" * 32]))
    return doc


@fuzz_settings(150)
@given(data=st.data())
def test_a_key_card_is_a_card_or_one_input_error(bank: ZoneKeys, data: st.DataObject) -> None:
    card = json.loads(bank.card.to_json())
    how = data.draw(st.sampled_from(["field", "field", "text", "bytes", "deep", "bignum"]))
    if how == "field":
        text = json.dumps(_mutated(card, data))
    elif how == "text":
        text = data.draw(st.text(max_size=200))
    elif how == "bytes":
        text = data.draw(st.binary(max_size=200)).decode("latin-1")
    elif how == "deep":
        text = "[" * 50_000 + "]" * 50_000
    else:
        text = json.dumps(card)[:-1] + ', "n": ' + "9" * 5000 + "}"
    try:
        got = PublicKeyCard.from_json(text, where="card.json")
    except InputError as exc:
        refused(exc, naming="card.json")
        return
    accepted()
    # The fingerprint covers the keys only: an edited name or zone passes (see the report
    # in docs/checks.md), edited keys never do.
    assert (got.box_public, got.sign_public, got.fingerprint) == (
        bank.card.box_public,
        bank.card.sign_public,
        bank.card.fingerprint,
    )


def _log_lines(zone: ZoneKeys) -> list[bytes]:
    return (zone.path / "audit" / "log.jsonl").read_bytes().split(b"\n")[:-1]


@fuzz_settings(150)
@given(edits=st.lists(LINE_EDITS, min_size=1, max_size=3), data=st.data())
def test_a_damaged_audit_log_is_broken_at_an_event_never_a_crash(
    bank: ZoneKeys, edits: list[str], data: st.DataObject
) -> None:
    lines = _log_lines(bank)
    for edit in edits:
        if not lines:
            break
        i = data.draw(st.integers(0, len(lines) - 1), label="line")
        try:
            record = json.loads(lines[i])
        except ValueError:  # an earlier edit broke it: break it more
            edit = "cut" if edit in ("field", "nan") else edit
        if edit == "cut":
            lines[i] = lines[i][: data.draw(st.integers(0, len(lines[i])))]
        elif edit == "flip":
            j = data.draw(st.integers(0, max(0, len(lines[i]) - 1)))
            if lines[i]:
                lines[i] = (
                    lines[i][:j]
                    + bytes([lines[i][j] ^ data.draw(st.integers(1, 255))])
                    + lines[i][j + 1 :]
                )
        elif edit == "drop":
            del lines[i]
        elif edit == "repeat":
            lines.insert(i, lines[i])
        elif edit == "swap":
            j = data.draw(st.integers(0, len(lines) - 1))
            lines[i], lines[j] = lines[j], lines[i]
        elif edit == "field":
            lines[i] = json.dumps(
                _mutated(record, data), sort_keys=True, separators=(",", ":")
            ).encode()
        elif edit == "blank":
            lines[i] = b""
        elif edit == "crlf":
            lines[i] += b"\r"
        elif edit == "nan":  # a value JSON parsers accept but canonical JSON refuses
            record["details"] = {"x": float(data.draw(st.sampled_from(["nan", "inf", "-inf"])))}
            lines[i] = json.dumps(record, sort_keys=True, separators=(",", ":")).encode()
        else:
            lines[i] = lines[i][:-1] + b',"n":' + b"1" * 5000 + b"}"
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "log.jsonl"
        ending = data.draw(st.sampled_from([b"\n", b"", b"\n\n"]), label="ending")
        path.write_bytes(b"\n".join(lines) + ending if lines else ending)
        result = verify_log(path)
    if result.ok:
        accepted()
        return
    refused_as("Broken")
    assert result.reason and len(result.reason.splitlines()) == 1
    assert result.first_bad_seq is not None and 1 <= result.first_bad_seq <= len(lines) + 2


HEADERS = {
    "synthetic": ["lsoa_code", "lsoa_name", "local_authority", "deprivation_decile"],
    "wimd": ["LSOA code", "LSOA name", "Local Authority name", "WIMD 2019"],
}
cells = st.one_of(
    st.from_regex(r"W0100[0-9]{4}", fullmatch=True),
    st.integers(-3, 2000).map(str),
    st.text(max_size=6),
    st.sampled_from(["", '"', "1e3", "NaN", "10", "1", "0"]),
)


@st.composite
def lookups(draw: st.DrawFn) -> bytes:
    if draw(st.integers(0, 7)) == 0:
        return draw(st.binary(max_size=200))
    header = list(draw(st.sampled_from(sorted(HEADERS.values()))))
    if draw(st.integers(0, 4)) == 0:
        header[draw(st.integers(0, len(header) - 1))] = draw(st.text(max_size=6))
    rows = []
    for i in range(draw(st.integers(0, 12))):
        row = [f"W0100{i:04d}", f"Area {i}", "Cardiff", str(1 + i % 10)]
        if draw(st.integers(0, 3)) == 0:
            row[draw(st.integers(0, 3))] = draw(cells)
        if draw(st.integers(0, 8)) == 0:
            row = row[: draw(st.integers(0, 3))] if draw(st.booleans()) else [*row, draw(cells)]
        rows.append(row)
    text = "\n".join(",".join(r) for r in [header, *rows]) + "\n"
    return text.encode(
        draw(st.sampled_from(["utf-8", "utf-8", "utf-16", "cp1252"])), errors="replace"
    )


@fuzz_settings(30)
@given(data=lookups(), suffix=st.sampled_from([".csv", ".csv", ".csv", ".parquet", ".txt"]))
def test_a_reference_lookup_is_imported_whole_or_changes_nothing(
    bank: ZoneKeys, data: bytes, suffix: str
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        zone_dir = root / "bank"
        shutil.copytree(bank.path, zone_dir)
        zone = open_zone(zone_dir)
        source = root / f"lookup{suffix}"
        source.write_bytes(data)
        before = snapshot(zone_dir, skip=("audit",))
        try:
            n = import_reference(zone, "lsoa_deprivation", source, actor="tester")
        except UserError as exc:
            refused(exc, naming=source)
            assert snapshot(zone_dir, skip=("audit",)) == before
            return
        accepted()
        assert n > 0
        assert (zone_dir / "reference" / "lsoa_deprivation.parquet").is_file()
        assert not list((zone_dir / "reference").glob(".*"))


@fuzz_settings(15)
@given(
    command=st.sampled_from(["trust", "split", "spec", "verify", "check", "reference"]),
    content=st.binary(max_size=120) | st.text(max_size=80).map(str.encode),
)
def test_the_command_refuses_bad_files_with_one_line(
    bank: ZoneKeys, command: str, content: bytes, capsys: pytest.CaptureFixture[str]
) -> None:
    """``fjdp`` itself, on a bad file given to a sample of its commands."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        bad = root / {"spec": "spec.yaml", "check": "SPEC.json", "split": "deaths.csv"}.get(
            command, "file.csv"
        )
        bad.write_bytes(content)
        zone = root / "bank"
        shutil.copytree(bank.path, zone)
        card = zone / "keys" / "card.json"
        args = {
            "trust": ["zone", "trust", str(zone), str(bad)],
            "split": ["provider", "split", str(bad), "--spec", "deaths", "--to-ttp", str(card),
                      "--to-databank", str(card), "--out", str(root / "out"), "--zone", str(bank.path.parent / "provider")],
            "spec": ["specs", "show", str(bad)],
            "verify": ["audit", "verify", str(root)],
            "check": ["outputs", "check", str(bad)],
            "reference": ["databank", "reference", "lsoa_deprivation", str(bad), "--zone", str(zone)],
        }[command]  # fmt: skip
        if command == "verify":
            (root / "audit").mkdir()
            (root / "audit" / "log.jsonl").write_bytes(content)
        capsys.readouterr()
        code = main(args)
        out = capsys.readouterr()
    if code == 0:
        accepted(command)
        return
    refused_as(f"exit{code}")
    lines = [ln for ln in out.err.splitlines() if ln.strip()]
    assert len(lines) == 1, out.err
    assert "Traceback" not in out.err and lines[0].startswith("error:")
