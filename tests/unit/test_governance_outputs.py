"""The rules of output requests and their review (fjdp.governance.outputs)."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fjdp.errors import GovernanceError
from fjdp.governance import Application, Approved, Role, State
from fjdp.governance.outputs import (
    OutputFile,
    OutputRequest,
    RequestState,
    Vote,
    disputed,
    new_request,
    released_files,
    revise,
    submit,
    take,
    visible_votes,
    vote,
    withdraw,
)
from lib.governance import TODAY, person, request

AT = dt.datetime(2026, 6, 1, 9, tzinfo=dt.UTC)
TYPES = ("csv", "txt", "json", "png", "md", "html")
RES = person("res", Role.RESEARCHER)
RES2 = person("res2", Role.RESEARCHER)
LEAD = person("lead", Role.PROJECT_LEAD, Role.RESEARCHER)
CHK1, CHK2, CHK3 = (person(f"chk{i}", Role.OUTPUT_CHECKER) for i in (1, 2, 3))
FILES = (OutputFile("rates.csv", "pass"), OutputFile("rates.png", "pass"))


def _app() -> Application:
    team = frozenset({"lead", "res", "res2"})
    return Application(
        project="P1",
        lead="lead",
        state=State.ACTIVE,
        researchers=team,
        request=request(),
        end_date=TODAY + dt.timedelta(days=100),
        approved=Approved(team, request(), TODAY + dt.timedelta(days=100)),
        provisioned=True,
    )


def _new(**over: object) -> OutputRequest:
    args: dict[str, object] = {
        "description": "infants per 10,000 births, 2005-2020, all Wales",
        "files": FILES,
        "existing": (),
        "releasable_types": TYPES,
    }
    args.update(over)
    return new_request("R1", RES, _app(), TODAY, **args)  # type: ignore[arg-type]


def _in_review() -> OutputRequest:
    req = submit(_new(), "res")
    return take(take(req, CHK1, _app()), CHK2, _app())


def _vote_all(req: OutputRequest, checker: str, choice: Vote) -> OutputRequest:
    for f in req.current.names:
        req = vote(req, checker, f, choice, "" if choice is Vote.APPROVE else "why", AT)
    return req


def test_two_approvals_decide_and_release_every_file() -> None:
    req = _vote_all(_vote_all(_in_review(), "chk1", Vote.APPROVE), "chk2", Vote.APPROVE)
    assert req.state is RequestState.DECIDED
    assert released_files(req) == ("rates.csv", "rates.png")


def test_one_approval_is_not_a_decision() -> None:
    req = _vote_all(_in_review(), "chk1", Vote.APPROVE)
    assert req.state is RequestState.IN_REVIEW
    assert released_files(req) == ()


def test_review_is_blind_until_both_have_voted_on_every_file() -> None:
    req = _vote_all(_in_review(), "chk1", Vote.APPROVE)
    req = vote(req, "chk2", "rates.csv", Vote.APPROVE, "", AT)
    assert {v.checker for v in visible_votes(req, "chk2")} == {"chk2"}
    assert {v.checker for v in visible_votes(req, "chk1")} == {"chk1"}
    assert visible_votes(req, "res") == []
    req = vote(req, "chk2", "rates.png", Vote.APPROVE, "", AT)
    assert {v.checker for v in visible_votes(req, "chk1")} == {"chk1", "chk2"}
    assert len(visible_votes(req, "res")) == 4


def test_the_requester_and_the_project_team_cannot_check() -> None:
    req = submit(_new(), "res")
    for who in (
        person("res", Role.RESEARCHER, Role.OUTPUT_CHECKER),
        person("lead", Role.OUTPUT_CHECKER),
    ):
        with pytest.raises(GovernanceError, match="cannot check"):
            take(req, who, _app())


def test_one_checker_cannot_take_a_round_twice() -> None:
    req = take(submit(_new(), "res"), CHK1, _app())
    with pytest.raises(GovernanceError, match="already checks round 1"):
        take(req, CHK1, _app())


def test_a_third_checker_is_only_for_a_dispute_and_decides_it() -> None:
    req = _in_review()
    with pytest.raises(GovernanceError, match="already has its 2 checkers"):
        take(req, CHK3, _app())
    req = _vote_all(req, "chk1", Vote.APPROVE)
    req = vote(req, "chk2", "rates.csv", Vote.APPROVE, "", AT)
    req = vote(req, "chk2", "rates.png", Vote.REJECT, "a cell of 3 in the plot", AT)
    assert disputed(req.current) == ("rates.png",)
    assert req.state is RequestState.IN_REVIEW
    req = take(req, CHK3, _app())
    with pytest.raises(GovernanceError, match="not disputed"):
        vote(req, "chk3", "rates.csv", Vote.REJECT, "no", AT)
    req = vote(req, "chk3", "rates.png", Vote.REJECT, "agree: small cell", AT)
    assert req.state is RequestState.DECIDED
    assert released_files(req) == ("rates.csv",)


def test_a_returned_request_starts_a_new_round_and_keeps_its_history() -> None:
    req = _vote_all(_in_review(), "chk1", Vote.RETURN)
    req = _vote_all(req, "chk2", Vote.RETURN)
    assert req.state is RequestState.RETURNED
    req = revise(req, "res", (OutputFile("rates.csv", "pass"),), TYPES)
    req = submit(req, "res")
    assert [r.number for r in req.rounds] == [1, 2]
    assert len(req.rounds[0].votes) == 4 and req.current.votes == ()
    req = take(take(req, CHK1, _app()), CHK3, _app())  # the same checker may check again
    req = _vote_all(_vote_all(req, "chk1", Vote.APPROVE), "chk3", Vote.APPROVE)
    assert released_files(req) == ("rates.csv",)


def test_a_decision_other_than_approve_needs_a_comment() -> None:
    with pytest.raises(GovernanceError, match="say why"):
        vote(_in_review(), "chk1", "rates.csv", Vote.REJECT, "  ", AT)


def test_at_most_one_open_request_per_researcher_per_project() -> None:
    first = _new()
    with pytest.raises(GovernanceError, match="already has an open output request"):
        _new(existing=(first,))
    new_request(
        "R2",
        RES2,
        _app(),
        TODAY,
        description="x",
        files=FILES,
        existing=(first,),
        releasable_types=TYPES,
    )  # another researcher may
    _new(existing=(withdraw(first, "res"),))  # a withdrawn one is not open


def test_only_releasable_file_types_may_be_requested() -> None:
    with pytest.raises(GovernanceError, match=r"rows\.parquet: \.parquet files cannot be released"):
        _new(files=(OutputFile("rows.parquet", "pass"),))


def test_a_failing_output_needs_the_researchers_case() -> None:
    with pytest.raises(GovernanceError, match="'fail' after the automatic checks"):
        _new(files=(OutputFile("t.csv", "fail"),))
    _new(files=(OutputFile("t.csv", "fail", "cells are structural zeros"),))


def test_an_unaccredited_or_unnamed_person_cannot_request() -> None:
    with pytest.raises(GovernanceError):
        new_request(
            "R",
            person("res", Role.RESEARCHER, accredited_on=False),
            _app(),
            TODAY,
            description="x",
            files=FILES,
            existing=(),
            releasable_types=TYPES,
        )
    with pytest.raises(GovernanceError, match="not an approved researcher"):
        new_request(
            "R",
            person("other", Role.RESEARCHER),
            _app(),
            TODAY,
            description="x",
            files=FILES,
            existing=(),
            releasable_types=TYPES,
        )


votes = st.lists(st.sampled_from(list(Vote)), min_size=4, max_size=4)


@given(votes)
def test_a_file_is_released_only_with_two_approvals(choices: list[Vote]) -> None:
    req = _in_review()
    plan = [
        ("chk1", "rates.csv"),
        ("chk1", "rates.png"),
        ("chk2", "rates.csv"),
        ("chk2", "rates.png"),
    ]
    for (who, f), c in zip(plan, choices, strict=True):
        req = vote(req, who, f, c, "because", AT)
    released = set(released_files(req))
    approved = {
        f
        for f in ("rates.csv", "rates.png")
        if {c for (_, g), c in zip(plan, choices, strict=True) if g == f} == {Vote.APPROVE}
    }
    assert released <= approved  # nothing leaves without two approvals
    disputes = [
        f
        for f in ("rates.csv", "rates.png")
        if len({c for (_, g), c in zip(plan, choices, strict=True) if g == f}) > 1
    ]
    if disputes:
        assert req.state is RequestState.IN_REVIEW  # a dispute waits for a third checker
        assert released == set()
    elif Vote.RETURN in choices:
        assert req.state is RequestState.RETURNED and released == set()
    else:
        assert req.state is RequestState.DECIDED and released == approved
