"""Two-factor login for everything but the public pages: an anonymous visitor is sent to
the login page, a logged-in user without a verified TOTP device to the OTP step. And the
headers Django's SecurityMiddleware and django-csp do not set."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlencode

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse

PUBLIC_PREFIXES = ("/register/", "/catalogue/", "/static/")
PUBLIC_PATHS = ("/accounts/login/",)
OTP_STEP_PATHS = ("/accounts/otp/", "/accounts/logout/")


def is_public(path: str) -> bool:
    return path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES)


class RequireTwoFactorMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        path = request.path
        if not is_public(path):
            user = request.user
            if not user.is_authenticated:
                return HttpResponseRedirect(
                    f"{reverse('login')}?{urlencode({'next': request.get_full_path()})}"
                )
            if not user.is_verified() and path not in OTP_STEP_PATHS:
                return HttpResponseRedirect(
                    f"{reverse('otp')}?{urlencode({'next': request.get_full_path()})}"
                )
        return self.get_response(request)


class SecurityHeadersMiddleware:
    """``Permissions-Policy`` on every response, and ``Cache-Control: no-store`` on what a
    signed-in person sees: a shared computer's browser cache keeps no project, request or
    audit page."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.setdefault("Permissions-Policy", settings.FJDP_PERMISSIONS_POLICY)
        if not is_public(request.path):
            user = getattr(request, "user", None)
            if user is not None and user.is_authenticated:
                response["Cache-Control"] = "no-store"
        return response
