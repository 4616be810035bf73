"""Release bundles: what leaves the research environment after two checkers approve.

A bundle is one zip file holding

- ``outputs/``: the approved files, unchanged;
- ``manifest.json``: project, request and round, the policy version, and per file its
  size, SHA-256, automatic-check status and reasons, and every checker's decision;
- ``ro-crate-metadata.json``: a Five Safes RO-Crate (https://w3id.org/5s-crate/0.4)
  describing the project (safe project), the people (requester, lead, researchers,
  checkers), the datasets and their versions (safe data), the code version (the
  analysis as a ``CreateAction``), the automatic disclosure check and each checker's
  decision (``AssessAction`` of type ``DisclosureCheck``);
- ``SHA256SUMS``: the checksum of every other file, in ``sha256sum -c`` form.

The writer is the last gate, not the first: it refuses a file type the policy does not
release, and a file without two approvals from two different checkers neither of whom
made the request, whatever called it. The zip is written beside its final name and
renamed into place, so a failure leaves no partial bundle.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from rocrate.model.contextentity import ContextEntity
from rocrate.rocrate import ROCrate

from fjdp.errors import GovernanceError, InputError

FIVE_SAFES_PROFILE = "https://w3id.org/5s-crate/0.4"
SHP = "https://w3id.org/shp#"
COMPLETED = "http://schema.org/CompletedActionStatus"
APPROVE = "approve"


@dataclass(frozen=True)
class Person:
    username: str
    name: str

    @property
    def ref(self) -> str:
        return f"#person-{self.username}"


@dataclass(frozen=True)
class Decision:
    checker: Person
    file: str  # the output's name in the bundle
    decision: str  # approve | reject | return
    comment: str
    at: dt.datetime


@dataclass(frozen=True)
class Output:
    source: Path
    name: str
    status: str  # the automatic check's verdict after mitigation: pass | review | fail
    reasons: tuple[str, ...] = ()


@dataclass(frozen=True)
class Release:
    project_id: str
    project_title: str
    lay_summary: str
    lead: Person
    researchers: tuple[Person, ...]
    datasets: tuple[tuple[str, int], ...]  # (dataset, version) in the workspace
    request_id: str
    round: int
    description: str
    requested_by: Person
    requested_at: dt.datetime
    code_version: str
    policy_version: str
    outputs: tuple[Output, ...]
    decisions: tuple[Decision, ...]
    releasable_types: tuple[str, ...] = ("csv", "txt", "json", "png", "md", "html")
    publisher: str = "fjdp research databank"
    extra: dict[str, str] = field(default_factory=dict)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def check_release(r: Release) -> None:
    """Refuse what must never be bundled; one line saying which file and why."""
    if not r.outputs:
        raise InputError("a release needs at least one approved output", where=r.request_id)
    names = [o.name for o in r.outputs]
    if len(set(names)) != len(names):
        raise InputError("two outputs share a name", where=r.request_id)
    for o in r.outputs:
        ext = Path(o.name).suffix.lower().lstrip(".")
        if ext not in r.releasable_types:
            raise GovernanceError(
                f"{o.name}: .{ext or '(none)'} files are not releasable",
                where=r.request_id,
                fix=f"release only {', '.join(r.releasable_types)} files",
            )
        if Path(o.name).name != o.name:
            raise InputError(f"{o.name}: an output name is a file name, not a path")
        if not o.source.is_file():
            raise InputError(f"{o.name}: the file is missing", where=str(o.source))
        approvers = {
            d.checker.username for d in r.decisions if d.file == o.name and d.decision == APPROVE
        }
        against = [d for d in r.decisions if d.file == o.name and d.decision != APPROVE]
        if r.requested_by.username in approvers:
            raise GovernanceError(
                f"{o.name}: approved by its own requester {r.requested_by.username}",
                where=r.request_id,
            )
        if len(approvers) < 2 or against:
            raise GovernanceError(
                f"{o.name}: needs two approvals from two different checkers and no other "
                f"decision (has {len(approvers)} approval(s), {len(against)} other)",
                where=r.request_id,
            )


def _manifest(r: Release) -> dict[str, object]:
    return {
        "project": {"id": r.project_id, "title": r.project_title},
        "request": {
            "id": r.request_id,
            "round": r.round,
            "requested_by": r.requested_by.username,
            "requested_at": r.requested_at.isoformat(),
            "description": r.description,
        },
        "datasets": [{"dataset": d, "version": v} for d, v in r.datasets],
        "code_version": r.code_version,
        "policy_version": r.policy_version,
        "files": [
            {
                "name": f"outputs/{o.name}",
                "bytes": o.source.stat().st_size,
                "sha256": _sha256(o.source),
                "status": o.status,
                "reasons": list(o.reasons),
                "decisions": [
                    {
                        "checker": d.checker.username,
                        "decision": d.decision,
                        "comment": d.comment,
                        "at": d.at.isoformat(),
                    }
                    for d in r.decisions
                    if d.file == o.name
                ],
            }
            for o in r.outputs
        ],
        **r.extra,
    }


def _crate(r: Release, folder: Path) -> None:
    crate = ROCrate()
    root = crate.root_dataset
    root["name"] = f"{r.project_title}: release {r.request_id} round {r.round}"
    root["description"] = r.description
    root["conformsTo"] = {"@id": FIVE_SAFES_PROFILE}
    root["datePublished"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    crate.add(
        ContextEntity(
            crate, FIVE_SAFES_PROFILE, {"@type": "Profile", "name": "Five Safes RO-Crate profile"}
        )
    )
    project = crate.add(
        ContextEntity(
            crate,
            f"#project-{r.project_id}",
            {
                "@type": "Project",
                "name": r.project_title,
                "description": r.lay_summary,
                "identifier": r.project_id,
            },
        )
    )
    root["sourceOrganization"] = project
    publisher = crate.add(
        ContextEntity(crate, "#publisher", {"@type": "Organization", "name": r.publisher})
    )
    root["publisher"] = publisher
    people: dict[str, ContextEntity] = {}
    everyone = [r.lead, *r.researchers, r.requested_by, *(d.checker for d in r.decisions)]
    for p in everyone:
        if p.username not in people:
            people[p.username] = crate.add(
                ContextEntity(crate, p.ref, {"@type": "Person", "name": p.name})
            )
    project["member"] = [people[p.username] for p in (r.lead, *r.researchers)]
    data = [
        crate.add(
            ContextEntity(
                crate,
                f"#dataset-{d}-v{v}",
                {"@type": "Dataset", "name": d, "version": str(v)},
            )
        )
        for d, v in r.datasets
    ]
    files = [
        crate.add_file(
            folder / "outputs" / o.name,
            dest_path=f"outputs/{o.name}",
            properties={"name": o.name, "contentSize": str(o.source.stat().st_size)},
        )
        for o in r.outputs
    ]
    crate.add_file(
        folder / "manifest.json", dest_path="manifest.json", properties={"name": "manifest"}
    )
    software = crate.add(
        ContextEntity(
            crate,
            "#fjdp",
            {"@type": "SoftwareApplication", "name": "fjdp", "version": r.code_version},
        )
    )
    crate.add_action(
        software,
        identifier=f"#analysis-{r.request_id}",
        object=data,
        result=files,
        properties={
            "@type": "CreateAction",
            "name": f"Analysis in the workspace of {r.project_id}",
            "agent": {"@id": r.requested_by.ref},
            "endTime": r.requested_at.isoformat(),
            "actionStatus": COMPLETED,
        },
    )
    policy = crate.add(
        ContextEntity(
            crate,
            f"#policy-{r.policy_version}",
            {
                "@type": "CreativeWork",
                "name": "fjdp disclosure-control policy",
                "version": r.policy_version,
            },
        )
    )
    mentions = [
        crate.add(
            ContextEntity(
                crate,
                f"#automatic-check-{o.name}",
                {
                    "@type": "AssessAction",
                    "additionalType": {"@id": f"{SHP}DisclosureCheck"},
                    "name": f"Automatic disclosure check of {o.name}: {o.status}",
                    "object": {"@id": f"outputs/{o.name}"},
                    "instrument": {"@id": policy.id},
                    "agent": {"@id": software.id},
                    "actionStatus": COMPLETED,
                },
            )
        )
        for o in r.outputs
    ]
    for i, d in enumerate(r.decisions):
        mentions.append(
            crate.add(
                ContextEntity(
                    crate,
                    f"#disclosure-check-{i + 1}",
                    {
                        "@type": "AssessAction",
                        "additionalType": {"@id": f"{SHP}DisclosureCheck"},
                        "name": (
                            f"Disclosure check of {d.file} by {d.checker.username}: {d.decision}"
                        ),
                        "description": d.comment,
                        "object": {"@id": f"outputs/{d.file}"},
                        "agent": {"@id": d.checker.ref},
                        "endTime": d.at.isoformat(),
                        "actionStatus": COMPLETED,
                    },
                )
            )
        )
    root["mentions"] = mentions
    crate.write(folder)


def bundle_name(r: Release) -> str:
    return f"release-{r.project_id}-{r.request_id}-r{r.round}.zip"


def write_release(r: Release, out_dir: Path) -> Path:
    """Check ``r``, then write its bundle into ``out_dir``; returns the zip's path."""
    check_release(r)
    out_dir.mkdir(parents=True, exist_ok=True)
    final = out_dir / bundle_name(r)
    if final.exists():
        raise InputError(
            f"{final.name} already exists: a release is written once",
            where=str(out_dir),
            fix="a new round of the request makes a new bundle",
        )
    with tempfile.TemporaryDirectory(prefix=".release-", dir=out_dir) as tmp:
        folder = Path(tmp) / "bundle"
        (folder / "outputs").mkdir(parents=True)
        for o in r.outputs:
            shutil.copyfile(o.source, folder / "outputs" / o.name)
        (folder / "manifest.json").write_text(json.dumps(_manifest(r), indent=2) + "\n")
        _crate(r, folder)
        files = sorted(p for p in folder.rglob("*") if p.is_file())
        sums = "".join(f"{_sha256(p)}  {p.relative_to(folder).as_posix()}\n" for p in files)
        (folder / "SHA256SUMS").write_text(sums)
        partial = Path(tmp) / final.name
        with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED) as z:
            for p in sorted(folder.rglob("*")):
                if p.is_file():
                    z.write(p, p.relative_to(folder).as_posix())
        os.replace(partial, final)
    return final


def verify_release(bundle: Path) -> list[str]:
    """Problems with a bundle's checksums (empty when every file matches)."""
    problems: list[str] = []
    with zipfile.ZipFile(bundle) as z:
        names = set(z.namelist())
        if "SHA256SUMS" not in names:
            return ["no SHA256SUMS"]
        listed: set[str] = set()
        for line in z.read("SHA256SUMS").decode().splitlines():
            digest, name = line.split("  ", 1)
            listed.add(name)
            if name not in names:
                problems.append(f"{name}: listed but missing")
            elif hashlib.sha256(z.read(name)).hexdigest() != digest:
                problems.append(f"{name}: checksum differs")
        for extra in sorted(names - listed - {"SHA256SUMS"}):
            problems.append(f"{extra}: not in SHA256SUMS")
    return problems
