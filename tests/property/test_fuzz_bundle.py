"""A bundle mutated in any way on its way to the databank: its manifest's fields changed
(and signed again by the trusted sender, to reach the checks behind the signature, or
not), its manifest or signature cut, flipped or replaced, envelopes removed, added,
swapped or damaged, names that climb out of the folder.

``fjdp databank receive`` refuses every such bundle with one line, writes one ``refuse``
event to the zone's audit log and changes nothing else, in the zone or beside it; a
mutation that changes nothing the receiver relies on (a new ``created`` time, signed
again) is received whole. ``test_envelope_tamper.py`` flips bytes of one envelope."""

from __future__ import annotations

import copy
import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fjdp.errors import UserError
from fjdp.flow import Zones
from fjdp.keys import open_zone
from fjdp.transfer.receive import receive
from lib.extracts import HEADER, good_row
from lib.fuzz import accepted, fuzz_settings, json_paths, refused, snapshot
from lib.zones import ACTOR, make_zones, split_and_open

pytestmark = pytest.mark.fuzz

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats()
    | st.text(max_size=10)
    | st.sampled_from(["..", "../..", "/etc", "a/../../b", "x.env", "file9", "ttp", "databank"]),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=6,
)


@pytest.fixture(scope="module")
def sent(tmp_path_factory: pytest.TempPathFactory) -> tuple[Zones, Path]:
    """Zones and a File 2 bundle of a small split, as the provider sent it."""
    root = tmp_path_factory.mktemp("bundle")
    zones = make_zones(root / "zones")
    extract = root / "deaths.csv"
    extract.write_text(
        "\n".join([",".join(HEADER)] + [",".join(good_row(i)) for i in range(6)]) + "\n",
        encoding="utf-8",
    )
    result, _, _ = split_and_open(zones, "deaths", extract, root / "work")
    return zones, result.to_databank


@st.composite
def manifest_edits(draw: st.DrawFn, manifest: dict[str, Any]) -> dict[str, Any]:
    """The manifest with a few fields replaced, removed or added."""
    doc = copy.deepcopy(manifest)
    for _ in range(draw(st.integers(1, 3))):
        paths = [p for p in json_paths(doc) if p]
        path = draw(st.sampled_from(paths))
        parent = doc
        for part in path[:-1]:
            parent = parent[part]
        op = draw(st.sampled_from(["set", "set", "delete", "add"]))
        if op == "set":
            targeted = {
                "table": st.sampled_from(
                    ["..", "../x", "deaths/../../x", ".hidden", "-x", "a" * 65]
                ),
                "name": st.sampled_from(["../deaths.env", "/tmp/x.env", "deaths.parquet", ""]),
                "dataset": st.sampled_from(["..", ".", "a/b", "deaths\n", "../../../x"]),
                "extract_id": st.sampled_from(["..", ".", "x/../..", "id\n", " "]),
                "rows": st.integers(-3, 10),
                "rows_in": st.integers(-3, 10),
                "revision": st.sampled_from([0, -1, 2, "2", 10**30, 1.5]),
            }.get(str(path[-1]), json_values)
            parent[path[-1]] = draw(targeted | json_values)
        elif op == "delete":
            del parent[path[-1]]
        elif isinstance(parent, dict):
            parent[draw(st.text(max_size=8))] = draw(json_values)
        else:
            parent.append(draw(json_values))
    return doc


def _resign(bundle: Path, data: bytes, zones: Zones) -> None:
    (bundle / "manifest.json").write_bytes(data)
    signature = zones.provider.signing_key.sign(data).signature
    (bundle / "manifest.sig").write_text(bytes(signature).hex() + "\n")


def _damage(bundle: Path, zones: Zones, kind: str, draw: st.DataObject) -> None:
    manifest_path, sig = bundle / "manifest.json", bundle / "manifest.sig"
    if kind == "edit":
        manifest = json.loads(manifest_path.read_bytes())
        doc = draw.draw(manifest_edits(manifest), label="manifest")
        text = json.dumps(doc, sort_keys=draw.draw(st.booleans()), separators=(",", ":"))
        if draw.draw(st.booleans(), label="signed again"):
            _resign(bundle, text.encode(), zones)
        else:
            manifest_path.write_text(text)
    elif kind == "manifest bytes":
        data = manifest_path.read_bytes()
        how = draw.draw(
            st.sampled_from(["cut", "flip", "random", "empty", "folder", "gone", "deep"])
        )
        if how == "cut":
            data = data[: draw.draw(st.integers(0, len(data) - 1))]
        elif how == "flip":
            i = draw.draw(st.integers(0, len(data) - 1))
            data = data[:i] + bytes([data[i] ^ draw.draw(st.integers(1, 255))]) + data[i + 1 :]
        elif how == "random":
            data = draw.draw(st.binary(max_size=200))
        elif how == "empty":
            data = b""
        elif how == "deep":
            data = b"[" * 100_000 + b"]" * 100_000
        if how == "folder":
            manifest_path.unlink()
            manifest_path.mkdir()
        elif how == "gone":
            manifest_path.unlink()
        elif draw.draw(st.booleans(), label="signed again"):
            _resign(bundle, data, zones)
        else:
            manifest_path.write_bytes(data)
    elif kind == "signature":
        how = draw.draw(st.sampled_from(["random", "text", "gone", "cut"]))
        if how == "random":
            sig.write_bytes(draw.draw(st.binary(max_size=100)))
        elif how == "text":
            sig.write_text(draw.draw(st.text(max_size=140)), encoding="utf-8")
        elif how == "gone":
            sig.unlink()
        else:
            sig.write_bytes(sig.read_bytes()[:64])
    elif kind == "envelope":
        env = next(bundle.glob("*.env"))
        data = env.read_bytes()
        how = draw.draw(st.sampled_from(["cut", "flip", "gone", "swap", "extra", "folder"]))
        if how == "cut":
            env.write_bytes(data[: draw.draw(st.integers(0, len(data) - 1))])
        elif how == "flip":
            i = draw.draw(st.integers(0, len(data) - 1))
            env.write_bytes(data[:i] + bytes([data[i] ^ 0x40]) + data[i + 1 :])
        elif how == "gone":
            env.unlink()
        elif how == "swap":  # an envelope of another extract under this name
            env.write_bytes(draw.draw(st.binary(min_size=150, max_size=400)))
        elif how == "extra":
            (bundle / draw.draw(st.sampled_from(["x.env", "file1.env", "..env"]))).write_bytes(data)
        else:
            env.unlink()
            env.mkdir()
    else:
        # Files the manifest does not mention, which the receiver ignores or refuses.
        name = draw.draw(st.sampled_from(["notes.txt", "deaths.parquet", "sub/x.env", ".hidden"]))
        (bundle / name).parent.mkdir(exist_ok=True)
        (bundle / name).write_bytes(draw.draw(st.binary(max_size=50)))


def _audit_lines(zone: Path) -> list[dict[str, Any]]:
    log = zone / "audit" / "log.jsonl"
    lines = log.read_bytes().split(b"\n")[:-1] if log.exists() else []
    return [json.loads(line) for line in lines]


@fuzz_settings(60)
@given(
    kind=st.sampled_from(["edit"] * 4 + ["manifest bytes", "signature", "envelope", "files"]),
    data=st.data(),
)
def test_a_mutated_bundle_is_refused_and_changes_nothing_but_the_audit_log(
    sent: tuple[Zones, Path], kind: str, data: st.DataObject
) -> None:
    zones, original = sent
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        # Each example receives into its own copy of the databank zone, beside the bundle.
        zone_dir = root / "zones" / "databank"
        shutil.copytree(zones.databank.path, zone_dir)
        bank = open_zone(zone_dir)
        bundle = root / "inbox" / original.name
        shutil.copytree(original, bundle)
        _damage(bundle, zones, kind, data)

        before = snapshot(root, skip=("zones/databank/audit", "inbox"))
        events = _audit_lines(zone_dir)
        try:
            got = receive(bundle, bank, actor=ACTOR)
        except UserError as exc:
            refused(exc)
            assert str(bundle) in exc.message() or str(zone_dir) in exc.message()
            after = snapshot(root, skip=("zones/databank/audit", "inbox"))
            assert after == before, (
                f"a refusal changed {sorted(set(after) ^ set(before))} "
                f"or {[k for k in after if k in before and after[k] != before[k]]}"
            )
            new = _audit_lines(zone_dir)[len(events) :]
            assert [e["action"] for e in new] == ["refuse"]
            return
        accepted(kind)
        assert got.path.resolve().is_relative_to((zone_dir / "received").resolve())
        assert sorted(p.name for p in got.path.iterdir()) == ["deaths.parquet", "manifest.json"]
