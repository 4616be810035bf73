"""Forms: Django validates the fields, ``fjdp.governance`` the rules, and each rule's
reason is shown beside the field it concerns."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django_otp.forms import OTPTokenForm

from fjdp.audit import Action
from fjdp.errors import GovernanceError
from fjdp.governance import PanelOutcome, Role, check_can_be_named
from fjdp.portal.datasets import column_choices
from fjdp.portal.models import ROLE_CHOICES, Project, User, today
from fjdp.types import LinkStatus


def researchers_queryset() -> Any:
    ids = [u.pk for u in User.objects.filter(is_active=True) if u.has_role(Role.RESEARCHER)]
    return User.objects.filter(pk__in=ids).order_by("username")


LINK_STATUS_CHOICES = [
    (LinkStatus.DET_STRONG_ID.value, "DET_STRONG_ID: NHS number, date of birth and sex agree"),
    (LinkStatus.DET_DEMOG.value, "DET_DEMOG: names, date of birth, sex and a postcode agree"),
    (LinkStatus.PROB_ACCEPT.value, "PROB_ACCEPT: probabilistic match, probability >= 0.90"),
    (LinkStatus.PROB_POSSIBLE.value, "PROB_POSSIBLE: probabilistic match, 0.50 to 0.90"),
    (LinkStatus.UNMATCHED.value, "UNMATCHED: no spine person matched"),
    (LinkStatus.MULTIPLE.value, "MULTIPLE: two spine people matched about equally well"),
]


_MAX_PK = 2**63 - 1


class RowIdsField(forms.ModelMultipleChoiceField):
    """Row ids as posted: a value that is not a whole number a database can hold is an
    invalid choice, not a query (SQLite raises OverflowError past 64 bits)."""

    def _check_values(self, value: Any) -> Any:
        for pk in value:
            text = str(pk).strip()
            if not text.isascii() or not text.isdigit() or int(text) > _MAX_PK:
                raise ValidationError(
                    self.error_messages["invalid_pk_value"],
                    code="invalid_pk_value",
                    params={"pk": pk},
                )
        return super()._check_values(value)


class DateInput(forms.DateInput):
    input_type = "date"


class ProjectForm(forms.ModelForm):
    researchers = RowIdsField(
        queryset=User.objects.none(),
        widget=forms.CheckboxSelectMultiple,
        help_text="Only accredited researchers can be named. Name yourself to use the workspace.",
    )
    columns = forms.MultipleChoiceField(
        choices=[],
        widget=forms.CheckboxSelectMultiple,
        label="Datasets and columns",
        help_text="Ask only for what the project needs (safe data).",
    )
    link_statuses = forms.MultipleChoiceField(
        choices=LINK_STATUS_CHOICES,
        widget=forms.CheckboxSelectMultiple,
        initial=sorted(s.value for s in LinkStatus.default_included()),
        label="Link statuses",
        help_text="Records whose people linked to the population spine this way. The first "
        "three are the linked records; ask for the others only to study linkage bias.",
    )

    class Meta:
        model = Project
        fields = [
            "title",
            "lay_summary",
            "purpose",
            "public_benefit",
            "expected_outputs",
            "date_start",
            "date_end",
            "end_date",
        ]
        widgets = {
            "date_start": DateInput(),
            "date_end": DateInput(),
            "end_date": DateInput(),
            "lay_summary": forms.Textarea(attrs={"rows": 3}),
            "purpose": forms.Textarea(attrs={"rows": 3}),
            "public_benefit": forms.Textarea(attrs={"rows": 3}),
            "expected_outputs": forms.Textarea(attrs={"rows": 3}),
        }
        labels = {
            "date_start": "Data from",
            "date_end": "Data until",
            "end_date": "Project end date",
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["researchers"].queryset = researchers_queryset()
        self.fields["columns"].choices = column_choices()

    def clean_researchers(self) -> Any:
        chosen = self.cleaned_data["researchers"]
        problems = []
        for user in chosen:
            try:
                check_can_be_named(user.person(), today())
            except GovernanceError as exc:
                problems.append(exc.what)
        if problems:
            raise ValidationError(problems)
        return chosen

    def clean_end_date(self) -> dt.date:
        end: dt.date = self.cleaned_data["end_date"]
        if end <= today():
            raise ValidationError("The end date must be in the future.")
        return end

    def clean(self) -> dict[str, Any]:
        data: dict[str, Any] = super().clean() or {}
        start, end = data.get("date_start"), data.get("date_end")
        if (start is None) != (end is None):
            raise ValidationError("Give both ends of the date window, or neither.")
        if start and end and end < start:
            self.add_error("date_end", "The window ends before it starts.")
        return data


class SecondFactorForm(OTPTokenForm):
    """django-otp's token form as a person sees it: one box for the code. The device list
    appears only for an account with several devices (django-otp's own form starts with
    a blank choice the browser refuses to submit), and the challenge box, which TOTP
    does not use, is gone."""

    def __init__(self, user: User, request: Any = None, *args: Any, **kwargs: Any) -> None:
        super().__init__(user, request, *args, **kwargs)
        del self.fields["otp_challenge"]
        device = self.fields["otp_device"]
        devices = [c for c in device.choices if c[0]]
        device.choices = devices
        device.label = "Authenticator"
        if devices:
            device.initial = devices[0][0]
        if len(devices) == 1:
            device.widget = forms.HiddenInput()
        token = self.fields["otp_token"]
        token.label = "Code from your authenticator app"
        token.widget.attrs.update(
            {
                "autocomplete": "one-time-code",
                "inputmode": "numeric",
                "pattern": "[0-9]*",
                "autofocus": True,
                "required": True,
            }
        )


class PanelDecisionForm(forms.Form):
    outcome = forms.ChoiceField(
        choices=[(o.value, o.label) for o in PanelOutcome], widget=forms.RadioSelect
    )
    reasons = forms.CharField(widget=forms.Textarea(attrs={"rows": 4}))
    conditions = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        required=False,
        help_text="Required when approving with conditions.",
    )

    def clean(self) -> dict[str, Any]:
        data: dict[str, Any] = super().clean() or {}
        if (
            data.get("outcome") == PanelOutcome.APPROVE_WITH_CONDITIONS.value
            and not (data.get("conditions") or "").strip()
        ):
            self.add_error("conditions", "Write the conditions of the approval.")
        return data


class CustodianDecisionForm(forms.Form):
    decision = forms.ChoiceField(
        choices=[("approve", "approve the use of this dataset"), ("refuse", "refuse")],
        widget=forms.RadioSelect,
    )
    reasons = forms.CharField(widget=forms.Textarea(attrs={"rows": 4}))


class CloseForm(forms.Form):
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}))


class AuditFilterForm(forms.Form):
    actor = forms.CharField(required=False)
    action = forms.ChoiceField(
        required=False, choices=[("", "any")] + [(a.value, a.value) for a in Action]
    )
    zone = forms.CharField(required=False)
    object = forms.CharField(required=False, label="Object contains")
    date_from = forms.DateField(required=False, widget=DateInput(), label="From")
    date_to = forms.DateField(required=False, widget=DateInput(), label="To")


class ReportPeriodForm(forms.Form):
    """The days an audit report covers; the end day is included."""

    since = forms.DateField(required=False, widget=DateInput(), label="From")
    until = forms.DateField(required=False, widget=DateInput(), label="To")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("since") and data.get("until") and data["until"] < data["since"]:
            raise ValidationError("the end day comes before the first day")
        return data


class UserAdminForm(forms.ModelForm):
    """Roles as boxes to tick in the admin; the model refuses incompatible ones."""

    roles = forms.MultipleChoiceField(
        choices=ROLE_CHOICES, widget=forms.CheckboxSelectMultiple, required=False
    )

    class Meta:
        model = User
        fields = "__all__"
        field_classes = {"groups": RowIdsField, "user_permissions": RowIdsField}
