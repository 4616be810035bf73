"""Output requests between the models and the rules: a request as
``fjdp.governance.outputs.OutputRequest``, the files a project may ask for, each file's
automatic check (read from the results.json the disclosure engine wrote beside it), the
portal's copy of every file, and the release bundle of a decided request."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings

from fjdp import __version__
from fjdp.disclosure import bundle
from fjdp.disclosure.policy import default_policy
from fjdp.errors import OutputError
from fjdp.governance.outputs import (
    FileVote,
    OutputFile,
    OutputRequest,
    RequestState,
    Round,
    Vote,
    file_outcome,
    released_files,
)
from fjdp.portal.models import OutputRequestRecord, OutputRoundRecord, Project, User

NOT_CHECKED = "no automatic check recorded for this file: the checkers check it by hand"


@dataclass(frozen=True)
class Check:
    """A file's automatic check: status after mitigation, reasons, cell-level flags and
    collisions in the differencing register."""

    status: str
    reasons: tuple[str, ...] = ()
    flags: tuple[dict[str, str], ...] = ()
    collisions: tuple[str, ...] = ()


@dataclass(frozen=True)
class FileIn:
    """A file a researcher puts into a request; ``check`` is looked up when not given."""

    source: Path
    justification: str = ""
    check: Check | None = None
    name: str = field(default="")

    @property
    def file_name(self) -> str:
        return self.name or self.source.name


def releasable_types() -> tuple[str, ...]:
    return tuple(default_policy().releasable_types)


def outputs_folder(project: Project) -> Path:
    """The project's outputs folder inside the research environment."""
    return Path(settings.FJDP_ANALYSIS) / project.pid


def store_root() -> Path:
    return Path(settings.FJDP_OUTPUT_STORE)


def releases_root() -> Path:
    return Path(settings.FJDP_RELEASES)


def candidate_files(project: Project) -> list[Path]:
    """Every file of the project's outputs folder, relative to it (checksums/ left out:
    they describe the files, the portal computes its own)."""
    root = outputs_folder(project)
    if not root.is_dir():
        return []
    return sorted(
        p.relative_to(root)
        for p in root.rglob("*")
        if p.is_file() and "checksums" not in p.relative_to(root).parts[:-1]
    )


def _results_entry(path: Path) -> dict[str, Any] | None:
    """The results.json output (ACRO's layout) that lists ``path``, if any, looking in its
    own folder: ``Session.finalise`` writes the files and results.json side by side."""
    results = path.parent / "results.json"
    if not results.is_file():
        return None
    try:
        doc = json.loads(results.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    for out in (doc.get("results") or {}).values():
        if any(f.get("name") == path.name for f in out.get("files", [])):
            return dict(out)
    return None


def automatic_check(path: Path) -> Check:
    if path.name == "results.json":
        return Check("pass", ("the disclosure engine's own record of its checks",))
    out = _results_entry(path)
    if out is None:
        return Check("review", (NOT_CHECKED,))
    parts = [p.strip() for p in str(out.get("summary", "")).split(";")]
    reasons = tuple(p for p in parts[1:] if p)
    mitigations = tuple(str(m) for m in (out.get("properties") or {}).get("mitigations", []))
    flags = tuple(
        {"row": str(row), "col": str(col), "reason": str(why)}
        for col, rows in (out.get("outcome") or {}).items()
        for row, why in rows.items()
        if why != "ok"
    )
    collisions = tuple(r for r in (*reasons, *mitigations) if r.startswith("differencing"))
    return Check(str(out.get("status", "review")), reasons + mitigations, flags, collisions)


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def store_copy(source: Path, rid: str, number: int, name: str) -> tuple[str, str, int]:
    """Copy ``source`` into the portal's storage; returns (relative path, SHA-256, size).
    The copy is read-only: what the checkers review is what gets released."""
    rel = Path(rid) / f"r{number}" / name
    dest = store_root() / rel
    if dest.exists():
        raise OutputError(
            f"{rel} is already stored: stored copies are never overwritten",
            where=str(store_root()),
            fix="check the portal's outputs folder against its database",
        )
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, dest)
    dest.chmod(0o444)
    return rel.as_posix(), sha256_of(dest), dest.stat().st_size


def stored_path(rel: str) -> Path:
    return store_root() / rel


PREFETCH = ("rounds", "rounds__files", "rounds__votes__checker")
"""What :func:`as_request` reads of a request: prefetch it for a list of requests."""


def as_request(rec: OutputRequestRecord) -> OutputRequest:
    """The request as the rules see it. A list of requests is read in a few queries
    when the caller prefetched ``PREFETCH`` (ordering happens here, in Python, because
    ordering a prefetched relation in the database would query it again)."""
    prefetched = "rounds" in getattr(rec, "_prefetched_objects_cache", {})
    rows = (
        rec.rounds.all() if prefetched else rec.rounds.prefetch_related("files", "votes__checker")
    )
    rounds = []
    for r in sorted(rows, key=lambda r: r.number):
        rounds.append(
            Round(
                number=r.number,
                files=tuple(
                    OutputFile(f.name, f.status, f.justification)
                    for f in sorted(r.files.all(), key=lambda f: f.name)
                ),
                checkers=tuple(r.checkers),
                votes=tuple(
                    FileVote(v.checker.username, v.file, Vote(v.vote), v.comment, v.at)
                    for v in sorted(r.votes.all(), key=lambda v: (v.at, v.pk))
                ),
            )
        )
    return OutputRequest(
        id=rec.rid,
        project=rec.project.pid,
        requester=rec.requester.username,
        description=rec.description,
        state=RequestState(rec.state),
        rounds=tuple(rounds),
    )


def _person(user: User) -> bundle.Person:
    return bundle.Person(user.username, user.get_full_name() or user.username)


def _datasets(project: Project) -> tuple[tuple[str, int], ...]:
    meta = Path(settings.FJDP_WORKSPACES) / project.pid / "workspace.json"
    try:
        versions = json.loads(meta.read_text(encoding="utf-8")).get("versions", {})
    except (OSError, ValueError):
        versions = {}
    names = [d["name"] for d in ((project.approved or {}).get("request") or {}).get("datasets", [])]
    return tuple((n, int(versions.get(n, 0))) for n in sorted(set(names) | set(versions)))


def build_release(rec: OutputRequestRecord) -> bundle.Release:
    """The bundle of a decided request: its approved files with their decisions.

    A file the first two checkers disagreed on and a third approved carries the two
    approvals; the overruled decision is kept in the manifest's ``overruled``."""
    req = as_request(rec)
    rnd = req.current
    names = set(released_files(req))
    record: OutputRoundRecord = rec.rounds.get(number=rnd.number)
    users = {u.username: u for u in User.objects.filter(username__in=rnd.checkers)}
    outputs = []
    for f in record.files.order_by("name"):
        if f.name in names:
            outputs.append(bundle.Output(stored_path(f.stored), f.name, f.status, tuple(f.reasons)))
    decisions = []
    overruled = []
    for v in rnd.votes:
        if v.file not in names:
            continue
        if v.vote is Vote.APPROVE and file_outcome(rnd, v.file) is Vote.APPROVE:
            decisions.append(
                bundle.Decision(_person(users[v.checker]), v.file, v.vote.value, v.comment, v.at)
            )
        else:
            overruled.append(f"{v.file}: {v.checker} {v.vote.value}: {v.comment}")
    project = rec.project
    approved = (project.approved or {}).get("researchers", [])
    researchers = tuple(_person(u) for u in User.objects.filter(username__in=approved))
    extra = {"overruled": "; ".join(overruled)} if overruled else {}
    return bundle.Release(
        project_id=project.pid,
        project_title=project.title,
        lay_summary=project.lay_summary,
        lead=_person(project.lead),
        researchers=researchers,
        datasets=_datasets(project),
        request_id=rec.rid,
        round=rnd.number,
        description=rec.description,
        requested_by=_person(rec.requester),
        requested_at=record.created_at,
        code_version=f"fjdp {__version__}",
        policy_version=default_policy().version,
        outputs=tuple(outputs),
        decisions=tuple(decisions),
        releasable_types=releasable_types(),
        extra=extra,
    )


def now() -> dt.datetime:
    from django.utils import timezone

    return timezone.now()
