"""Logins, failed logins, second-factor checks and logouts go into the audit trail."""

from __future__ import annotations

from typing import Any

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
    with transaction.atomic():
        record_event(
            Action.LOGIN_FAILED, name, actor="anonymous", role="none", details={"ip": _ip(request)}
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
    otp_verification_failed.connect(_otp_failed, dispatch_uid="fjdp-otp-failed")
