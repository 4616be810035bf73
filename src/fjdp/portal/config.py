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
- ``FJDP_PORTAL_DEBUG=1``: Django's debug pages (never in deployment).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from fjdp.errors import InputError, UsageError

DEFAULT_DIR = Path("demo") / "portal"
SECRET_FILE = "secret_key"  # noqa: S105 - a file name, not a secret
SQLITE_FILE = "portal.sqlite3"


@dataclass(frozen=True)
class PortalConfig:
    portal_dir: Path
    secret_key: str
    databank: Path
    workspaces: Path
    database_url: str | None = None
    debug: bool = False
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
        return cls(
            portal_dir=folder,
            secret_key=key,
            databank=Path(env.get("FJDP_DATABANK", str(folder.parent / "databank"))),
            workspaces=Path(env.get("FJDP_WORKSPACES", str(folder.parent / "workspaces"))),
            database_url=env.get("FJDP_PORTAL_DATABASE") or None,
            analysis=Path(env["FJDP_ANALYSIS"]) if env.get("FJDP_ANALYSIS") else None,
            releases=Path(env["FJDP_RELEASES"]) if env.get("FJDP_RELEASES") else None,
            debug=env.get("FJDP_PORTAL_DEBUG", "0") in ("1", "true", "yes"),
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
            "OPTIONS": {"timeout": 20},
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
            "fjdp.portal.apps.PortalAppConfig",
        ],
        "MIDDLEWARE": [
            "django.middleware.security.SecurityMiddleware",
            "django.contrib.sessions.middleware.SessionMiddleware",
            "django.middleware.common.CommonMiddleware",
            "django.middleware.csrf.CsrfViewMiddleware",
            "django.contrib.auth.middleware.AuthenticationMiddleware",
            "django_otp.middleware.OTPMiddleware",
            "fjdp.portal.middleware.RequireTwoFactorMiddleware",
            "django.contrib.messages.middleware.MessageMiddleware",
            "django.middleware.clickjacking.XFrameOptionsMiddleware",
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
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_EXPIRE_AT_BROWSER_CLOSE": True,
        "SESSION_COOKIE_AGE": 8 * 3600,
        "CSRF_COOKIE_HTTPONLY": True,
        "X_FRAME_OPTIONS": "DENY",
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


def setup(cfg: PortalConfig) -> None:
    """Configure Django with ``cfg`` and load the apps (once per process)."""
    import django
    from django.conf import settings

    if not settings.configured:
        settings.configure(**django_settings(cfg))
    django.setup()
