"""Governance rules without a database: roles, accreditation, separation of duties, the
lifecycle table and the scope of an approved project."""

from __future__ import annotations

import datetime as dt

import pytest

from fjdp.errors import GovernanceError, UserError
from fjdp.governance import (
    INCOMPATIBLE,
    TRANSITIONS,
    Accreditation,
    Amend,
    Application,
    Close,
    CustodianDecide,
    Event,
    Expire,
    PanelDecide,
    PanelOutcome,
    Provision,
    Role,
    State,
    Submit,
    Withdraw,
    build_scope,
    can_approve_dataset,
    can_be_named,
    can_reach_workspace,
    can_roles_compatible,
    check_roles_compatible,
    parse_roles,
    step,
)
from lib.governance import CUSTODIANS, TODAY, context, draft, people, person

A = PanelOutcome.APPROVE


def approved(app: Application | None = None) -> Application:
    ctx = context()
    app = step(app or draft(), Submit("lead"), ctx)
    app = step(app, PanelDecide("pan1", A, "sound"), ctx)
    app = step(app, PanelDecide("pan2", PanelOutcome.APPROVE_WITH_CONDITIONS, "ok", "no LA"), ctx)
    for ds, who in (("court_public", "cust_court"), ("deaths", "cust_deaths")):
        app = step(app, CustodianDecide(who, ds, True, "fine"), ctx)
    return app


def active() -> Application:
    return step(approved(), Provision("dm"), context())


# --- errors -----------------------------------------------------------------------------


def test_governance_error_is_a_user_error_with_its_own_code() -> None:
    err = GovernanceError("no", fix="ask")
    assert isinstance(err, UserError)
    assert err.exit_code == 7
    assert err.message() == "no; ask"


# --- roles ------------------------------------------------------------------------------


def test_linkage_operator_and_researcher_cannot_be_one_account() -> None:
    with pytest.raises(GovernanceError, match="linkage operator and researcher"):
        check_roles_compatible({Role.LINKAGE_OPERATOR, Role.RESEARCHER}, who="ann")
    assert not can_roles_compatible({Role.RESEARCHER, Role.LINKAGE_OPERATOR})
    assert can_roles_compatible({Role.RESEARCHER, Role.PROJECT_LEAD})


@pytest.mark.parametrize("pair", sorted(INCOMPATIBLE, key=sorted))
def test_every_incompatible_pair_is_refused(pair: frozenset[Role]) -> None:
    assert not can_roles_compatible(pair | {Role.OUTPUT_CHECKER})


def test_parse_roles_names_an_unknown_role() -> None:
    assert parse_roles(["researcher", "auditor"]) == {Role.RESEARCHER, Role.AUDITOR}
    with pytest.raises(ValueError, match="'wizard'"):
        parse_roles(["wizard"])


# --- accreditation ----------------------------------------------------------------------


def test_accreditation_valid_between_training_and_expiry() -> None:
    acc = Accreditation(dt.date(2026, 1, 1), dt.date(2026, 12, 31), dt.date(2026, 1, 2))
    assert not acc.valid_on(dt.date(2026, 1, 1))  # agreement not yet signed
    assert acc.valid_on(dt.date(2026, 1, 2))
    assert acc.valid_on(dt.date(2026, 12, 31))
    assert acc.problem_on(dt.date(2027, 1, 1)) == "has an accreditation that lapsed on 2026-12-31"
    assert Accreditation().problem_on(TODAY) == "has no recorded safe-researcher training"
    no_agreement = Accreditation(dt.date(2026, 1, 1), dt.date(2026, 12, 31), None)
    assert no_agreement.problem_on(TODAY) == "has not signed the access agreement"


def test_unaccredited_or_role_less_person_cannot_be_named() -> None:
    folk = people()
    assert can_be_named(folk["res"], TODAY)
    assert not can_be_named(folk["unacc"], TODAY)
    assert not can_be_named(folk["pan1"], TODAY)  # accredited but not a researcher
    assert not can_be_named(folk["res"], TODAY + dt.timedelta(days=400))  # lapsed


def test_submit_refuses_an_unaccredited_researcher() -> None:
    app = draft(researchers=frozenset({"res", "unacc"}))
    with pytest.raises(GovernanceError, match="unacc has no recorded safe-researcher training"):
        step(app, Submit("lead"), context())


# --- separation of duties ---------------------------------------------------------------


def test_panel_member_on_the_team_cannot_review() -> None:
    app = step(draft(researchers=frozenset({"res", "panres"})), Submit("lead"), context())
    with pytest.raises(GovernanceError, match="panres is on the team of project P0001"):
        step(app, PanelDecide("panres", A, "mine"), context())


def test_the_same_member_cannot_decide_twice() -> None:
    ctx = context()
    app = step(step(draft(), Submit("lead"), ctx), PanelDecide("pan1", A, "ok"), ctx)
    with pytest.raises(GovernanceError, match="already decided"):
        step(app, PanelDecide("pan1", A, "again"), ctx)


def test_a_non_panel_member_cannot_decide() -> None:
    app = step(draft(), Submit("lead"), context())
    with pytest.raises(GovernanceError, match="dm is not a governance panel member"):
        step(app, PanelDecide("dm", A, "ok"), context())


def test_decisions_need_reasons_and_conditions() -> None:
    app = step(draft(), Submit("lead"), context())
    with pytest.raises(GovernanceError, match="needs recorded reasons"):
        step(app, PanelDecide("pan1", A, "  "), context())
    with pytest.raises(GovernanceError, match="needs the conditions"):
        step(app, PanelDecide("pan1", PanelOutcome.APPROVE_WITH_CONDITIONS, "ok"), context())


def test_a_custodian_approves_only_its_own_dataset() -> None:
    folk = people()
    assert can_approve_dataset(folk["cust_court"], "court_public", CUSTODIANS)
    assert not can_approve_dataset(folk["cust_court"], "deaths", CUSTODIANS)
    assert not can_approve_dataset(folk["pan1"], "deaths", CUSTODIANS)
    ctx = context()
    app = step(draft(), Submit("lead"), ctx)
    app = step(app, PanelDecide("pan1", A, "ok"), ctx)
    app = step(app, PanelDecide("pan2", A, "ok"), ctx)
    assert app.state is State.CUSTODIAN_REVIEW
    with pytest.raises(GovernanceError, match="does not speak for 'registration service'"):
        step(app, CustodianDecide("cust_court", "deaths", True, "ok"), ctx)
    app = step(app, CustodianDecide("cust_court", "court_public", True, "ok"), ctx)
    assert app.state is State.CUSTODIAN_REVIEW
    app = step(app, CustodianDecide("cust_deaths", "deaths", True, "ok"), ctx)
    assert app.state is State.APPROVED


# --- lifecycle --------------------------------------------------------------------------


def test_every_state_is_in_the_table_and_every_target_is_a_state() -> None:
    assert set(TRANSITIONS) == set(State)
    for events in TRANSITIONS.values():
        for targets in events.values():
            assert targets <= set(State)
    assert not TRANSITIONS[State.REJECTED] and not TRANSITIONS[State.CLOSED]


def test_the_whole_lifecycle() -> None:
    app = approved()
    assert app.state is State.APPROVED
    assert app.approved is not None and app.approved.conditions == ("no LA",)
    app = step(app, Provision("dm"), context())
    assert app.state is State.ACTIVE and app.provisioned
    people_ = people()
    assert can_reach_workspace(people_["res"], app, TODAY)
    assert not can_reach_workspace(people_["res2"], app, TODAY)
    later = TODAY + dt.timedelta(days=201)
    assert not can_reach_workspace(people_["res"], app, later)
    app = step(app, Expire(), context(later))
    assert app.state is State.EXPIRED
    assert not can_reach_workspace(people_["res"], app, TODAY)


def test_one_approval_is_not_enough() -> None:
    ctx = context()
    app = step(step(draft(), Submit("lead"), ctx), PanelDecide("pan1", A, "ok"), ctx)
    assert app.state is State.PANEL_REVIEW
    app = step(app, PanelDecide("pan2", PanelOutcome.REJECT, "no"), ctx)
    assert app.state is State.PANEL_REVIEW  # split: a third member decides
    app = step(app, PanelDecide("pan3", PanelOutcome.REJECT, "no"), ctx)
    assert app.state is State.REJECTED
    with pytest.raises(GovernanceError, match="is rejected"):
        step(app, Submit("lead"), ctx)


def test_returned_application_is_edited_and_resubmitted_in_a_new_round() -> None:
    ctx = context()
    app = step(draft(), Submit("lead"), ctx)
    app = step(app, PanelDecide("pan1", PanelOutcome.RETURN, "fix it"), ctx)
    app = step(app, PanelDecide("pan2", PanelOutcome.RETURN, "fix it"), ctx)
    assert app.state is State.RETURNED
    app = step(app, Submit("lead"), ctx)
    assert app.state is State.SUBMITTED and app.round == 2 and app.panel == ()


def test_custodian_refusal_returns_the_application() -> None:
    ctx = context()
    app = step(draft(), Submit("lead"), ctx)
    app = step(app, PanelDecide("pan1", A, "ok"), ctx)
    app = step(app, PanelDecide("pan2", A, "ok"), ctx)
    app = step(app, CustodianDecide("cust_deaths", "deaths", False, "not this"), ctx)
    assert app.state is State.RETURNED


def test_provision_needs_a_data_manager_and_an_approval() -> None:
    with pytest.raises(GovernanceError, match="lead is not a data manager"):
        step(approved(), Provision("lead"), context())
    with pytest.raises(GovernanceError, match="is draft"):
        step(draft(), Provision("dm"), context())


def test_an_amendment_goes_through_review_and_keeps_the_workspace_meanwhile() -> None:
    ctx = context()
    app = step(active(), Amend("lead"), ctx)
    assert app.state is State.DRAFT and app.provisioned
    from dataclasses import replace

    app = replace(app, researchers=app.researchers | {"res2"})
    folk = people()
    assert can_reach_workspace(folk["res"], app, TODAY)  # the approved team keeps access
    assert not can_reach_workspace(folk["res2"], app, TODAY)  # the new one waits
    app = step(app, Submit("lead"), ctx)
    # res2 is now on the team: a panel member named there could not review it
    app = step(app, PanelDecide("pan1", PanelOutcome.REJECT, "no"), ctx)
    app = step(app, PanelDecide("pan2", PanelOutcome.REJECT, "no"), ctx)
    assert app.state is State.ACTIVE
    assert app.researchers == frozenset({"lead", "res"})  # back to what was approved


def test_an_approved_amendment_changes_the_approved_team() -> None:
    from dataclasses import replace

    ctx = context()
    app = step(active(), Amend("lead"), ctx)
    app = replace(app, researchers=app.researchers | {"res2"})
    app = approved(app)
    assert app.state is State.APPROVED
    assert app.approved is not None and "res2" in app.approved.researchers
    app = step(app, Provision("dm"), ctx)
    assert can_reach_workspace(people()["res2"], app, TODAY)


def test_withdraw_close_and_expire() -> None:
    ctx = context()
    assert step(draft(), Withdraw("lead"), ctx).state is State.CLOSED
    with pytest.raises(GovernanceError, match="only the lead"):
        step(draft(), Withdraw("res"), ctx)
    with pytest.raises(GovernanceError, match="has not expired"):
        step(active(), Expire(), ctx)
    with pytest.raises(GovernanceError, match="needs recorded reasons"):
        step(active(), Close("dm", ""), ctx)
    assert step(active(), Close("dm", "finished"), ctx).state is State.CLOSED
    amended = step(step(active(), Amend("lead"), ctx), Withdraw("lead"), ctx)
    assert amended.state is State.ACTIVE


def test_lapsed_accreditation_loses_the_workspace() -> None:
    app = active()
    from dataclasses import replace

    lapsed = replace(people()["res"], accreditation=Accreditation())
    assert not can_reach_workspace(lapsed, app, TODAY)


def test_an_event_outside_the_table_is_refused_with_what_is_possible() -> None:
    with pytest.raises(GovernanceError, match=r"possible: .*submit"):
        step(draft(), PanelDecide("pan1", A, "x"), context())
    assert Event.SUBMIT in TRANSITIONS[State.DRAFT]


# --- scope ------------------------------------------------------------------------------


def test_scope_of_an_approved_project() -> None:
    scope = build_scope(active(), title="T")
    assert scope.project == "P0001"
    assert scope.end_date == TODAY + dt.timedelta(days=200)
    assert scope.datasets["court_public"]["cases"].columns == "*"
    assert scope.datasets["court_public"]["cases"].date_column == "issue_date"
    assert scope.datasets["deaths"]["deaths"].columns == ("date_of_death",)
    assert scope.date_window is not None and scope.date_window.start == dt.date(2010, 1, 1)
    assert scope.reference == ("lsoa_deprivation",)


def test_scope_holds_the_approved_link_statuses() -> None:
    from dataclasses import replace

    from fjdp.types import LinkStatus as L

    app = active()
    assert app.approved is not None
    assert build_scope(app).link_statuses == tuple(sorted(L.default_included()))
    wider = frozenset({*L.default_included(), L.PROB_POSSIBLE, L.UNMATCHED})
    approved = replace(app.approved, request=replace(app.approved.request, link_statuses=wider))
    assert set(build_scope(replace(app, approved=approved)).link_statuses) == wider
    # the working copy of an amendment does not widen what the workspace holds
    asked = replace(app, request=replace(app.request, link_statuses=wider))
    assert build_scope(asked).link_statuses == tuple(sorted(L.default_included()))


def test_no_scope_before_approval() -> None:
    with pytest.raises(GovernanceError, match="no approved scope"):
        build_scope(draft())


def test_person_factory_roles() -> None:
    assert person("x", Role.AUDITOR).has(Role.AUDITOR)
