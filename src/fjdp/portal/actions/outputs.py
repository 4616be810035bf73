"""Output requests: make, submit, take, vote, revise, withdraw, release, download.

Every function asks ``fjdp.governance.outputs`` first, then stores the result and writes
its audit event in one transaction. Files are copied into the portal's storage when a
round is made, so later edits in the workspace cannot change what was reviewed."""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from django.db import transaction

from fjdp.audit import Action
from fjdp.disclosure.bundle import write_release
from fjdp.errors import GovernanceError, InputError, IntegrityError, OutputError
from fjdp.governance import Role
from fjdp.governance import outputs as rules
from fjdp.governance.outputs import OutputFile, OutputRequest, RequestState, Vote
from fjdp.portal.audit import record_event
from fjdp.portal.bridge import application
from fjdp.portal.models import (
    OutputFileRecord,
    OutputRequestRecord,
    OutputRoundRecord,
    OutputVoteRecord,
    Project,
    User,
    today,
)
from fjdp.portal.outputs import (
    FileIn,
    as_request,
    automatic_check,
    build_release,
    now,
    releasable_types,
    releases_root,
    sha256_of,
    store_copy,
    store_root,
)


def _next_rid() -> str:
    last = OutputRequestRecord.objects.order_by("-pk").first()
    n = (last.pk if last else 0) + 1
    while OutputRequestRecord.objects.filter(rid=f"R{n:04d}").exists():
        n += 1
    return f"R{n:04d}"


def _governed(files: Sequence[FileIn]) -> tuple[tuple[OutputFile, ...], list[Any]]:
    """The files as the rules see them, with their checks."""
    for f in files:
        if not f.source.is_file():
            raise InputError(f"{f.file_name}: no such file", where=str(f.source))
    checks = [f.check or automatic_check(f.source) for f in files]
    governed = tuple(
        OutputFile(f.file_name, c.status, f.justification.strip())
        for f, c in zip(files, checks, strict=True)
    )
    return governed, checks


def _write_round(
    rec: OutputRequestRecord, number: int, files: Sequence[FileIn], checks: list[Any]
) -> OutputRoundRecord:
    rnd = OutputRoundRecord.objects.create(request=rec, number=number)
    for f, c in zip(files, checks, strict=True):
        rel, digest, size = store_copy(f.source, rec.rid, number, f.file_name)
        OutputFileRecord.objects.create(
            round=rnd,
            name=f.file_name,
            stored=rel,
            sha256=digest,
            size=size,
            status=c.status,
            reasons=list(c.reasons),
            flags=[dict(x) for x in c.flags],
            collisions=list(c.collisions),
            justification=f.justification.strip(),
            source=str(f.source),
        )
    return rnd


def _files_detail(rnd: OutputRoundRecord) -> list[dict[str, Any]]:
    return [
        {"name": f.name, "sha256": f.sha256, "bytes": f.size, "status": f.status}
        for f in rnd.files.order_by("name")
    ]


def _check_unused(rid: str, number: int) -> None:
    # A stale folder (a database restored from backup) is never cleaned up or reused.
    if (store_root() / rid / f"r{number}").exists():
        raise OutputError(
            f"{rid} round {number} already has stored files",
            where=str(store_root()),
            fix="check the portal's outputs folder against its database",
        )


def _cleanup(rid: str, number: int) -> None:
    folder = store_root() / rid / f"r{number}"
    if folder.exists():
        for p in folder.rglob("*"):
            p.chmod(0o644)
        shutil.rmtree(folder, ignore_errors=True)


def create_request(
    project: Project,
    by: User,
    description: str,
    files: Sequence[FileIn],
    *,
    submit: bool = False,
) -> OutputRequestRecord:
    """A new request (a draft, or submitted at once) with its first round of files."""
    existing = [as_request(r) for r in project.output_requests.filter(requester=by)]
    governed, checks = _governed(files)
    rid = _next_rid()
    _check_unused(rid, 1)
    req = rules.new_request(
        rid,
        by.person(),
        application(project),
        today(),
        description=description,
        files=governed,
        existing=existing,
        releasable_types=releasable_types(),
    )
    try:
        with transaction.atomic():
            rec = OutputRequestRecord.objects.create(
                rid=rid,
                project=project,
                requester=by,
                description=req.description,
                state=req.state.value,
            )
            rnd = _write_round(rec, 1, files, checks)
            record_event(
                Action.OUTPUT_REQUEST,
                rid,
                actor=by.username,
                role=Role.RESEARCHER.value,
                details={
                    "project": project.pid,
                    "round": 1,
                    "description": req.description,
                    "files": _files_detail(rnd),
                },
            )
            if submit:
                submit_request(rec, by)
    except BaseException:
        _cleanup(rid, 1)
        raise
    return rec


def _save_state(rec: OutputRequestRecord, new: OutputRequest) -> None:
    rec.state = new.state.value
    rec.description = new.description
    rec.save()


def submit_request(rec: OutputRequestRecord, by: User) -> OutputRequest:
    with transaction.atomic():
        before = as_request(rec)
        new = rules.submit(before, by.username)
        _save_state(rec, new)
        record_event(
            Action.OUTPUT_SUBMIT,
            rec.rid,
            actor=by.username,
            role=Role.RESEARCHER.value,
            details={
                "from": before.state.value,
                "to": new.state.value,
                "round": new.current.number,
            },
        )
        return new


def take_request(rec: OutputRequestRecord, by: User) -> OutputRequest:
    with transaction.atomic():
        before = as_request(rec)
        new = rules.take(before, by.person(), application(rec.project))
        rnd = rec.rounds.get(number=new.current.number)
        rnd.checkers = list(new.current.checkers)
        rnd.save()
        _save_state(rec, new)
        record_event(
            Action.OUTPUT_TAKE,
            rec.rid,
            actor=by.username,
            role=Role.OUTPUT_CHECKER.value,
            details={
                "round": new.current.number,
                "checker": len(new.current.checkers),
                "disputed": list(rules.disputed(before.current)),
            },
        )
        return new


def vote_file(
    rec: OutputRequestRecord, by: User, file: str, choice: Vote | str, comment: str
) -> OutputRequest:
    """One checker's decision on one file; the bundle is written when the last decision
    leaves the request decided with approved files."""
    choice = Vote(choice)
    with transaction.atomic():
        before = as_request(rec)
        at = now()
        new = rules.vote(before, by.username, file, choice, comment, at)
        rnd = rec.rounds.get(number=new.current.number)
        OutputVoteRecord.objects.create(
            round=rnd, checker=by, file=file, vote=choice.value, comment=comment.strip(), at=at
        )
        _save_state(rec, new)
        record_event(
            Action.OUTPUT_VOTE,
            rec.rid,
            actor=by.username,
            role=Role.OUTPUT_CHECKER.value,
            details={
                "round": rnd.number,
                "file": file,
                "vote": choice.value,
                "comment": comment.strip(),
                "state": new.state.value,
            },
        )
        if new.state is RequestState.DECIDED and rules.released_files(new):
            _release(rec, by)
        return new


def _release(rec: OutputRequestRecord, by: User) -> Path:
    release = build_release(rec)
    path = write_release(release, releases_root())
    rec.bundle = path.name
    rec.bundle_sha256 = sha256_of(path)
    rec.save()
    record_event(
        Action.OUTPUT_RELEASE,
        rec.rid,
        actor=by.username,
        role=Role.OUTPUT_CHECKER.value,
        details={
            "project": rec.project.pid,
            "round": release.round,
            "bundle": path.name,
            "sha256": rec.bundle_sha256,
            "files": [o.name for o in release.outputs],
        },
    )
    return path


def revise_request(
    rec: OutputRequestRecord,
    by: User,
    files: Sequence[FileIn],
    description: str | None = None,
    *,
    submit: bool = True,
) -> OutputRequest:
    """A returned request as a new round of files (the earlier rounds are kept)."""
    before = as_request(rec)
    governed, checks = _governed(files)
    new = rules.revise(before, by.username, governed, releasable_types(), description)
    number = new.current.number
    _check_unused(rec.rid, number)
    try:
        with transaction.atomic():
            rnd = _write_round(rec, number, files, checks)
            _save_state(rec, new)
            record_event(
                Action.OUTPUT_REVISE,
                rec.rid,
                actor=by.username,
                role=Role.RESEARCHER.value,
                details={
                    "round": number,
                    "description": new.description,
                    "files": _files_detail(rnd),
                },
            )
            if submit:
                new = submit_request(rec, by)
    except BaseException:
        _cleanup(rec.rid, number)
        raise
    return new


def withdraw_request(rec: OutputRequestRecord, by: User) -> OutputRequest:
    with transaction.atomic():
        before = as_request(rec)
        new = rules.withdraw(before, by.username)
        _save_state(rec, new)
        record_event(
            Action.OUTPUT_WITHDRAW,
            rec.rid,
            actor=by.username,
            role=Role.RESEARCHER.value,
            details={"from": before.state.value, "to": new.state.value},
        )
        return new


def check_can_download(rec: OutputRequestRecord, user: User) -> None:
    """The project's lead and researchers take a release home; checkers never do."""
    app = application(rec.project)
    team = (
        {app.lead} | app.researchers | (app.approved.researchers if app.approved else frozenset())
    )
    checked = any(user.username in r.checkers for r in rec.rounds.all())
    if checked or user.username not in team:
        raise GovernanceError(
            f"{user.username} cannot download the release of {rec.rid}",
            fix="only the project's lead and researchers download its releases",
        )
    if not rec.bundle:
        raise GovernanceError(f"request {rec.rid} has no release bundle")


def download(rec: OutputRequestRecord, by: User) -> Path:
    """The bundle's path, after checking who asks and that it is unchanged."""
    check_can_download(rec, by)
    path = releases_root() / rec.bundle
    if not path.is_file() or sha256_of(path) != rec.bundle_sha256:
        raise IntegrityError(
            f"the release bundle of {rec.rid} is missing or changed",
            where=str(path),
            fix="ask the data manager to investigate",
        )
    with transaction.atomic():
        record_event(
            Action.OUTPUT_DOWNLOAD,
            rec.rid,
            actor=by.username,
            role=Role.RESEARCHER.value,
            details={"bundle": rec.bundle, "sha256": rec.bundle_sha256},
        )
    return path
