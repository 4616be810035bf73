"""The second step of signing in (a TOTP code from the user's authenticator), and the page
shown when too many wrong passwords have locked sign-in out."""

from __future__ import annotations

from typing import Any

from axes.helpers import get_client_username, get_cool_off
from django.contrib import messages
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django_otp import login as otp_login
from django_otp import user_has_device

from fjdp.audit import Action
from fjdp.portal.audit import record_event
from fjdp.portal.forms import SecondFactorForm
from fjdp.portal.views._access import user_of


def otp(request: HttpRequest) -> HttpResponse:
    user = user_of(request)
    nxt = request.GET.get("next") or request.POST.get("next") or ""
    if not url_has_allowed_host_and_scheme(nxt, allowed_hosts={request.get_host()}):
        nxt = ""
    if user.is_verified():
        return redirect(nxt or "dashboard")
    if not user_has_device(user):
        return render(request, "portal/otp.html", {"no_device": True}, status=403)
    form = SecondFactorForm(user, request, data=request.POST or None)
    if request.method == "POST" and form.is_valid():
        with transaction.atomic():
            # A new session key at the second step too (Django's login gave one at the
            # first): a session id seen before both factors is worth nothing after.
            request.session.cycle_key()
            otp_login(request, user.otp_device)
            record_event(Action.OTP_VERIFIED, user.username, actor=user.username, role="user")
        messages.success(request, "Signed in.")
        return redirect(nxt or "dashboard")
    return render(request, "portal/otp.html", {"form": form, "next": nxt})


def locked_out(
    request: HttpRequest, original_response: HttpResponse | None, credentials: Any = None
) -> HttpResponse:
    """django-axes' lockout response (``AXES_LOCKOUT_CALLABLE``): a page that says what
    happened and what to do, with 429 Too Many Requests."""
    cool_off = get_cool_off(request)
    context = {
        "username": get_client_username(request, credentials) or "",
        "minutes": round(cool_off.total_seconds() / 60) if cool_off else None,
    }
    return render(request, "portal/locked.html", context, status=429)
