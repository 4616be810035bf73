"""Zone folders and key cards: creation, opening, trust, and the errors a user sees."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Callable
from pathlib import Path

import pytest

from fjdp.audit import verify_log, zone_log
from fjdp.errors import InputError, OutputError, RefusedError
from fjdp.keys import PublicKeyCard, init_zone, load_card, open_zone
from fjdp.types import Zone

ACTOR = "tester"


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# --- init_zone --------------------------------------------------------------------------


@pytest.mark.parametrize("zone", [Zone.PROVIDER, Zone.TTP, Zone.DATABANK])
def test_init_creates_the_layout_with_private_keys_0600(tmp_path: Path, zone: Zone) -> None:
    keys = init_zone(tmp_path / "z", zone, actor=ACTOR)
    root = tmp_path / "z"
    assert (root / "zone.json").is_file()
    assert (root / "keys" / "card.json").is_file()
    assert (root / "trusted").is_dir()
    private = [root / "keys" / "box.key", root / "keys" / "sign.key"]
    if zone in (Zone.TTP, Zone.DATABANK):
        private.append(root / "keys" / "hmac.key")
    for path in private:
        assert mode(path) == 0o600, path
        assert path.stat().st_size == 32
    info = json.loads((root / "zone.json").read_text())
    assert info["zone"] == zone.value
    assert info["fingerprint"] == keys.card.fingerprint
    # No temp or staging leftovers beside the zone.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["z"]


def test_init_writes_audit_events_without_key_bytes(tmp_path: Path) -> None:
    keys = init_zone(tmp_path / "ttp", Zone.TTP, name="TTP one", actor=ACTOR)
    records = zone_log(keys.path).records()
    actions = [r.action for r in records]
    assert actions == ["zone.init", "key.create", "key.create", "key.create"]
    assert {r.role for r in records} == {"linkage operator"}
    assert {r.actor for r in records} == {ACTOR}
    assert sorted(r.details["kind"] for r in records[1:]) == ["box", "hmac", "sign"]
    assert verify_log(keys.path / "audit" / "log.jsonl").ok
    text = (keys.path / "audit" / "log.jsonl").read_text()
    for secret in (bytes(keys.box_private), bytes(keys.signing_key), keys.hmac_key):
        assert secret is not None
        assert secret.hex() not in text


def test_init_into_an_existing_empty_folder(tmp_path: Path) -> None:
    (tmp_path / "z").mkdir()
    keys = init_zone(tmp_path / "z", Zone.PROVIDER, actor=ACTOR)
    assert open_zone(tmp_path / "z").card == keys.card


def test_reinit_of_the_same_zone_keeps_its_keys(tmp_path: Path) -> None:
    first = init_zone(tmp_path / "z", Zone.DATABANK, actor=ACTOR)
    again = init_zone(tmp_path / "z", Zone.DATABANK, actor=ACTOR)
    assert again.card == first.card
    assert again.hmac_key == first.hmac_key


def test_init_refuses_a_non_empty_folder_that_is_not_a_zone(tmp_path: Path) -> None:
    (tmp_path / "z").mkdir()
    (tmp_path / "z" / "notes.txt").write_text("keep me")
    with pytest.raises(OutputError, match="not empty and is not a zone") as info:
        init_zone(tmp_path / "z", Zone.TTP, actor=ACTOR)
    assert str(tmp_path / "z") in info.value.message()
    assert "\n" not in info.value.message()
    assert sorted(p.name for p in (tmp_path / "z").iterdir()) == ["notes.txt"]


def test_init_refuses_a_zone_of_another_kind(tmp_path: Path) -> None:
    init_zone(tmp_path / "z", Zone.PROVIDER, actor=ACTOR)
    with pytest.raises(OutputError, match="already a provider zone"):
        init_zone(tmp_path / "z", Zone.TTP, actor=ACTOR)


# --- open_zone --------------------------------------------------------------------------


def test_open_zone_round_trips_the_keys(tmp_path: Path) -> None:
    made = init_zone(tmp_path / "z", Zone.TTP, actor=ACTOR)
    opened = open_zone(tmp_path / "z", Zone.TTP)
    assert opened.zone is Zone.TTP
    assert opened.card == made.card
    assert bytes(opened.box_private) == bytes(made.box_private)
    assert bytes(opened.signing_key) == bytes(made.signing_key)
    assert opened.hmac_key == made.hmac_key


def test_open_zone_with_the_wrong_expected_kind_is_refused(tmp_path: Path) -> None:
    init_zone(tmp_path / "z", Zone.PROVIDER, actor=ACTOR)
    with pytest.raises(RefusedError, match="is a provider zone, not a ttp zone"):
        open_zone(tmp_path / "z", Zone.TTP)


def test_open_zone_on_a_plain_folder_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not an fjdp zone"):
        open_zone(tmp_path)


@pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX")
def test_open_zone_refuses_a_private_key_readable_by_others(tmp_path: Path) -> None:
    init_zone(tmp_path / "z", Zone.PROVIDER, actor=ACTOR)
    (tmp_path / "z" / "keys" / "sign.key").chmod(0o644)
    with pytest.raises(RefusedError, match="chmod 600"):
        open_zone(tmp_path / "z")


def test_open_zone_detects_a_card_that_does_not_match_the_keys(tmp_path: Path) -> None:
    init_zone(tmp_path / "a", Zone.PROVIDER, actor=ACTOR)
    other = init_zone(tmp_path / "b", Zone.PROVIDER, actor=ACTOR)
    (tmp_path / "a" / "keys" / "card.json").write_text(other.card.to_json())
    with pytest.raises(InputError, match="does not match its private keys"):
        open_zone(tmp_path / "a")


# --- cards ------------------------------------------------------------------------------


def test_card_json_round_trip(tmp_path: Path) -> None:
    keys = init_zone(tmp_path / "z", Zone.DATABANK, name="Bank", actor=ACTOR)
    card = PublicKeyCard.from_json(keys.card.to_json(), where="card.json")
    assert card == keys.card
    assert card.name == "Bank"
    assert len(card.fingerprint) == 32


def test_export_card_writes_a_loadable_card_and_audits(tmp_path: Path) -> None:
    keys = init_zone(tmp_path / "z", Zone.TTP, actor=ACTOR)
    out = tmp_path / "out"
    out.mkdir()
    path = keys.export_card(out, actor=ACTOR)
    assert load_card(path) == keys.card
    last = zone_log(keys.path).records()[-1]
    assert last.action == "key.export"
    assert last.details["fingerprint"] == keys.card.fingerprint


def _card_dict(tmp_path: Path) -> dict[str, str]:
    keys = init_zone(tmp_path / "z", Zone.PROVIDER, actor=ACTOR)
    data: dict[str, str] = json.loads(keys.card.to_json())
    return data


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: "not json {", "not valid JSON"),
        (lambda d: "[1, 2]", "not a JSON object"),
        (lambda d: json.dumps({**d, "zone": "moon"}), "unknown zone"),
        (lambda d: json.dumps({**d, "box_public": "zz"}), "box_public"),
        (lambda d: json.dumps({**d, "sign_public": d["sign_public"][:-2]}), "sign_public"),
        (lambda d: json.dumps({k: v for k, v in d.items() if k != "name"}), "no name"),
        (lambda d: json.dumps({**d, "fingerprint": "0" * 32}), "fingerprint does not match"),
    ],
    ids=["not-json", "not-object", "zone", "box-hex", "sign-length", "no-name", "fingerprint"],
)
def test_malformed_card_is_an_input_error(
    tmp_path: Path, edit: Callable[[dict[str, str]], str], message: str
) -> None:
    text = edit(_card_dict(tmp_path))
    with pytest.raises(InputError, match=message) as info:
        PublicKeyCard.from_json(text, where="peer.json")
    assert "peer.json" in info.value.message()
    assert "fjdp zone export" in info.value.message()


def test_load_card_of_a_missing_file_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cannot read key card"):
        load_card(tmp_path / "nope.json")


# --- trust ------------------------------------------------------------------------------


def test_trust_then_trusted_returns_the_card(tmp_path: Path) -> None:
    ttp = init_zone(tmp_path / "ttp", Zone.TTP, actor=ACTOR)
    provider = init_zone(tmp_path / "prov", Zone.PROVIDER, actor=ACTOR)
    ttp.trust(provider.card, actor=ACTOR)
    assert ttp.trusted(Zone.PROVIDER) == provider.card
    assert open_zone(ttp.path).trusted(Zone.PROVIDER) == provider.card
    last = zone_log(ttp.path).records()[-1]
    assert last.action == "key.trust"
    assert last.details == {"peer_zone": "provider", "fingerprint": provider.card.fingerprint}


def test_trusted_without_a_card_names_the_command(tmp_path: Path) -> None:
    ttp = init_zone(tmp_path / "ttp", Zone.TTP, actor=ACTOR)
    with pytest.raises(RefusedError, match="fjdp zone trust"):
        ttp.trusted(Zone.DATABANK)


def test_trusting_a_card_of_the_same_kind_is_refused(tmp_path: Path) -> None:
    a = init_zone(tmp_path / "a", Zone.PROVIDER, actor=ACTOR)
    b = init_zone(tmp_path / "b", Zone.PROVIDER, actor=ACTOR)
    with pytest.raises(RefusedError, match="does not trust another provider"):
        a.trust(b.card, actor=ACTOR)


def test_replacing_a_trusted_card_is_recorded(tmp_path: Path) -> None:
    ttp = init_zone(tmp_path / "ttp", Zone.TTP, actor=ACTOR)
    old = init_zone(tmp_path / "p1", Zone.PROVIDER, actor=ACTOR)
    new = init_zone(tmp_path / "p2", Zone.PROVIDER, actor=ACTOR)
    ttp.trust(old.card, actor=ACTOR)
    ttp.trust(new.card, actor=ACTOR)
    assert ttp.trusted(Zone.PROVIDER) == new.card
    assert zone_log(ttp.path).records()[-1].details["replaces"] == old.card.fingerprint


# --- hmac -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("zone", "has_hmac"), [(Zone.PROVIDER, False), (Zone.TTP, True), (Zone.DATABANK, True)]
)
def test_only_ttp_and_databank_hold_an_hmac_secret(
    tmp_path: Path, zone: Zone, has_hmac: bool
) -> None:
    keys = init_zone(tmp_path / "z", zone, actor=ACTOR)
    assert (keys.hmac_key is not None) is has_hmac
    assert (tmp_path / "z" / "keys" / "hmac.key").exists() is has_hmac
    assert (open_zone(tmp_path / "z").hmac_key is not None) is has_hmac
    if keys.hmac_key is not None:
        assert len(keys.hmac_key) == 32


def test_hmac_secrets_differ_between_zones(tmp_path: Path) -> None:
    a = init_zone(tmp_path / "a", Zone.TTP, actor=ACTOR)
    b = init_zone(tmp_path / "b", Zone.DATABANK, actor=ACTOR)
    assert a.hmac_key != b.hmac_key


@pytest.mark.parametrize(
    "text",
    ["[" * 50_000 + "]" * 50_000, '{"zone": "ttp", "n": ' + "9" * 5000 + "}"],
    ids=["nested too deep", "number too long"],
)
def test_a_card_the_json_reader_chokes_on_is_one_input_error(text: str) -> None:
    with pytest.raises(InputError, match="key card is not valid JSON"):
        PublicKeyCard.from_json(text, where="card.json")
