"""Accounts: create, change roles and accreditation, add a TOTP device, lift a lockout."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from django.db import transaction
from django_otp.plugins.otp_totp.models import TOTPDevice

from fjdp.audit import Action
from fjdp.errors import GovernanceError
from fjdp.governance import parse_roles
from fjdp.portal.audit import record_event
from fjdp.portal.models import User


def _details(user: User) -> dict[str, object]:
    return {
        "roles": list(user.roles),
        "organisation": user.organisation,
        "trained_on": str(user.trained_on) if user.trained_on else None,
        "accreditation_expires_on": (
            str(user.accreditation_expires_on) if user.accreditation_expires_on else None
        ),
        "agreement_signed_on": str(user.agreement_signed_on) if user.agreement_signed_on else None,
        "is_superuser": user.is_superuser,
        "is_active": user.is_active,
    }


def create_user(
    username: str,
    password: str,
    *,
    by: str,
    roles: Iterable[str] = (),
    organisation: str = "",
    email: str = "",
    trained_on: dt.date | None = None,
    expires_on: dt.date | None = None,
    agreement_signed_on: dt.date | None = None,
    superuser: bool = False,
) -> User:
    """Create an account. The password is checked by Django's validators."""
    from django.contrib.auth.password_validation import validate_password
    from django.core.exceptions import ValidationError

    if User.objects.filter(username=username).exists():
        raise GovernanceError(f"an account {username!r} already exists")
    user = User(
        username=username,
        email=email,
        roles=sorted(r.value for r in parse_roles(roles)),
        organisation=organisation,
        trained_on=trained_on,
        accreditation_expires_on=expires_on,
        agreement_signed_on=agreement_signed_on,
        is_staff=superuser,
        is_superuser=superuser,
    )
    try:
        validate_password(password, user)
    except ValidationError as exc:
        raise GovernanceError(
            f"the password for {username} is too weak: {' '.join(exc.messages)}",
            fix="choose a longer, less common password",
        ) from None
    user.set_password(password)
    with transaction.atomic():
        user.save()
        record_event(Action.USER_CREATE, username, actor=by, role="admin", details=_details(user))
    return user


def update_user(user: User, *, by: str, **changes: object) -> User:
    """Change roles, organisation or accreditation dates; checked on save."""
    allowed = {
        "roles",
        "organisation",
        "trained_on",
        "accreditation_expires_on",
        "agreement_signed_on",
        "is_active",
    }
    unknown = set(changes) - allowed
    if unknown:
        raise ValueError(f"cannot change {sorted(unknown)} here")
    with transaction.atomic():
        for name, value in changes.items():
            setattr(user, name, value)
        user.save()
        record_event(
            Action.USER_UPDATE, user.username, actor=by, role="admin", details=_details(user)
        )
    return user


def add_totp_device(user: User, *, by: str, name: str = "authenticator") -> TOTPDevice:
    """A confirmed TOTP device for ``user``; its ``config_url`` is the otpauth URI."""
    with transaction.atomic():
        device = TOTPDevice.objects.create(user=user, name=name, confirmed=True)
        record_event(
            Action.OTP_DEVICE, user.username, actor=by, role="admin", details={"device": name}
        )
    return device


def unlock(username: str, *, by: str, ip: str | None = None) -> int:
    """Lift the brute-force lockout of ``username`` (from every address, or from ``ip``
    alone): its failed attempts are forgotten. Returns how many address records were
    cleared; the audit event is written even when there were none, as the request was
    made."""
    from axes.utils import reset

    with transaction.atomic():
        cleared = int(reset(ip=ip, username=username) if ip else reset(username=username))
        record_event(
            Action.USER_UPDATE,
            username,
            actor=by,
            role="admin",
            details={"unlocked": True, "ip": ip or "any", "records_cleared": cleared},
        )
    return cleared
