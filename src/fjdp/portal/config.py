"""The portal's settings, built from explicit paths and the environment at the edge (the
CLI, the tests), never at import. :func:`setup` hands them to Django once per process.

Environment:

- ``FJDP_PORTAL_DIR``: the portal folder (default ``demo/portal``) holding the SQLite
  database ``portal.sqlite3`` and ``secret_key``;
- ``FJDP_PORTAL_SECRET_KEY``: the session-signing key (default: read ``secret_key`` in
  the portal folder, written by ``fjdp portal init``);
- ``FJDP_PORTAL_DATABASE``: ``postgresql://user:password@host:port/name`` to use
  PostgreSQL instead of SQLite (deployment);
- ``FJDP_DATABANK`` and ``FJDP_WORKSPACES``: the databank zone and the workspaces folder
  the portal provisions into (default ``databank`` and ``workspaces`` beside the portal
  folder);
- ``FJDP_ANALYSIS``: the folder holding each project's outputs folder
  (``<folder>/<project>/``), where researchers pick the files of an output request
  (default ``analysis`` beside the portal folder);
- ``FJDP_RELEASES``: where release bundles are written (default ``releases`` beside
  the portal folder); the files of each request are copied into ``outputs/`` of the
  portal folder;
- ``FJDP_PORTAL_HTTPS=1``: the portal is reached through HTTPS (a TLS-terminating proxy
  on the same host): secure-only cookies, HSTS and a redirect of plain HTTP to HTTPS.
  Off by default, for the demo on http://127.0.0.1;
- ``FJDP_PORTAL_HOSTS``: further host names the portal answers to, comma-separated
  (deployment; 127.0.0.1 and localhost always);
- ``FJDP_PORTAL_DEBUG=1``: Django's debug pages (never in deployment).
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from fjdp.errors import InputError, UsageError

DEFAULT_DIR = Path("demo") / "portal"
SECRET_FILE = "secret_key"  # noqa: S105  # nosec B105  # a file name, not a secret
SQLITE_FILE = "portal.sqlite3"

# Brute-force lockout (django-axes): after this many failed passwords from one address for
# one account, that pair is refused until the cool-off has passed or an administrator
# lifts it (`fjdp portal unlock`).
LOCKOUT_FAILURES = 5
LOCKOUT_COOL_OFF = dt.timedelta(minutes=15)
HSTS_SECONDS = 365 * 24 * 3600
TRUE = ("1", "true", "yes")

# What the pages may load: their own stylesheet and images, nothing inline, nothing from
# elsewhere; no page may frame them and forms post only to the portal.
CONTENT_SECURITY_POLICY: dict[str, list[str]] = {
    "default-src": ["'none'"],
    "script-src": ["'self'"],
    "style-src": ["'self'"],
    "img-src": ["'self'", "data:"],
    "font-src": ["'self'"],
    "connect-src": ["'self'"],
    "form-action": ["'self'"],
    "frame-ancestors": ["'none'"],
    "base-uri": ["'none'"],
    "object-src": ["'none'"],
}
# Browser features no page of the portal uses.
PERMISSIONS_POLICY = (
    "accelerometer=(), camera=(), geolocation=(), gyroscope=(), magnetometer=(), "
    "microphone=(), payment=(), usb=()"
)


@dataclass(frozen=True)
class PortalConfig:
    portal_dir: Path
    secret_key: str
    databank: Path
    workspaces: Path
    database_url: str | None = None
    debug: bool = False
    https: bool = False  # reached through HTTPS: secure cookies, HSTS, redirect to https
    analysis: Path | None = None  # default: analysis/ beside the portal folder
    releases: Path | None = None  # default: releases/ beside the portal folder
    allowed_hosts: tuple[str, ...] = ("127.0.0.1", "localhost")
    extra: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_env(
        cls,
        env: Mapping[str, str] | None = None,
        *,
        portal_dir: Path | None = None,
        secret_key: str | None = None,
    ) -> PortalConfig:
        env = os.environ if env is None else env
        folder = portal_dir or Path(env.get("FJDP_PORTAL_DIR", str(DEFAULT_DIR)))
        key = secret_key or env.get("FJDP_PORTAL_SECRET_KEY") or _read_secret(folder)
        hosts = tuple(h.strip() for h in env.get("FJDP_PORTAL_HOSTS", "").split(",") if h.strip())
        return cls(
            portal_dir=folder,
            secret_key=key,
            databank=Path(env.get("FJDP_DATABANK", str(folder.parent / "databank"))),
            workspaces=Path(env.get("FJDP_WORKSPACES", str(folder.parent / "workspaces"))),
            database_url=env.get("FJDP_PORTAL_DATABASE") or None,
            analysis=Path(env["FJDP_ANALYSIS"]) if env.get("FJDP_ANALYSIS") else None,
            releases=Path(env["FJDP_RELEASES"]) if env.get("FJDP_RELEASES") else None,
            debug=env.get("FJDP_PORTAL_DEBUG", "0") in TRUE,
            https=env.get("FJDP_PORTAL_HTTPS", "0") in TRUE,
            allowed_hosts=("127.0.0.1", "localhost", *hosts),
        )


def _read_secret(folder: Path) -> str:
    path = folder / SECRET_FILE
    try:
        return path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        raise InputError(
            "the portal has no secret key",
            where=str(path),
            fix="run `fjdp portal init` first, or set FJDP_PORTAL_SECRET_KEY",
        ) from None


def _database(cfg: PortalConfig) -> dict[str, Any]:
    # Each request is one transaction: a page's change and its audit event commit together
    # or not at all. (A per-database setting: Django ignores it at the top level.)
    if cfg.database_url is None:
        return {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(cfg.portal_dir / SQLITE_FILE),
            # Every transaction takes SQLite's write lock when it begins. A transaction that
            # read first and wrote later fails at once with "database is locked" when
            # another wrote meanwhile (no waiting helps), which concurrent sign-ins did.
            "OPTIONS": {"timeout": 20, "transaction_mode": "IMMEDIATE"},
            "ATOMIC_REQUESTS": True,
        }
    url = urlparse(cfg.database_url)
    if url.scheme not in ("postgres", "postgresql"):
        raise UsageError(
            f"FJDP_PORTAL_DATABASE has scheme {url.scheme!r}",
            fix="use postgresql://user:password@host:port/name",
        )
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": url.path.lstrip("/"),
        "USER": unquote(url.username or ""),
        "PASSWORD": unquote(url.password or ""),
        "HOST": url.hostname or "",
        "PORT": str(url.port or ""),
        "ATOMIC_REQUESTS": True,
    }


def django_settings(cfg: PortalConfig) -> dict[str, Any]:
    """Everything Django is told. Nothing here reads a file or the environment."""
    settings: dict[str, Any] = {
        "DEBUG": cfg.debug,
        "SECRET_KEY": cfg.secret_key,
        "ALLOWED_HOSTS": list(cfg.allowed_hosts),
        "INSTALLED_APPS": [
            "django.contrib.admin",
            "django.contrib.auth",
            "django.contrib.contenttypes",
            "django.contrib.sessions",
            "django.contrib.messages",
            "django.contrib.staticfiles",
            "django_otp",
            "django_otp.plugins.otp_totp",
            "axes",
            "fjdp.portal.apps.PortalAppConfig",
        ],
        "MIDDLEWARE": [
            "django.middleware.security.SecurityMiddleware",
            "csp.middleware.CSPMiddleware",
            "fjdp.portal.middleware.SecurityHeadersMiddleware",
            "django.contrib.sessions.middleware.SessionMiddleware",
            "django.middleware.common.CommonMiddleware",
            "django.middleware.csrf.CsrfViewMiddleware",
            "django.contrib.auth.middleware.AuthenticationMiddleware",
            "django_otp.middleware.OTPMiddleware",
            "fjdp.portal.middleware.RequireTwoFactorMiddleware",
            "django.contrib.messages.middleware.MessageMiddleware",
            "django.middleware.clickjacking.XFrameOptionsMiddleware",
            # Last, as django-axes asks: it turns a lockout into the lockout page.
            "axes.middleware.AxesMiddleware",
        ],
        "ROOT_URLCONF": "fjdp.portal.urls",
        "TEMPLATES": [
            {
                "BACKEND": "django.template.backends.django.DjangoTemplates",
                "DIRS": [],
                "APP_DIRS": True,
                "OPTIONS": {
                    "context_processors": [
                        "django.template.context_processors.request",
                        "django.contrib.auth.context_processors.auth",
                        "django.contrib.messages.context_processors.messages",
                    ]
                },
            }
        ],
        "DATABASES": {"default": _database(cfg)},
        "AUTH_USER_MODEL": "portal.User",
        # Axes' backend first: it refuses a locked-out account before any password check.
        "AUTHENTICATION_BACKENDS": [
            "axes.backends.AxesStandaloneBackend",
            "django.contrib.auth.backends.ModelBackend",
        ],
        "AUTH_PASSWORD_VALIDATORS": [
            {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
            {
                "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
                "OPTIONS": {"min_length": 12},
            },
            {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
            {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
        ],
        "LOGIN_URL": "login",
        "LOGIN_REDIRECT_URL": "dashboard",
        "LOGOUT_REDIRECT_URL": "login",
        "LANGUAGE_CODE": "en-gb",
        "TIME_ZONE": "UTC",
        "USE_I18N": False,
        "USE_TZ": True,
        "STATIC_URL": "static/",
        "STATIC_ROOT": str(cfg.portal_dir / "static"),
        "DEFAULT_AUTO_FIELD": "django.db.models.BigAutoField",
        **_security(cfg),
        "OTP_TOTP_ISSUER": "fjdp portal",
        "FJDP_DATABANK": str(cfg.databank),
        "FJDP_WORKSPACES": str(cfg.workspaces),
        "FJDP_PORTAL_DIR": str(cfg.portal_dir),
        "FJDP_ANALYSIS": str(cfg.analysis or cfg.portal_dir.parent / "analysis"),
        "FJDP_RELEASES": str(cfg.releases or cfg.portal_dir.parent / "releases"),
        "FJDP_OUTPUT_STORE": str(cfg.portal_dir / "outputs"),
        "LOGGING_CONFIG": None,
    }
    settings.update(cfg.extra)
    return settings


def _security(cfg: PortalConfig) -> dict[str, Any]:
    """Cookies, headers, HTTPS and the brute-force lockout."""
    return {
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_EXPIRE_AT_BROWSER_CLOSE": True,
        "SESSION_COOKIE_AGE": 8 * 3600,
        "CSRF_COOKIE_HTTPONLY": True,
        "CSRF_COOKIE_SAMESITE": "Lax",
        # Secure-only cookies, HSTS and the redirect only behind HTTPS: on the loopback
        # demo (plain http://127.0.0.1) the browser would drop secure cookies.
        "SESSION_COOKIE_SECURE": cfg.https,
        "CSRF_COOKIE_SECURE": cfg.https,
        "SECURE_SSL_REDIRECT": cfg.https,
        "SECURE_HSTS_SECONDS": HSTS_SECONDS if cfg.https else 0,
        "SECURE_HSTS_INCLUDE_SUBDOMAINS": cfg.https,
        "SECURE_CONTENT_TYPE_NOSNIFF": True,
        "SECURE_REFERRER_POLICY": "same-origin",
        "SECURE_CROSS_ORIGIN_OPENER_POLICY": "same-origin",
        "X_FRAME_OPTIONS": "DENY",
        "CONTENT_SECURITY_POLICY": {"DIRECTIVES": CONTENT_SECURITY_POLICY},
        "FJDP_PERMISSIONS_POLICY": PERMISSIONS_POLICY,
        "AXES_FAILURE_LIMIT": LOCKOUT_FAILURES,
        "AXES_COOLOFF_TIME": LOCKOUT_COOL_OFF,
        # The account and the address together: a guesser is stopped, but nobody elsewhere
        # can lock a researcher out of their own account by typing wrong passwords for it.
        "AXES_LOCKOUT_PARAMETERS": [["username", "ip_address"]],
        "AXES_RESET_ON_SUCCESS": True,
        # Guessing on while locked out starts the cool-off again.
        "AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT": True,
        "AXES_LOCKOUT_CALLABLE": "fjdp.portal.views.auth.locked_out",
        # Not in the admin: deleting a lockout record there would lift it unaudited;
        # `fjdp portal unlock` lifts it and writes the event.
        "AXES_ENABLE_ADMIN": False,
        # Successful logins are already in the audit trail; no second log of them.
        "AXES_DISABLE_ACCESS_LOG": True,
        # Axes' own log lines would go to stderr of every command and test.
        "AXES_VERBOSE": False,
    }


def setup(cfg: PortalConfig) -> None:
    """Configure Django with ``cfg`` and load the apps (once per process)."""
    import django
    from django.conf import settings

    if not settings.configured:
        settings.configure(**django_settings(cfg))
    django.setup()
