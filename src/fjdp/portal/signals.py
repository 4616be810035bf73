"""Logins, failed logins, lockouts, second-factor checks and logouts go into the audit
trail."""

from __future__ import annotations

from typing import Any

from axes.signals import user_locked_out
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.db import transaction
from django_otp.forms import otp_verification_failed

from fjdp.audit import Action
from fjdp.portal.audit import record_event


def _ip(request: Any) -> str:
    return str(getattr(request, "META", {}).get("REMOTE_ADDR", "")) if request else ""


def _logged_in(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    with transaction.atomic():
        record_event(
            Action.LOGIN,
            user.username,
            actor=user.username,
            role="user",
            details={"ip": _ip(request)},
        )


def _logged_out(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    if user is None:
        return
    with transaction.atomic():
        record_event(Action.LOGOUT, user.username, actor=user.username, role="user")


def _login_failed(sender: Any, credentials: dict[str, Any], request: Any = None, **kw: Any) -> None:
    name = str(credentials.get("username", ""))[:150] or "(none)"
    details: dict[str, Any] = {"ip": _ip(request)}
    if _refused_while_locked(request):
        # Refused before any password check: the account is locked out from this address.
        details["locked_out"] = True
    with transaction.atomic():
        record_event(Action.LOGIN_FAILED, name, actor="anonymous", role="none", details=details)


def _refused_while_locked(request: Any) -> bool:
    """Was this attempt refused because a lockout was already in force? (Axes marks the
    attempt that begins a lockout as locked out too; its failure count is the limit.)"""
    from axes.helpers import get_failure_limit

    if request is None or not getattr(request, "axes_locked_out", False):
        return False
    return bool(
        getattr(request, "axes_failures_since_start", None) != get_failure_limit(request, None)
    )


def _locked_out(
    sender: Any, request: Any = None, username: Any = None, ip_address: Any = None, **kw: Any
) -> None:
    """One event when a lockout begins. Axes sends the signal again for every attempt while
    locked out (each is a ``login.failed`` with ``locked_out``): those are not recorded
    again here."""
    from axes.helpers import get_failure_limit

    failures = getattr(request, "axes_failures_since_start", None)
    if failures is None or failures != get_failure_limit(request, None):
        return
    name = str(username or "")[:150] or "(none)"
    with transaction.atomic():
        record_event(
            Action.LOGIN_LOCKED,
            name,
            actor="anonymous",
            role="none",
            details={"ip": str(ip_address or ""), "username": name, "failures": failures},
        )


def _otp_failed(sender: Any, user: Any, reason: Any = None, **kwargs: Any) -> None:
    with transaction.atomic():
        record_event(
            Action.OTP_FAILED,
            user.username,
            actor=user.username,
            role="user",
            details={"reason": str(reason or "invalid token")},
        )


def connect() -> None:
    user_logged_in.connect(_logged_in, dispatch_uid="fjdp-login")
    user_logged_out.connect(_logged_out, dispatch_uid="fjdp-logout")
    user_login_failed.connect(_login_failed, dispatch_uid="fjdp-login-failed")
    user_locked_out.connect(_locked_out, dispatch_uid="fjdp-login-locked")
    otp_verification_failed.connect(_otp_failed, dispatch_uid="fjdp-otp-failed")
