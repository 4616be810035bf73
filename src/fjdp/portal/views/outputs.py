"""Output requests: make and revise (researchers), take and review side by side (output
checkers), download the release (the project's team)."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from fjdp.errors import UserError
from fjdp.governance import Role, can_reach_workspace
from fjdp.governance import outputs as rules
from fjdp.governance.outputs import RequestState
from fjdp.portal import actions
from fjdp.portal.bridge import application
from fjdp.portal.models import OutputFileRecord, OutputRequestRecord, User, today
from fjdp.portal.outputs import (
    PREFETCH,
    FileIn,
    as_request,
    automatic_check,
    candidate_files,
    outputs_folder,
    stored_path,
)
from fjdp.portal.views._access import project_for, user_of

PREVIEW_BYTES = 200_000
PREVIEW_ROWS = 200
TEXT_TYPES = {"txt", "json", "md", "html"}


def _ext(name: str) -> str:
    return name.rsplit(".", 1)[-1].lower() if "." in name else ""


def _on_team(user: User, rec: OutputRequestRecord) -> bool:
    return user.username in application(rec.project).team


def can_see(user: User, rec: OutputRequestRecord, team: frozenset[str] | None = None) -> bool:
    """The project's team, the auditors, and output checkers independent of the project
    once the request has left its draft. ``team``: the project's, when already known."""
    on_team = user.username in team if team is not None else _on_team(user, rec)
    if on_team or user.has_role(Role.AUDITOR):
        return True
    return (
        user.has_role(Role.OUTPUT_CHECKER)
        and rec.state != RequestState.DRAFT.value
        and user.username != rec.requester.username
    )


def _request_for(request: HttpRequest, rid: str) -> tuple[User, OutputRequestRecord]:
    user = user_of(request)
    rec = get_object_or_404(OutputRequestRecord.objects.select_related("project"), rid=rid)
    if not can_see(user, rec):
        raise PermissionDenied("you are not on this project and do not check its outputs")
    return user, rec


def waiting_for_checker(user: User) -> list[OutputRequestRecord]:
    """Requests this output checker may take, or has taken and still has to decide."""
    out = []
    recs = (
        OutputRequestRecord.objects.filter(
            state__in=[RequestState.SUBMITTED.value, RequestState.IN_REVIEW.value]
        )
        .select_related("project", "requester")
        .prefetch_related(*PREFETCH)
    )
    person = user.person()
    apps: dict[int, Any] = {}  # one application per project, however many requests
    for rec in recs:
        req = as_request(rec)
        rnd = req.current
        if user.username in rnd.checkers:
            third = rnd.checkers.index(user.username) >= rules.CHECKERS_PER_ROUND
            todo = rules.disputed(rnd) if third else rnd.names
            if any(rnd.vote_of(user.username, f) is None for f in todo):
                out.append(rec)
            continue
        if rec.project_id not in apps:
            apps[rec.project_id] = application(rec.project)
        try:
            rules.take(req, person, apps[rec.project_id])
        except UserError:
            continue
        out.append(rec)
    return out


def _file_choices(project: Any) -> list[dict[str, Any]]:
    root = outputs_folder(project)
    out = []
    for rel in candidate_files(project):
        check = automatic_check(root / rel)
        out.append({"path": rel.as_posix(), "check": check})
    return out


def _picked(request: HttpRequest, project: Any) -> list[FileIn]:
    """The files ticked in the form, each under its own name, with its justification.
    Only files of the project's outputs folder can be picked."""
    root = outputs_folder(project).resolve()
    allowed = {p.as_posix() for p in candidate_files(project)}
    files = []
    for rel in request.POST.getlist("file"):
        if rel not in allowed:
            raise PermissionDenied("that file is not in the project's outputs folder")
        path = (root / rel).resolve()
        if root not in path.parents:
            raise PermissionDenied("that file is not in the project's outputs folder")
        files.append(FileIn(path, request.POST.get(f"justify:{rel}", ""), name=Path(rel).name))
    return files


def output_new(request: HttpRequest, pid: str) -> HttpResponse:
    user, project = project_for(request, pid)
    if not user.has_role(Role.RESEARCHER) or not can_reach_workspace(
        user.person(), application(project), today()
    ):
        raise PermissionDenied("only a researcher with this project's workspace asks for outputs")
    choices = _file_choices(project)
    error = ""
    description = request.POST.get("description", "")
    picked = set(request.POST.getlist("file"))
    if request.method == "POST":
        try:
            rec = actions.create_request(
                project, user, description, _picked(request, project), submit=True
            )
        except UserError as exc:
            error = exc.message()
        else:
            messages.success(request, f"Output request {rec.rid} submitted for checking.")
            return redirect("output_request", rid=rec.rid)
    return render(
        request,
        "portal/output_form.html",
        {
            "project": project,
            "choices": choices,
            "error": error,
            "description": description,
            "picked": picked,
            "justify": {k[8:]: v for k, v in request.POST.items() if k.startswith("justify:")},
            "rec": None,
        },
    )


def _file_view(f: OutputFileRecord) -> dict[str, Any]:
    """How a file is shown: a CSV as a table, a PNG inline, the rest as escaped text."""
    ext = _ext(f.name)
    view: dict[str, Any] = {"file": f, "kind": "other"}
    path = stored_path(f.stored)
    if not path.is_file():
        view["kind"] = "missing"
    elif ext == "png":
        view["kind"] = "image"
    elif ext == "csv":
        text = path.read_bytes()[:PREVIEW_BYTES].decode("utf-8", errors="replace")
        rows = list(csv.reader(io.StringIO(text)))
        view.update(kind="table", head=rows[:1], rows=rows[1 : PREVIEW_ROWS + 1])
        view["cut"] = len(rows) - 1 > PREVIEW_ROWS
    elif ext in TEXT_TYPES:
        data = path.read_bytes()
        view.update(
            kind="text",
            text=data[:PREVIEW_BYTES].decode("utf-8", errors="replace"),
            cut=len(data) > PREVIEW_BYTES,
        )
    return view


def output_request(request: HttpRequest, rid: str) -> HttpResponse:
    user, rec = _request_for(request, rid)
    req = as_request(rec)
    rounds = []
    for r in rec.rounds.order_by("-number"):
        visible = rules.visible_votes(req, user.username, r.number)
        gov_round = req.rounds[r.number - 1]
        # Outcomes only once the round is over: while it is open, an outcome would tell
        # one checker how the other decided (blind review).
        finished = gov_round is not req.current or req.state in (
            RequestState.DECIDED,
            RequestState.RETURNED,
        )
        outcomes = (
            {
                n: (o.value if (o := rules.file_outcome(gov_round, n)) else "")
                for n in gov_round.names
            }
            if finished
            else {}
        )
        rounds.append(
            {
                "record": r,
                "files": [
                    {"f": f, "outcome": outcomes.get(f.name, "")} for f in r.files.order_by("name")
                ],
                "checkers": gov_round.checkers,
                "votes": visible,
            }
        )
    is_requester = user.pk == rec.requester_id
    current = rec.rounds.order_by("-number").first()
    can_take = False
    try:
        rules.take(req, user.person(), application(rec.project))
        can_take = True
    except UserError:
        pass
    context = {
        "rec": rec,
        "req": req,
        "rounds": rounds,
        "is_requester": is_requester,
        "can_submit": is_requester and rec.state in ("draft",),
        "can_revise": is_requester and rec.state == RequestState.RETURNED.value,
        "can_withdraw": is_requester and req.state in rules.OPEN,
        "can_take": can_take,
        "is_checker": current is not None and user.username in (current.checkers or []),
        "can_download": bool(rec.bundle) and _may_download(rec, user),
        "released": rules.released_files(req),
    }
    return render(request, "portal/output_request.html", context)


def _may_download(rec: OutputRequestRecord, user: User) -> bool:
    try:
        actions.outputs.check_can_download(rec, user)
    except UserError:
        return False
    return True


def _post(request: HttpRequest, rid: str, run: Any, done: str) -> HttpResponse:
    user, rec = _request_for(request, rid)
    try:
        run(rec, user)
    except UserError as exc:
        messages.error(request, exc.message())
    else:
        messages.success(request, done)
    return redirect("output_request", rid=rid)


@require_POST
def output_submit(request: HttpRequest, rid: str) -> HttpResponse:
    return _post(request, rid, actions.submit_request, "Submitted for checking.")


@require_POST
def output_withdraw(request: HttpRequest, rid: str) -> HttpResponse:
    return _post(request, rid, actions.withdraw_request, "Output request withdrawn.")


@require_POST
def output_take(request: HttpRequest, rid: str) -> HttpResponse:
    user, rec = _request_for(request, rid)
    if not user.has_role(Role.OUTPUT_CHECKER):
        raise PermissionDenied("this action is for the output checker role")
    try:
        actions.take_request(rec, user)
    except UserError as exc:
        messages.error(request, exc.message())
        return redirect("output_request", rid=rid)
    messages.success(request, f"You are checking {rid}: decide on each file.")
    return redirect("output_review", rid=rid)


def output_review(request: HttpRequest, rid: str) -> HttpResponse:
    """The side-by-side view: each file with its checks and the checker's decision."""
    user, rec = _request_for(request, rid)
    rnd = rec.rounds.order_by("-number").first()
    if rnd is None or user.username not in (rnd.checkers or []):
        raise PermissionDenied("take the request first: only its checkers review it")
    if request.method == "POST":
        try:
            actions.vote_file(
                rec,
                user,
                request.POST.get("file", ""),
                request.POST.get("vote", ""),
                request.POST.get("comment", ""),
            )
        except ValueError:
            messages.error(request, "Choose approve, reject or return.")
        except UserError as exc:
            messages.error(request, exc.message())
        else:
            messages.success(request, f"Decision on {request.POST.get('file')} recorded.")
        return redirect("output_review", rid=rid)
    req = as_request(rec)
    gov_round = req.current
    third = gov_round.checkers.index(user.username) >= rules.CHECKERS_PER_ROUND
    disputed = set(rules.disputed(gov_round))
    visible = rules.visible_votes(req, user.username)
    files = []
    for f in rnd.files.order_by("name"):
        view = _file_view(f)
        view["mine"] = gov_round.vote_of(user.username, f.name)
        view["others"] = [v for v in visible if v.file == f.name and v.checker != user.username]
        view["open"] = (
            view["mine"] is None
            and rec.state == RequestState.IN_REVIEW.value
            and (not third or f.name in disputed)
        )
        files.append(view)
    return render(
        request,
        "portal/output_review.html",
        {"rec": rec, "round": rnd, "files": files, "third": third, "state": req.state},
    )


def output_file(request: HttpRequest, rid: str, fid: int) -> HttpResponse:
    """A stored file's bytes: a PNG as an image, anything else as plain text, so that an
    HTML output is never rendered as a live page inside the portal."""
    _user, rec = _request_for(request, rid)
    f = get_object_or_404(OutputFileRecord, pk=fid, round__request=rec)
    path = stored_path(f.stored)
    if not path.is_file():
        raise Http404("the stored copy is missing")
    kind = "image/png" if _ext(f.name) == "png" else "text/plain; charset=utf-8"
    response = HttpResponse(path.read_bytes(), content_type=kind)
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "sandbox; default-src 'none'"
    return response


def output_revise(request: HttpRequest, rid: str) -> HttpResponse:
    user, rec = _request_for(request, rid)
    if user.pk != rec.requester_id or rec.state != RequestState.RETURNED.value:
        raise PermissionDenied("only the requester revises a returned request")
    project = rec.project
    error = ""
    description = request.POST.get("description", rec.description)
    last = rec.rounds.order_by("-number").first()
    picked = set(request.POST.getlist("file"))
    if request.method == "POST":
        try:
            actions.revise_request(rec, user, _picked(request, project), description)
        except UserError as exc:
            error = exc.message()
        else:
            messages.success(request, f"{rid} resubmitted as a new round.")
            return redirect("output_request", rid=rid)
    justify = {k[8:]: v for k, v in request.POST.items() if k.startswith("justify:")}
    return render(
        request,
        "portal/output_form.html",
        {
            "project": project,
            "choices": _file_choices(project),
            "error": error,
            "description": description,
            "picked": picked,
            "justify": justify,
            "rec": rec,
            "last_files": list(last.files.values_list("name", flat=True)) if last else [],
        },
    )


def output_release(request: HttpRequest, rid: str) -> HttpResponse:
    user, rec = _request_for(request, rid)
    try:
        path = actions.download(rec, user)
    except UserError as exc:
        raise PermissionDenied(exc.message()) from None
    return FileResponse(path.open("rb"), as_attachment=True, filename=path.name)


def outputs(request: HttpRequest) -> HttpResponse:
    """The requests this person made, is on the team of, or checks."""
    user = user_of(request)
    teams: dict[int, frozenset[str]] = {}  # one application per project, not per request
    visible = []
    for r in OutputRequestRecord.objects.select_related("project", "requester").order_by("-pk"):
        if r.project_id not in teams:
            teams[r.project_id] = frozenset(application(r.project).team)
        if can_see(user, r, teams[r.project_id]):
            visible.append(r)
    return render(request, "portal/outputs.html", {"requests": visible})
