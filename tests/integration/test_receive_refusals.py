"""``receive`` on the bundles the fuzz tests found it mishandled: a refusal leaves the
zone as it was (but for its audit event), and no name in a manifest reaches outside it."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from fjdp.errors import InputError, RefusedError
from fjdp.keys import ZoneKeys, init_zone
from fjdp.transfer import write_bundle
from fjdp.transfer.receive import receive
from fjdp.types import Zone

ACTOR = "tester"


@pytest.fixture
def zones(tmp_path: Path) -> tuple[ZoneKeys, ZoneKeys]:
    provider = init_zone(tmp_path / "provider", Zone.PROVIDER, actor=ACTOR)
    bank = init_zone(tmp_path / "bank", Zone.DATABANK, actor=ACTOR)
    bank.trust(provider.card, actor=ACTOR)
    return provider, bank


def _bundle(tmp_path: Path, provider: ZoneKeys, bank: ZoneKeys, **manifest: object) -> Path:
    plain = tmp_path / "people.parquet"
    pq.write_table(pa.table({"system_id": ["a", "b"]}), plain)
    out = tmp_path / "outbox" / "b1"
    write_bundle(
        out,
        dataset="deaths",
        extract_id="x1",
        spec_version="1",
        kind="file2",
        files=[("people", plain, 2)],
        counts={"rows_in": 2, "rows_accepted": 2, "rows_quarantined": 0},
        sender=provider,
        recipient=bank.card,
    )
    if manifest:  # what a trusted but faulty sender could sign
        doc = json.loads((out / "manifest.json").read_bytes()) | manifest
        data = json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()
        (out / "manifest.json").write_bytes(data)
        (out / "manifest.sig").write_text(provider.signing_key.sign(data).signature.hex())
    return out


def _listing(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if "audit" not in p.parts)


@pytest.mark.parametrize(
    ("field", "value"),
    [("dataset", ".."), ("extract_id", ".."), ("dataset", "deaths\n"), ("extract_id", ".x")],
)
def test_names_that_leave_the_received_folder_are_refused(
    tmp_path: Path, zones: tuple[ZoneKeys, ZoneKeys], field: str, value: str
) -> None:
    provider, bank = zones
    bundle = _bundle(tmp_path, provider, bank, **{field: value})
    before = _listing(tmp_path)
    with pytest.raises(RefusedError, match="unsafe dataset, extract id or kind"):
        receive(bundle, bank, actor=ACTOR)
    assert _listing(tmp_path) == before


def test_a_refused_bundle_leaves_no_received_folders(
    tmp_path: Path, zones: tuple[ZoneKeys, ZoneKeys]
) -> None:
    provider, bank = zones
    bundle = _bundle(tmp_path, provider, bank)
    (bundle / "manifest.sig").write_text("00" * 64)
    before = _listing(bank.path)
    with pytest.raises(RefusedError, match="signature does not verify"):
        receive(bundle, bank, actor=ACTOR)
    assert _listing(bank.path) == before
    assert not (bank.path / "received").exists()
    log = (bank.path / "audit" / "log.jsonl").read_text().splitlines()
    assert json.loads(log[-1])["action"] == "refuse"


def test_a_folder_named_manifest_json_is_one_input_error(
    tmp_path: Path, zones: tuple[ZoneKeys, ZoneKeys]
) -> None:
    provider, bank = zones
    bundle = _bundle(tmp_path, provider, bank)
    (bundle / "manifest.json").unlink()
    (bundle / "manifest.json").mkdir()
    with pytest.raises(InputError, match=r"cannot read manifest\.json") as caught:
        receive(bundle, bank, actor=ACTOR)
    assert str(bundle) in caught.value.message()


def test_a_manifest_nested_too_deep_is_refused_and_logged(
    tmp_path: Path, zones: tuple[ZoneKeys, ZoneKeys]
) -> None:
    provider, bank = zones
    bundle = _bundle(tmp_path, provider, bank)
    (bundle / "manifest.json").write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(RefusedError, match="manifest is unreadable"):
        receive(bundle, bank, actor=ACTOR)
    log = (bank.path / "audit" / "log.jsonl").read_text().splitlines()
    assert json.loads(log[-1])["action"] == "refuse"
