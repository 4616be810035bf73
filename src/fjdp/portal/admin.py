"""Django's admin over the portal's models. Audit records are read-only here: the
admin can look, never add, change or delete."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin
from django.http import HttpRequest

from fjdp.audit import Action
from fjdp.portal.audit import record_event
from fjdp.portal.forms import UserAdminForm
from fjdp.portal.models import (
    AuditEntry,
    CustodianDecisionRecord,
    DatasetRequest,
    PanelDecisionRecord,
    Project,
    ProjectResearcher,
    User,
    ZoneRecord,
)

admin.site.site_header = "fjdp governance portal"


@admin.register(User)
class PortalUserAdmin(UserAdmin):
    form = UserAdminForm
    list_display = ("username", "first_name", "last_name", "roles", "accreditation_expires_on")
    fieldsets = (
        *UserAdmin.fieldsets,
        (
            "Roles and accreditation",
            {
                "fields": (
                    "roles",
                    "organisation",
                    "trained_on",
                    "accreditation_expires_on",
                    "agreement_signed_on",
                )
            },
        ),
    )

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        """Saved in the admin's transaction with its audit event."""
        super().save_model(request, obj, form, change)
        record_event(
            Action.USER_UPDATE if change else Action.USER_CREATE,
            obj.username,
            actor=request.user.get_username(),
            role="admin",
            details={"roles": list(obj.roles), "changed": sorted(form.changed_data)},
        )


class NamedInline(admin.TabularInline):
    model = ProjectResearcher
    extra = 0


class DatasetInline(admin.TabularInline):
    model = DatasetRequest
    extra = 0


class ReadOnly(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Project)
class ProjectAdmin(ReadOnly):
    """Projects change only through the portal's pages, which apply the rules and write
    the audit trail; the admin shows them."""

    list_display = ("pid", "title", "lead", "state", "end_date")
    list_filter = ("state",)
    search_fields = ("pid", "title")
    inlines = [NamedInline, DatasetInline]


@admin.register(PanelDecisionRecord, CustodianDecisionRecord)
class DecisionAdmin(ReadOnly):
    pass


@admin.register(AuditEntry)
class AuditAdmin(ReadOnly):
    list_display = ("seq", "time", "actor", "action", "object")
    list_filter = ("action",)
    search_fields = ("actor", "object")


@admin.register(ZoneRecord)
class ZoneRecordAdmin(ReadOnly):
    list_display = ("source", "seq", "time", "actor", "action", "object")
    list_filter = ("source", "action")
