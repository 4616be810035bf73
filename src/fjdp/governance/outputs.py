"""Output requests and their review, as rules: who may ask, who may check, what each
checker may see, and what a round decides.

::

    draft ─submit→ submitted ─(first checker takes it)→ in review
      ▲                                                   │ every file decided:
      │                                                   ├─ a file returned → returned
      └──────────────── submit (a new round) ─────────────┘ otherwise → decided

- A researcher named on an active project, accredited, makes a request; at most one
  open request per researcher per project.
- Two independent checkers review each round: output checkers, neither the requester
  nor anyone on the project's team, and not the same person twice.
- Each decides per file: approve, reject or return (with a comment unless approving).
- Blind review: a checker sees only their own votes until both checkers have voted on
  every file of the round.
- Where the two disagree on a file, a third checker decides it.
- A returned request is revised and resubmitted as a new round; earlier rounds are kept.
- In a decided request, the approved files become the release; rejected ones do not.

Like :mod:`fjdp.governance.lifecycle`, every function returns a new value or raises
:class:`GovernanceError` saying why not; the portal and the CLI store the result.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from enum import StrEnum

from fjdp.errors import GovernanceError
from fjdp.governance.application import Application
from fjdp.governance.people import Person
from fjdp.governance.permissions import check_can_reach_workspace, check_has_role
from fjdp.governance.roles import Role

CHECKERS_PER_ROUND = 2


class RequestState(StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    IN_REVIEW = "in_review"
    RETURNED = "returned"
    DECIDED = "decided"
    WITHDRAWN = "withdrawn"

    @property
    def label(self) -> str:
        return self.value.replace("_", " ")


OPEN = frozenset(
    {RequestState.DRAFT, RequestState.SUBMITTED, RequestState.IN_REVIEW, RequestState.RETURNED}
)


class Vote(StrEnum):
    APPROVE = "approve"
    REJECT = "reject"
    RETURN = "return"


@dataclass(frozen=True)
class OutputFile:
    """One file of a request with the automatic check's verdict (pass, review, fail)
    after mitigation, and the researcher's case for releasing it if not pass."""

    name: str
    status: str
    justification: str = ""


@dataclass(frozen=True)
class FileVote:
    checker: str
    file: str
    vote: Vote
    comment: str
    at: dt.datetime


@dataclass(frozen=True)
class Round:
    number: int
    files: tuple[OutputFile, ...]
    checkers: tuple[str, ...] = ()  # in the order they took the round; a third on disagreement
    votes: tuple[FileVote, ...] = ()

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.files)

    def vote_of(self, checker: str, file: str) -> FileVote | None:
        return next((v for v in self.votes if v.checker == checker and v.file == file), None)


@dataclass(frozen=True)
class OutputRequest:
    id: str
    project: str
    requester: str
    description: str
    state: RequestState
    rounds: tuple[Round, ...]

    @property
    def current(self) -> Round:
        return self.rounds[-1]


def _releasable(name: str, releasable_types: Iterable[str]) -> None:
    ext = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    allowed = tuple(releasable_types)
    if ext not in allowed:
        raise GovernanceError(
            f"{name}: .{ext or '(none)'} files cannot be released",
            fix=f"request only {', '.join(allowed)} files",
        )


def _check_files(files: tuple[OutputFile, ...], releasable_types: Iterable[str]) -> None:
    if not files:
        raise GovernanceError("an output request needs at least one file", fix="add a file")
    names = [f.name for f in files]
    if len(set(names)) != len(names):
        raise GovernanceError("two files of the request have the same name", fix="rename one")
    types = tuple(releasable_types)
    for f in files:
        _releasable(f.name, types)
        if f.status not in ("pass", "review", "fail"):
            raise GovernanceError(f"{f.name}: unknown check status {f.status!r}")
        if f.status != "pass" and not f.justification.strip():
            raise GovernanceError(
                f"{f.name} is '{f.status}' after the automatic checks",
                fix="say why it should still be released, or leave it out",
            )


def check_can_request(
    person: Person, app: Application, day: dt.date, existing: Iterable[OutputRequest]
) -> None:
    """A named, accredited researcher of a live project with no other open request."""
    check_can_reach_workspace(person, app, day)
    for r in existing:
        if r.project == app.project and r.requester == person.username and r.state in OPEN:
            raise GovernanceError(
                f"{person.username} already has an open output request ({r.id}) on "
                f"project {app.project}",
                fix="finish or withdraw that request first",
            )


def new_request(
    request_id: str,
    person: Person,
    app: Application,
    day: dt.date,
    *,
    description: str,
    files: tuple[OutputFile, ...],
    existing: Iterable[OutputRequest],
    releasable_types: Iterable[str],
) -> OutputRequest:
    check_can_request(person, app, day, existing)
    if not description.strip():
        raise GovernanceError(
            "an output request needs its description",
            fix="describe the population and its size, the variables, degrees of freedom "
            "and how the outputs relate to earlier releases",
        )
    _check_files(files, releasable_types)
    return OutputRequest(
        id=request_id,
        project=app.project,
        requester=person.username,
        description=description.strip(),
        state=RequestState.DRAFT,
        rounds=(Round(number=1, files=files),),
    )


def submit(req: OutputRequest, actor: str) -> OutputRequest:
    if actor != req.requester:
        raise GovernanceError(f"only {req.requester} can submit request {req.id}")
    if req.state not in (RequestState.DRAFT, RequestState.RETURNED):
        raise GovernanceError(f"request {req.id} is {req.state.label} and cannot be submitted")
    return replace(req, state=RequestState.SUBMITTED)


def revise(
    req: OutputRequest,
    actor: str,
    files: tuple[OutputFile, ...],
    releasable_types: Iterable[str],
    description: str | None = None,
) -> OutputRequest:
    """A returned request becomes a new round (the earlier ones are kept as history)."""
    if actor != req.requester:
        raise GovernanceError(f"only {req.requester} can revise request {req.id}")
    if req.state is not RequestState.RETURNED:
        raise GovernanceError(
            f"request {req.id} is {req.state.label}; only a returned one is revised"
        )
    _check_files(files, releasable_types)
    new_round = Round(number=req.current.number + 1, files=files)
    return replace(
        req,
        description=(description or req.description).strip(),
        state=RequestState.RETURNED,
        rounds=(*req.rounds, new_round),
    )


def withdraw(req: OutputRequest, actor: str) -> OutputRequest:
    if actor != req.requester:
        raise GovernanceError(f"only {req.requester} can withdraw request {req.id}")
    if req.state not in OPEN:
        raise GovernanceError(f"request {req.id} is {req.state.label} and cannot be withdrawn")
    return replace(req, state=RequestState.WITHDRAWN)


def disputed(rnd: Round) -> tuple[str, ...]:
    """Files on which the first two checkers, both having voted, disagree."""
    first = rnd.checkers[:CHECKERS_PER_ROUND]
    if len(first) < CHECKERS_PER_ROUND:
        return ()
    out = []
    for name in rnd.names:
        votes = [rnd.vote_of(c, name) for c in first]
        if all(votes) and len({v.vote for v in votes if v}) > 1:
            out.append(name)
    return tuple(out)


def _needs_third(rnd: Round) -> bool:
    return bool(disputed(rnd)) and len(rnd.checkers) == CHECKERS_PER_ROUND


def check_can_check(person: Person, req: OutputRequest, app: Application) -> None:
    """An output checker independent of the request and the project, new to the round."""
    check_has_role(person, Role.OUTPUT_CHECKER, to="check outputs")
    if person.username == req.requester:
        raise GovernanceError(
            f"{person.username} made request {req.id} and cannot check it",
            fix="another output checker must review it",
        )
    if person.username in app.team:
        raise GovernanceError(
            f"{person.username} is on the team of project {app.project} and cannot check its "
            "outputs",
            fix="an output checker from outside the project must review it",
        )
    if req.state not in (RequestState.SUBMITTED, RequestState.IN_REVIEW):
        raise GovernanceError(f"request {req.id} is {req.state.label}, not waiting for checkers")


def take(req: OutputRequest, person: Person, app: Application) -> OutputRequest:
    """A checker joins the current round: one of the two, or the third on a dispute."""
    check_can_check(person, req, app)
    rnd = req.current
    if person.username in rnd.checkers:
        raise GovernanceError(
            f"{person.username} already checks round {rnd.number} of request {req.id}",
            fix="the other check must come from a different output checker",
        )
    if len(rnd.checkers) >= CHECKERS_PER_ROUND and not _needs_third(rnd):
        raise GovernanceError(
            f"round {rnd.number} of request {req.id} already has its {CHECKERS_PER_ROUND} checkers"
        )
    new_round = replace(rnd, checkers=(*rnd.checkers, person.username))
    return replace(req, state=RequestState.IN_REVIEW, rounds=(*req.rounds[:-1], new_round))


def vote(
    req: OutputRequest, checker: str, file: str, choice: Vote, comment: str, at: dt.datetime
) -> OutputRequest:
    """Record one checker's decision on one file; the round's outcome follows from
    :func:`outcome` once every file is decided."""
    if req.state is not RequestState.IN_REVIEW:
        raise GovernanceError(f"request {req.id} is {req.state.label}, not in review")
    rnd = req.current
    if checker not in rnd.checkers:
        raise GovernanceError(
            f"{checker} has not taken round {rnd.number} of request {req.id}",
            fix="take the request first",
        )
    if file not in rnd.names:
        raise GovernanceError(f"request {req.id} has no file {file!r} in round {rnd.number}")
    third = rnd.checkers.index(checker) >= CHECKERS_PER_ROUND
    if third and file not in disputed(rnd):
        raise GovernanceError(f"{file} is not disputed; the third checker decides disputes only")
    if rnd.vote_of(checker, file) is not None:
        raise GovernanceError(f"{checker} has already decided on {file} in round {rnd.number}")
    if choice is not Vote.APPROVE and not comment.strip():
        raise GovernanceError(
            f"to {choice.value} {file}, say why", fix="write a comment the researcher can act on"
        )
    new_round = replace(
        rnd, votes=(*rnd.votes, FileVote(checker, file, choice, comment.strip(), at))
    )
    req = replace(req, rounds=(*req.rounds[:-1], new_round))
    decided = outcome(new_round)
    if decided is None:
        return req
    state = RequestState.RETURNED if Vote.RETURN in decided.values() else RequestState.DECIDED
    return replace(req, state=state)


def file_outcome(rnd: Round, file: str) -> Vote | None:
    """The decision on ``file``: the two checkers' shared vote, else the third's."""
    first = rnd.checkers[:CHECKERS_PER_ROUND]
    votes = [rnd.vote_of(c, file) for c in first]
    if len(first) < CHECKERS_PER_ROUND or not all(votes):
        return None
    kinds = {v.vote for v in votes if v}
    if len(kinds) == 1:
        return kinds.pop()
    for third in rnd.checkers[CHECKERS_PER_ROUND:]:
        v = rnd.vote_of(third, file)
        if v is not None:
            return v.vote
    return None


def outcome(rnd: Round) -> Mapping[str, Vote] | None:
    """Every file's decision once all are decided; None while any is open."""
    decided = {f: file_outcome(rnd, f) for f in rnd.names}
    if any(v is None for v in decided.values()):
        return None
    return {f: v for f, v in decided.items() if v is not None}


def visible_votes(req: OutputRequest, viewer: str, rnd_number: int | None = None) -> list[FileVote]:
    """The votes of a round ``viewer`` may see: blind until both checkers have voted on
    every file; the requester sees them once the round is decided."""
    rnd = req.rounds[-1] if rnd_number is None else req.rounds[rnd_number - 1]
    first = rnd.checkers[:CHECKERS_PER_ROUND]
    all_in = len(first) == CHECKERS_PER_ROUND and all(
        rnd.vote_of(c, f) for c in first for f in rnd.names
    )
    if viewer == req.requester:
        finished = rnd is not req.current or req.state in (
            RequestState.DECIDED,
            RequestState.RETURNED,
        )
        return list(rnd.votes) if finished else []
    if viewer in rnd.checkers and all_in:
        return list(rnd.votes)
    return [v for v in rnd.votes if v.checker == viewer]


def released_files(req: OutputRequest) -> tuple[str, ...]:
    """The files a decided request releases: those approved in its last round."""
    if req.state is not RequestState.DECIDED:
        return ()
    decided = outcome(req.current) or {}
    return tuple(f for f, v in decided.items() if v is Vote.APPROVE)
