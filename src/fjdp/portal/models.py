"""Persistence of the control plane. The rules are ``fjdp.governance``'s; the models call
them on save, so a write that breaks separation of duties is refused whichever code
path makes it (views, admin, shell). Every change is made by an ``actions`` function,
which also writes the audit event in the same transaction."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib.auth.models import AbstractUser
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

from fjdp.errors import GovernanceError
from fjdp.governance import (
    Accreditation,
    PanelOutcome,
    Person,
    Role,
    State,
    check_can_be_named,
    check_custodian_of,
    check_has_role,
    check_not_own,
    check_roles_compatible,
    parse_roles,
)

ROLE_CHOICES = [(r.value, r.label) for r in Role]
STATE_CHOICES = [(s.value, s.label) for s in State]
OUTCOME_CHOICES = [(o.value, o.label) for o in PanelOutcome]


def today() -> dt.date:
    return timezone.localdate()


class User(AbstractUser):
    """An account: Django's user with the platform's roles and accreditation."""

    roles = models.JSONField(default=list, blank=True, help_text="Role values, see Role.")
    organisation = models.CharField(
        max_length=200, blank=True, help_text="The data provider a custodian speaks for."
    )
    trained_on = models.DateField(null=True, blank=True)
    accreditation_expires_on = models.DateField(null=True, blank=True)
    agreement_signed_on = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["username"]

    @property
    def role_set(self) -> frozenset[Role]:
        return parse_roles(self.roles or [])

    def has_role(self, role: Role) -> bool:
        return self.is_active and role in self.role_set

    @property
    def accreditation(self) -> Accreditation:
        return Accreditation(
            self.trained_on, self.accreditation_expires_on, self.agreement_signed_on
        )

    def person(self) -> Person:
        return Person(
            self.username, self.role_set, self.accreditation, self.organisation, self.is_active
        )

    def clean(self) -> None:
        super().clean()
        try:
            self._check()
        except (GovernanceError, ValueError) as exc:
            raise ValidationError({"roles": str(exc)}) from None

    def _check(self) -> None:
        roles = parse_roles(self.roles or [])
        self.roles = sorted(r.value for r in roles)
        check_roles_compatible(roles, who=self.username or "an account")

    def save(self, *args: Any, **kwargs: Any) -> None:
        self._check()
        super().save(*args, **kwargs)


class Project(models.Model):
    """A project application (safe projects). ``approved`` is what the last completed
    review approved (the workspace's scope); the other fields are the working copy."""

    pid = models.CharField("project id", max_length=32, unique=True)
    title = models.CharField(max_length=200)
    lay_summary = models.TextField(help_text="Published on the public register.")
    purpose = models.TextField()
    public_benefit = models.TextField()
    expected_outputs = models.TextField()
    lead = models.ForeignKey(User, on_delete=models.PROTECT, related_name="led_projects")
    date_start = models.DateField(null=True, blank=True)
    date_end = models.DateField(null=True, blank=True)
    # Link-status values; empty (applications made before they were asked for) means
    # the statuses an analysis includes by default.
    link_statuses = models.JSONField(default=list, blank=True)
    end_date = models.DateField()
    state = models.CharField(max_length=32, choices=STATE_CHOICES, default=State.DRAFT.value)
    round = models.PositiveIntegerField(default=0)
    provisioned = models.BooleanField(default=False)
    approved = models.JSONField(null=True, blank=True)
    conditions = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["pid"]

    def __str__(self) -> str:
        return f"{self.pid}: {self.title}"

    @property
    def state_enum(self) -> State:
        return State(self.state)

    def save(self, *args: Any, **kwargs: Any) -> None:
        check_has_role(self.lead.person(), Role.PROJECT_LEAD, to="lead a project")
        self.updated_at = timezone.now()
        super().save(*args, **kwargs)


class ProjectResearcher(models.Model):
    """A researcher named on a project. Only an accredited researcher may be named."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="named")
    user = models.ForeignKey(User, on_delete=models.PROTECT, related_name="named_on")

    class Meta:
        unique_together = [("project", "user")]

    def save(self, *args: Any, **kwargs: Any) -> None:
        check_can_be_named(self.user.person(), today())
        super().save(*args, **kwargs)


class DatasetRequest(models.Model):
    """A dataset a project asks for: ``tables`` maps each table to its columns
    (a list, or ``"*"``) and its date column."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="datasets")
    dataset = models.CharField(max_length=64)
    tables = models.JSONField(default=dict)

    class Meta:
        unique_together = [("project", "dataset")]
        ordering = ["dataset"]


class PanelDecisionRecord(models.Model):
    project = models.ForeignKey(Project, on_delete=models.PROTECT, related_name="panel_decisions")
    round = models.PositiveIntegerField()
    member = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    outcome = models.CharField(max_length=32, choices=OUTCOME_CHOICES)
    reasons = models.TextField()
    conditions = models.TextField(blank=True)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        unique_together = [("project", "round", "member")]
        ordering = ["at"]

    def save(self, *args: Any, **kwargs: Any) -> None:
        from fjdp.portal.bridge import application

        person = self.member.person()
        check_has_role(person, Role.PANEL_MEMBER, to="record a panel decision")
        check_not_own(person, application(self.project))
        super().save(*args, **kwargs)


class CustodianDecisionRecord(models.Model):
    project = models.ForeignKey(
        Project, on_delete=models.PROTECT, related_name="custodian_decisions"
    )
    round = models.PositiveIntegerField()
    dataset = models.CharField(max_length=64)
    custodian = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    approve = models.BooleanField()
    reasons = models.TextField()
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        unique_together = [("project", "round", "dataset")]
        ordering = ["at"]

    def save(self, *args: Any, **kwargs: Any) -> None:
        from fjdp.portal.bridge import application, custodians

        person = self.custodian.person()
        check_custodian_of(person, self.dataset, custodians())
        check_not_own(person, application(self.project))
        super().save(*args, **kwargs)


class AppendOnlyQuerySet(models.QuerySet["AuditEntry"]):
    def update(self, **kwargs: Any) -> int:
        raise GovernanceError("the audit trail is append-only: events cannot be changed")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise GovernanceError("the audit trail is append-only: events cannot be deleted")


class AuditEntry(models.Model):
    """One event of the portal's hash chain, in the same form as a zone's log line
    (``fjdp.audit.AuditRecord``). Append-only: updates and deletes are refused here
    and, by triggers, by the database itself."""

    seq = models.PositiveBigIntegerField(unique=True)
    time = models.CharField(max_length=20, db_index=True)
    zone = models.CharField(max_length=32)
    actor = models.CharField(max_length=150, db_index=True)
    role = models.CharField(max_length=64)
    action = models.CharField(max_length=64, db_index=True)
    object = models.CharField(max_length=200)
    details = models.JSONField(default=dict)
    prev = models.CharField(max_length=64)
    hash = models.CharField(max_length=64, unique=True)

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        ordering = ["seq"]
        verbose_name_plural = "audit entries"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            raise GovernanceError("the audit trail is append-only: events cannot be changed")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise GovernanceError("the audit trail is append-only: events cannot be deleted")


class ZoneRecord(models.Model):
    """A record of a data-plane zone's audit log, collected into the portal so that one
    timeline covers every zone. ``source`` names the zone folder it came from."""

    source = models.CharField(max_length=200)
    seq = models.PositiveBigIntegerField()
    time = models.CharField(max_length=20, db_index=True)
    zone = models.CharField(max_length=32)
    actor = models.CharField(max_length=150, db_index=True)
    role = models.CharField(max_length=64)
    action = models.CharField(max_length=64, db_index=True)
    object = models.CharField(max_length=200)
    details = models.JSONField(default=dict)
    prev = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        unique_together = [("source", "seq")]
        ordering = ["source", "seq"]

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            raise GovernanceError("collected zone records cannot be changed")
        super().save(*args, **kwargs)


class OutputRequestRecord(models.Model):
    """An output request (``fjdp.governance.outputs.OutputRequest``): its rounds, files
    and votes are rows below it; the rules decide every change (``actions.outputs``)."""

    rid = models.CharField("request id", max_length=32, unique=True)
    project = models.ForeignKey(Project, on_delete=models.PROTECT, related_name="output_requests")
    requester = models.ForeignKey(User, on_delete=models.PROTECT, related_name="output_requests")
    description = models.TextField()
    state = models.CharField(max_length=32, default="draft")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    # The release bundle once written: its file name under the releases folder and SHA-256.
    bundle = models.CharField(max_length=300, blank=True)
    bundle_sha256 = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["rid"]

    def __str__(self) -> str:
        return f"{self.rid} ({self.project.pid})"

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.updated_at = timezone.now()
        super().save(*args, **kwargs)


class OutputRoundRecord(models.Model):
    request = models.ForeignKey(
        OutputRequestRecord, on_delete=models.PROTECT, related_name="rounds"
    )
    number = models.PositiveIntegerField()
    # Usernames in the order they took the round; a third only for a dispute.
    checkers = models.JSONField(default=list)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        unique_together = [("request", "number")]
        ordering = ["request", "number"]


class OutputFileRecord(models.Model):
    """One file of a round as it was reviewed: a copy in the portal's storage with its
    SHA-256, so a later edit in the workspace cannot change what the checkers saw."""

    round = models.ForeignKey(OutputRoundRecord, on_delete=models.PROTECT, related_name="files")
    name = models.CharField(max_length=200)
    stored = models.CharField(max_length=500)  # relative to the portal's output storage
    sha256 = models.CharField(max_length=64)
    size = models.PositiveBigIntegerField()
    status = models.CharField(max_length=16)  # pass | review | fail after mitigation
    reasons = models.JSONField(default=list)
    flags = models.JSONField(default=list)  # cell-level flags: {"row", "col", "reason"}
    collisions = models.JSONField(default=list)  # differencing reasons
    justification = models.TextField(blank=True)
    source = models.CharField(max_length=500, blank=True)  # where it was copied from

    class Meta:
        unique_together = [("round", "name")]
        ordering = ["round", "name"]


class OutputVoteRecord(models.Model):
    round = models.ForeignKey(OutputRoundRecord, on_delete=models.PROTECT, related_name="votes")
    checker = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    file = models.CharField(max_length=200)
    vote = models.CharField(max_length=16)
    comment = models.TextField(blank=True)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        unique_together = [("round", "checker", "file")]
        ordering = ["at", "pk"]
