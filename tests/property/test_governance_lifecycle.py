"""The lifecycle table under any sequence of events by anyone: no project reaches
``active`` without two distinct, independent panel approvals and the approval of the
custodian of every dataset, and a workspace only ever holds what was approved."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from fjdp.errors import GovernanceError
from fjdp.governance import (
    Amend,
    Application,
    Approved,
    Close,
    CustodianDecide,
    Expire,
    PanelDecide,
    PanelOutcome,
    Provision,
    Role,
    State,
    Submit,
    Withdraw,
    can_edit,
    step,
)
from lib.governance import CUSTODIANS, TODAY, context, draft, people, request

NAMES = sorted(people())


def _who(*likely: str) -> st.SearchStrategy[str]:
    """Mostly someone plausible for the step, sometimes anyone at all."""
    return st.one_of(st.sampled_from(likely), st.sampled_from(NAMES))


reasons = st.sampled_from(["reasons", "reasons", ""])
actions = st.one_of(
    st.builds(Submit, _who("lead")),
    st.builds(
        PanelDecide,
        _who("pan1", "pan2", "pan3", "panres"),
        st.sampled_from(list(PanelOutcome)),
        reasons,
        st.sampled_from(["conditions", ""]),
    ),
    st.builds(
        CustodianDecide,
        _who("cust_court", "cust_deaths"),
        st.sampled_from([*CUSTODIANS, "births"]),
        st.booleans() | st.just(True),
        reasons,
    ),
    st.builds(Provision, _who("dm")),
    st.builds(Amend, _who("lead")),
    st.builds(Withdraw, _who("lead")),
    st.builds(Close, _who("dm"), st.sampled_from(["", "done"])),
    st.just(Expire()),
    # an edit of the working copy by someone: add a researcher or change the datasets
    st.tuples(st.just("edit"), _who("lead"), st.sampled_from(NAMES)),
    st.tuples(st.just("datasets"), _who("lead"), st.sampled_from(["court_public", "deaths"])),
)
days = st.integers(min_value=0, max_value=2100)  # tenths of a day: past the end date

A = PanelOutcome.APPROVE
HAPPY: list[object] = [
    Submit("lead"),
    PanelDecide("pan1", A, "reasons"),
    PanelDecide("pan2", PanelOutcome.APPROVE_WITH_CONDITIONS, "reasons", "conditions"),
    CustodianDecide("cust_court", "court_public", True, "reasons"),
    CustodianDecide("cust_deaths", "deaths", True, "reasons"),
    Provision("dm"),
    Amend("lead"),
    ("edit", "lead", "res2"),
    Submit("lead"),
    PanelDecide("pan3", A, "reasons"),
    PanelDecide("pan2", A, "reasons"),
    CustodianDecide("cust_court", "court_public", True, "reasons"),
    CustodianDecide("cust_deaths", "deaths", True, "reasons"),
    Provision("dm"),
]


@st.composite
def perturbed_happy_path(draw: st.DrawFn) -> list[tuple[object, int]]:
    """The path that does reach active, with steps dropped, replaced by any action
    (by anyone), and random actions slipped in between: near misses of every kind."""
    out: list[tuple[object, int]] = []
    for action in HAPPY:
        for noise in draw(st.lists(actions, max_size=2)):
            out.append((noise, draw(days)))
        choice = draw(st.sampled_from(["keep"] * 6 + ["drop", "replace"]))
        if choice == "keep":
            out.append((action, draw(st.integers(0, 50))))
        elif choice == "replace":
            out.append((draw(actions), draw(days)))
    return out


def _independent_approval(app: Application) -> None:
    """What must hold of the round that made ``app`` approved."""
    folk = people()
    approvers = {d.member for d in app.panel if d.outcome.approves}
    assert len(approvers) >= 2
    for m in approvers:
        assert folk[m].has(Role.PANEL_MEMBER)
        assert m not in app.team
    for ds in app.request.dataset_names:
        ok = [d for d in app.custodians if d.dataset == ds and d.approve]
        assert len(ok) == 1
        c = folk[ok[0].custodian]
        assert c.has(Role.CUSTODIAN) and c.organisation == CUSTODIANS[ds]
        assert c.username not in app.team
    for r in app.researchers:
        assert folk[r].has(Role.RESEARCHER)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.tuples(actions, days), max_size=60) | perturbed_happy_path())
def test_no_sequence_reaches_active_without_the_approvals(
    seq: list[tuple[object, int]],
) -> None:
    app = draft()
    last_approved: Approved | None = None
    for action, day in seq:
        ctx = context(TODAY + dt.timedelta(days=day // 10))
        if isinstance(action, tuple):
            kind, actor, what = action
            folk = people()
            if not can_edit(folk[actor], app):
                continue
            if kind == "edit":
                app = replace(app, researchers=app.researchers | {what})
            else:
                app = replace(app, request=request(what))
            continue
        before = app
        try:
            app = step(app, action, ctx)  # type: ignore[arg-type]
        except GovernanceError:
            assert app == before
            continue
        if app.state is State.APPROVED and before.state is State.CUSTODIAN_REVIEW:
            _independent_approval(app)
            assert app.approved is not None
            assert app.approved.researchers == app.researchers
            assert app.approved.request == app.request
            last_approved = app.approved
        if app.state is State.ACTIVE:
            assert last_approved is not None, "active without any approval"
            assert app.approved == last_approved
            assert app.provisioned
        if app.provisioned:
            assert app.approved == last_approved
