"""The portal as a Django app."""

from __future__ import annotations

from django.apps import AppConfig


class PortalAppConfig(AppConfig):
    name = "fjdp.portal"
    label = "portal"
    verbose_name = "fjdp governance portal"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from fjdp.portal import signals

        signals.connect()
