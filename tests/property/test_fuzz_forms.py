"""Whatever a browser (or anything else) posts to the portal's forms: random text and
unicode, control characters and NUL, oversized values, lists where one value is
expected, dates in any format, unknown choices and ids.

Every form class says valid or not, with its reasons, and never raises; validating
saves nothing; and what it accepts is what its fields allow."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django import forms as djforms
from hypothesis import given
from hypothesis import strategies as st

from fjdp.governance import Role
from fjdp.portal import forms
from fjdp.portal.datasets import column_choices
from fjdp.portal.models import AuditEntry, Project, User
from lib.fuzz import accepted, fuzz_settings, refused_as
from lib.portal import make_user

pytestmark = [pytest.mark.fuzz, pytest.mark.django_db]

today = dt.date.today()
texts = st.one_of(
    st.text(max_size=40),
    st.text(st.characters(codec="utf-8"), max_size=20),
    st.text(st.characters(max_codepoint=0x1F), max_size=5),  # control characters, NUL
    st.integers(0, 300_000).map(lambda n: "x" * n),  # oversized
    st.sampled_from(
        ["", " ", "\x00", "<script>alert(1)</script>", "' OR 1=1 --", "\u202e", "\ud7ff"]
    ),
)
dates = st.one_of(
    st.dates(today - dt.timedelta(days=4000), today + dt.timedelta(days=4000)).map(str),
    st.sampled_from(
        ["2020-02-30", "31/12/2030", "0000-00-00", "9999-12-31", "tomorrow", "1e9", "-1"]
    ),
    texts,
)


def _choices(field: djforms.Field) -> list[str]:
    out: list[str] = []
    for value, label in getattr(field, "choices", []):
        if isinstance(label, list | tuple):
            out += [str(v) for v, _ in label]
        else:
            out.append(str(value))
    return out


def _value(field: djforms.Field) -> st.SearchStrategy[Any]:
    """A mix of what the field expects and anything at all."""
    if isinstance(field, djforms.ModelMultipleChoiceField):
        ids = [str(pk) for pk in field.queryset.values_list("pk", flat=True)]
        good = st.lists(st.sampled_from(ids), max_size=3) if ids else st.just([])
        return good | st.lists(
            st.sampled_from(["0", "-1", "9999999999999999999999", "a", ""]), max_size=2
        )
    if isinstance(field, djforms.MultipleChoiceField):
        known = _choices(field)
        good = st.lists(st.sampled_from(known), max_size=4) if known else st.just([])
        return good | st.lists(texts, max_size=3)
    if isinstance(field, djforms.ChoiceField):
        known = _choices(field)
        return (st.sampled_from(known) if known else texts) | texts
    if isinstance(field, djforms.DateField):
        return dates
    if isinstance(field, djforms.BooleanField):
        return st.sampled_from(["on", "true", "false", "", "0"]) | texts
    if isinstance(field, djforms.JSONField):
        return st.sampled_from(["[]", '["researcher"]', "{", "null", '"x"']) | texts
    return texts


def _post(
    form_class: type[djforms.BaseForm], data: st.DataObject, **kwargs: Any
) -> djforms.BaseForm:
    fields = form_class(**kwargs).fields
    post: dict[str, Any] = {}
    for name, field in fields.items():
        if data.draw(st.integers(0, 9), label=f"{name} present") == 0:
            continue  # the field missing from the post
        post[name] = data.draw(_value(field), label=name)
    if data.draw(st.booleans(), label="extra field"):
        post[data.draw(st.text(max_size=8))] = data.draw(texts)
    return form_class(data=post, **kwargs)


def _counts() -> tuple[int, int, int]:
    return Project.objects.count(), User.objects.count(), AuditEntry.objects.count()


def _people() -> None:
    if not User.objects.filter(username="res1").exists():
        make_user("res1", Role.RESEARCHER)
        make_user("res2", Role.RESEARCHER, accredited=False)
        make_user("lead1", Role.RESEARCHER, Role.PROJECT_LEAD)


FORMS = [
    forms.ProjectForm,
    forms.PanelDecisionForm,
    forms.CustodianDecisionForm,
    forms.CloseForm,
    forms.AuditFilterForm,
    forms.UserAdminForm,
]


@fuzz_settings(40)
@given(form_class=st.sampled_from(FORMS), data=st.data())
def test_any_post_to_any_form_is_valid_or_invalid_and_saves_nothing(
    form_class: type[djforms.BaseForm], data: st.DataObject
) -> None:
    _people()
    form = _post(form_class, data)
    before = _counts()
    ok = form.is_valid()
    assert _counts() == before, "validating a form saved something"
    if not ok:
        assert form.errors
        refused_as("FormErrors")
        return
    accepted(form_class.__name__)
    cleaned = form.cleaned_data
    for name, value in cleaned.items():
        if isinstance(value, str):
            assert "\x00" not in value, f"{name} kept a NUL"
    if form_class is forms.ProjectForm:
        assert cleaned["end_date"] > today
        assert set(cleaned["columns"]) <= {v for _, g in column_choices() for v, _ in g}
        assert all(u.has_role(Role.RESEARCHER) for u in cleaned["researchers"])


@fuzz_settings(15)
@given(data=st.data())
def test_any_code_posted_to_the_second_factor_form_is_refused(data: st.DataObject) -> None:
    _people()
    user = User.objects.get(username="res1")
    form = _post(forms.SecondFactorForm, data, user=user)
    before = _counts()
    assert not form.is_valid()  # no code drawn here is the device's current one
    refused_as("FormErrors")
    assert _counts()[:2] == before[:2]


@pytest.mark.parametrize("form_class", [forms.ProjectForm, forms.UserAdminForm])
def test_a_row_id_past_64_bits_is_an_invalid_choice_not_an_overflow(
    form_class: type[djforms.BaseForm],
) -> None:
    """Found by the fuzz test above (SQLite raised OverflowError)."""
    _people()
    field = "researchers" if form_class is forms.ProjectForm else "groups"
    form = form_class(data={field: ["9" * 22]})
    assert not form.is_valid()
    assert "is not a valid value" in str(form.errors[field])
