"""Envelopes and bundles crossing from a provider zone to a TTP zone, and every refusal."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from fjdp.errors import InputError, OutputError, RefusedError
from fjdp.keys import ZoneKeys, init_zone
from fjdp.transfer import Manifest, open_envelope, read_bundle, seal_file, write_bundle
from fjdp.transfer.envelope import CHUNK
from fjdp.types import Zone

ACTOR = "tester"
PREFIX = 8 + 32 + 80 + 24  # magic, fingerprint, sealed file key, secretstream header
COUNTS = {"rows_in": 7, "rows_accepted": 5, "rows_quarantined": 2}


@dataclass
class World:
    root: Path
    provider: ZoneKeys
    other_provider: ZoneKeys
    ttp: ZoneKeys
    bank: ZoneKeys
    tables: list[tuple[str, Path, int]]


@pytest.fixture
def world(tmp_path: Path) -> World:
    provider = init_zone(tmp_path / "provider", Zone.PROVIDER, actor=ACTOR)
    other = init_zone(tmp_path / "provider2", Zone.PROVIDER, actor=ACTOR)
    ttp = init_zone(tmp_path / "ttp", Zone.TTP, actor=ACTOR)
    bank = init_zone(tmp_path / "bank", Zone.DATABANK, actor=ACTOR)
    ttp.trust(provider.card, actor=ACTOR)
    bank.trust(provider.card, actor=ACTOR)
    plain = tmp_path / "plain"
    plain.mkdir()
    people = pa.table({"system_id": ["a", "b", "c", "d", "e"], "sex": [1, 2, 1, 2, 9]})
    cases = pa.table({"system_id": ["a", "c"], "case_no": ["X1", "X2"]})
    pq.write_table(people, plain / "people.parquet")
    pq.write_table(cases, plain / "cases.parquet")
    tables = [("people", plain / "people.parquet", 5), ("cases", plain / "cases.parquet", 2)]
    return World(tmp_path, provider, other, ttp, bank, tables)


def send(w: World, sender: ZoneKeys | None = None, to: ZoneKeys | None = None) -> Path:
    out = w.root / "outbox" / "bundle1"
    write_bundle(
        out,
        dataset="care_proceedings",
        extract_id="2024-Q1",
        spec_version="1.0",
        kind="file1",
        files=w.tables,
        counts=COUNTS,
        sender=sender or w.provider,
        recipient=(to or w.ttp).card,
    )
    return out


def assert_refused(
    w: World, bundle: Path, receiver: ZoneKeys | None = None, match: str = ""
) -> RefusedError:
    dest = w.root / "inbox" / "received"
    with pytest.raises(RefusedError, match=match) as info:
        read_bundle(bundle, receiver or w.ttp, dest)
    message = info.value.message()
    assert "\n" not in message
    assert str(bundle) in message  # names the bundle (or a file inside it)
    assert ";" in message  # says what to do
    assert not dest.exists()
    leftovers = list(dest.parent.iterdir()) if dest.parent.exists() else []
    assert leftovers == []  # no staging folder either
    return info.value


def flip(path: Path, position: int) -> None:
    data = bytearray(path.read_bytes())
    data[position] ^= 0x01
    path.write_bytes(bytes(data))


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --- envelopes --------------------------------------------------------------------------


@pytest.mark.parametrize("size", [0, 1, 3 * CHUNK, 3 * CHUNK + 123], ids=str)
def test_seal_and_open_round_trip(world: World, size: int) -> None:
    src = world.root / "src.bin"
    src.write_bytes(os.urandom(size))
    env = world.root / "src.env"
    digest = seal_file(src, env, world.ttp.card)
    assert digest == sha256(env)
    chunks = max(1, -(-size // CHUNK))
    assert env.stat().st_size == PREFIX + size + 17 * chunks
    out = world.root / "out.bin"
    open_envelope(env, out, world.ttp)
    assert out.read_bytes() == src.read_bytes()
    assert not list(world.root.glob(".*partial"))


def test_sealing_twice_gives_different_envelopes(world: World) -> None:
    src = world.root / "src.bin"
    src.write_bytes(b"same plaintext")
    a = seal_file(src, world.root / "a.env", world.ttp.card)
    b = seal_file(src, world.root / "b.env", world.ttp.card)
    assert a != b  # a fresh file key each time


@pytest.fixture
def big_envelope(world: World) -> Path:
    src = world.root / "big.bin"
    src.write_bytes(os.urandom(3 * CHUNK))
    env = world.root / "big.env"
    seal_file(src, env, world.ttp.card)
    return env


def _open_refused(world: World, env: Path, match: str) -> None:
    out = world.root / "out.bin"
    with pytest.raises(RefusedError, match=match) as info:
        open_envelope(env, out, world.ttp)
    assert str(env) in info.value.message()
    assert not out.exists()
    assert not list(world.root.glob(".*partial"))


@pytest.mark.parametrize(
    ("where", "match"),
    [
        ("magic", "not an fjdp envelope"),
        ("fingerprint", "addressed to key"),
        ("sealed-key", "file key cannot be opened"),
        ("stream-header", "chunk 1 fails authentication"),
        ("middle", "chunk 2 fails authentication"),
        ("end", "chunk 3 fails authentication"),
    ],
)
def test_open_refuses_a_flipped_byte(
    world: World, big_envelope: Path, where: str, match: str
) -> None:
    size = big_envelope.stat().st_size
    position = {
        "magic": 3,
        "fingerprint": 8 + 5,
        "sealed-key": 8 + 32 + 40,
        "stream-header": PREFIX - 3,
        "middle": size // 2,
        "end": size - 1,
    }[where]
    flip(big_envelope, position)
    _open_refused(world, big_envelope, match)


@pytest.mark.parametrize(
    ("cut", "match"),
    [
        (lambda size: size - 1, "chunk 3 fails authentication"),
        (lambda size: PREFIX + 2 * (CHUNK + 17), "truncated"),  # at a chunk boundary
        (lambda size: PREFIX - 10, "truncated"),
        (lambda size: 0, "not an fjdp envelope"),
    ],
    ids=["last-byte", "chunk-boundary", "inside-header", "empty"],
)
def test_open_refuses_a_truncated_envelope(
    world: World, big_envelope: Path, cut: Callable[[int], int], match: str
) -> None:
    size = big_envelope.stat().st_size
    with open(big_envelope, "r+b") as fh:
        fh.truncate(cut(size))
    _open_refused(world, big_envelope, match)


def test_open_refuses_data_after_the_final_chunk(world: World, big_envelope: Path) -> None:
    with open(big_envelope, "ab") as fh:
        fh.write(b"\0")
    _open_refused(world, big_envelope, "after its final chunk")


def test_open_refuses_an_envelope_for_another_zone(world: World) -> None:
    src = world.root / "src.bin"
    src.write_bytes(b"for the bank")
    env = world.root / "bank.env"
    seal_file(src, env, world.bank.card)
    _open_refused(world, env, "not this ttp zone's key")


def test_seal_of_a_missing_file_is_an_input_error(world: World) -> None:
    with pytest.raises(InputError, match="cannot read the file to encrypt"):
        seal_file(world.root / "nope", world.root / "x.env", world.ttp.card)
    assert not (world.root / "x.env").exists()


# --- bundles ----------------------------------------------------------------------------


def test_bundle_round_trip(world: World) -> None:
    bundle = send(world)
    assert sorted(p.name for p in bundle.iterdir()) == [
        "cases.env",
        "manifest.json",
        "manifest.sig",
        "people.env",
    ]
    raw = (bundle / "manifest.json").read_bytes()
    assert raw == json.dumps(json.loads(raw), sort_keys=True, separators=(",", ":")).encode()
    assert not list((world.root / "outbox").glob(".*"))

    dest = world.root / "inbox" / "received"
    manifest = read_bundle(bundle, world.ttp, dest)
    assert manifest.sender_zone is Zone.PROVIDER
    assert manifest.recipient_zone is Zone.TTP
    assert manifest.sender_fingerprint == world.provider.card.fingerprint
    assert manifest.counts == COUNTS
    assert [(f.table, f.rows) for f in manifest.files] == [("people", 5), ("cases", 2)]
    for table, path, _ in world.tables:
        out = dest / f"{table}.parquet"
        assert out.read_bytes() == path.read_bytes()
        assert pq.read_table(out).equals(pq.read_table(path))
    assert sorted(p.name for p in dest.parent.iterdir()) == ["received"]


def test_read_bundle_into_an_existing_folder_is_an_output_error(world: World) -> None:
    bundle = send(world)
    dest = world.root / "inbox"
    dest.mkdir()
    with pytest.raises(OutputError, match="already exists"):
        read_bundle(bundle, world.ttp, dest)


def test_read_bundle_of_a_missing_folder_is_an_input_error(world: World) -> None:
    with pytest.raises(InputError, match="bundle folder does not exist"):
        read_bundle(world.root / "nope", world.ttp, world.root / "inbox" / "x")


def test_write_bundle_refuses_wrong_row_counts(world: World) -> None:
    table, path, _ = world.tables[0]
    with pytest.raises(InputError, match="has 5 rows, not the 6 declared"):
        write_bundle(
            world.root / "outbox" / "b",
            dataset="d",
            extract_id="e",
            spec_version="1",
            kind="file1",
            files=[(table, path, 6)],
            counts=COUNTS,
            sender=world.provider,
            recipient=world.ttp.card,
        )
    assert not (world.root / "outbox" / "b").exists()


@pytest.mark.parametrize("where", ["header", "middle", "end"])
def test_bundle_with_a_flipped_envelope_byte_is_refused(world: World, where: str) -> None:
    bundle = send(world)
    env = bundle / "people.env"
    size = env.stat().st_size
    flip(env, {"header": 20, "middle": size // 2, "end": size - 1}[where])
    assert_refused(world, bundle, match="SHA-256 differs")


def test_bundle_with_a_truncated_envelope_is_refused(world: World) -> None:
    bundle = send(world)
    env = bundle / "cases.env"
    with open(env, "r+b") as fh:
        fh.truncate(env.stat().st_size - 17)
    assert_refused(world, bundle, match="bytes, the manifest says")


def test_bundle_with_an_edited_manifest_is_refused(world: World) -> None:
    bundle = send(world)
    data = json.loads((bundle / "manifest.json").read_bytes())
    data["counts"] = {"rows_in": 6, "rows_accepted": 5, "rows_quarantined": 1}
    text = json.dumps(data, sort_keys=True, separators=(",", ":"))
    (bundle / "manifest.json").write_text(text)
    assert_refused(world, bundle, match="signature does not verify")


@pytest.mark.parametrize("missing", ["manifest.json", "manifest.sig"])
def test_bundle_without_manifest_or_signature_is_refused(world: World, missing: str) -> None:
    bundle = send(world)
    (bundle / missing).unlink()
    assert_refused(world, bundle, match=f"bundle has no {missing}")


def test_bundle_addressed_to_the_databank_is_refused_by_the_ttp(world: World) -> None:
    bundle = send(world, to=world.bank)
    error = assert_refused(world, bundle, match="addressed to the databank, not this ttp zone")
    assert "databank zone's folder" in error.message()
    # ... and the databank itself accepts it.
    read_bundle(bundle, world.bank, world.root / "bank-inbox")


def test_bundle_from_an_untrusted_sender_is_refused(world: World) -> None:
    lonely_ttp = init_zone(world.root / "ttp2", Zone.TTP, actor=ACTOR)  # trusts no provider
    bundle = send(world, to=lonely_ttp)
    error = assert_refused(world, bundle, lonely_ttp, match="trusts no provider zone")
    assert "fjdp zone trust" in error.message()


def test_bundle_signed_by_another_provider_key_is_refused(world: World) -> None:
    bundle = send(world, sender=world.other_provider)
    assert_refused(world, bundle, match="not the trusted provider key")


def test_bundle_claiming_the_trusted_provider_but_signed_by_another_is_refused(
    world: World,
) -> None:
    bundle = send(world, sender=world.other_provider)
    data = json.loads((bundle / "manifest.json").read_bytes())
    data["sender_fingerprint"] = world.provider.card.fingerprint
    (bundle / "manifest.json").write_text(json.dumps(data, sort_keys=True, separators=(",", ":")))
    assert_refused(world, bundle, match="signature does not verify")


def _resign(world: World, bundle: Path, edit: Callable[[dict[str, object]], None]) -> None:
    """A sender bug: the manifest is signed properly but describes the files wrongly."""
    data = json.loads((bundle / "manifest.json").read_bytes())
    edit(data)
    raw = Manifest.model_validate(data).canonical_json()
    (bundle / "manifest.json").write_bytes(raw)
    sig = world.provider.signing_key.sign(raw).signature
    (bundle / "manifest.sig").write_text(bytes(sig).hex())


def test_signed_manifest_with_a_wrong_row_count_is_refused(world: World) -> None:
    bundle = send(world)

    def edit(data: dict[str, object]) -> None:
        files = data["files"]
        assert isinstance(files, list)
        files[0]["rows"] = 4

    _resign(world, bundle, edit)
    assert_refused(world, bundle, match="has 5 rows, the signed manifest says 4")


def test_signed_manifest_with_a_wrong_plaintext_hash_is_refused(world: World) -> None:
    bundle = send(world)

    def edit(data: dict[str, object]) -> None:
        files = data["files"]
        assert isinstance(files, list)
        files[1]["plaintext_sha256"] = "0" * 64

    _resign(world, bundle, edit)
    assert_refused(world, bundle, match="decrypted table's SHA-256 differs")


def test_bundle_with_an_unlisted_envelope_is_refused(world: World) -> None:
    bundle = send(world)
    (bundle / "extra.env").write_bytes(b"x")
    assert_refused(world, bundle, match="does not list")
