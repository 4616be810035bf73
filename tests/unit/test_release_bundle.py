"""Release bundles: what goes in, the checksums, the Five Safes RO-Crate, and the
refusals that make the writer the last gate."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import zipfile
from pathlib import Path

import pytest

from fjdp.disclosure.bundle import (
    FIVE_SAFES_PROFILE,
    Decision,
    Output,
    Person,
    Release,
    verify_release,
    write_release,
)
from fjdp.errors import GovernanceError, InputError

AT = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)
ALICE, BOB, CAROL, DAN = (Person(u, u.title()) for u in ("alice", "bob", "carol", "dan"))


def _release(tmp_path: Path, **changes: object) -> Release:
    table = tmp_path / "rates.csv"
    table.write_text("year,children\n2019,45\n2020,50\n")
    plot = tmp_path / "rates.png"
    plot.write_bytes(b"\x89PNG\r\n\x1a\n" + b"0" * 64)
    outputs = (Output(table, "rates.csv", "pass"), Output(plot, "rates.png", "pass"))
    decisions = tuple(
        Decision(c, o.name, "approve", "fine", AT) for o in outputs for c in (BOB, CAROL)
    )
    r = Release(
        project_id="p1",
        project_title="Pathways",
        lay_summary="What happens to children.",
        lead=ALICE,
        researchers=(ALICE, DAN),
        datasets=(("court_public", 1), ("births", 2)),
        request_id="req-1",
        round=1,
        description="rates by year",
        requested_by=DAN,
        requested_at=AT,
        code_version="fjdp 0.1.0",
        policy_version="2026.1",
        outputs=outputs,
        decisions=decisions,
    )
    return dataclasses.replace(r, **changes)  # type: ignore[arg-type]


def test_a_bundle_holds_the_outputs_manifest_crate_and_checksums(tmp_path: Path) -> None:
    bundle = write_release(_release(tmp_path), tmp_path / "releases")
    assert bundle.name == "release-p1-req-1-r1.zip"
    with zipfile.ZipFile(bundle) as z:
        names = set(z.namelist())
        assert {"outputs/rates.csv", "outputs/rates.png", "manifest.json"} <= names
        assert {"ro-crate-metadata.json", "SHA256SUMS"} <= names
        manifest = json.loads(z.read("manifest.json"))
        crate = json.loads(z.read("ro-crate-metadata.json"))
    assert manifest["policy_version"] == "2026.1"
    assert [f["name"] for f in manifest["files"]] == ["outputs/rates.csv", "outputs/rates.png"]
    assert {d["checker"] for d in manifest["files"][0]["decisions"]} == {"bob", "carol"}
    graph = {e["@id"]: e for e in crate["@graph"]}
    assert graph["./"]["conformsTo"] == {"@id": FIVE_SAFES_PROFILE}
    assert graph["#project-p1"]["@type"] == "Project"
    checks = [e for e in crate["@graph"] if e.get("@type") == "AssessAction"]
    assert len(checks) == 2 + 4  # one automatic check per file, one per checker per file
    assert any(e.get("@type") == "CreateAction" for e in crate["@graph"])
    assert verify_release(bundle) == []


def test_a_changed_file_fails_verification(tmp_path: Path) -> None:
    bundle = write_release(_release(tmp_path), tmp_path / "releases")
    tampered = tmp_path / "tampered.zip"
    with zipfile.ZipFile(bundle) as src, zipfile.ZipFile(tampered, "w") as dst:
        for item in src.infolist():
            data = src.read(item)
            dst.writestr(
                item, data.replace(b"45", b"44") if item.filename.endswith(".csv") else data
            )
    assert verify_release(tampered) == ["outputs/rates.csv: checksum differs"]


def test_a_file_with_one_approval_is_refused(tmp_path: Path) -> None:
    r = _release(tmp_path)
    one = tuple(d for d in r.decisions if not (d.file == "rates.csv" and d.checker == CAROL))
    with pytest.raises(GovernanceError, match=r"rates\.csv: needs two approvals"):
        write_release(dataclasses.replace(r, decisions=one), tmp_path / "out")
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_one_checker_twice_is_one_approval(tmp_path: Path) -> None:
    r = _release(tmp_path)
    twice = tuple(dataclasses.replace(d, checker=BOB) for d in r.decisions)
    with pytest.raises(GovernanceError, match="needs two approvals"):
        write_release(dataclasses.replace(r, decisions=twice), tmp_path / "out")


def test_the_requester_cannot_approve_their_own_output(tmp_path: Path) -> None:
    r = _release(tmp_path)
    own = (*r.decisions, Decision(DAN, "rates.csv", "approve", "mine", AT))
    with pytest.raises(GovernanceError, match="its own requester dan"):
        write_release(dataclasses.replace(r, decisions=own), tmp_path / "out")


def test_a_rejection_keeps_the_file_out(tmp_path: Path) -> None:
    r = _release(tmp_path)
    no = (*r.decisions, Decision(CAROL, "rates.png", "reject", "small cell", AT))
    with pytest.raises(GovernanceError, match=r"rates\.png"):
        write_release(dataclasses.replace(r, decisions=no), tmp_path / "out")


def test_a_file_type_the_policy_does_not_release_is_refused(tmp_path: Path) -> None:
    r = _release(tmp_path)
    data = tmp_path / "rows.parquet"
    data.write_bytes(b"PAR1")
    out = (*r.outputs, Output(data, "rows.parquet", "pass"))
    with pytest.raises(GovernanceError, match=r"rows.parquet: .parquet files are not releasable"):
        write_release(dataclasses.replace(r, outputs=out), tmp_path / "out")


def test_a_release_is_written_once(tmp_path: Path) -> None:
    r = _release(tmp_path)
    write_release(r, tmp_path / "out")
    with pytest.raises(InputError, match="already exists"):
        write_release(r, tmp_path / "out")
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["release-p1-req-1-r1.zip"]
