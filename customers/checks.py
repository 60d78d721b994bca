"""Deploy checks: refuse to go live with the emulator's development settings."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Error, Tags, register


@register(Tags.security, deploy=True)
def check_bvnk_settings(app_configs: Any, **kwargs: Any) -> list[Error]:
    errors = []
    if settings.BVNK_BASE_URL == settings.EMULATOR_URL:
        errors.append(
            Error(
                "BVNK_BASE_URL points at the local BVNK emulator.",
                hint="Set BVNK_BASE_URL to https://api.sandbox.bvnk.com or https://api.bvnk.com.",
                id="customers.E001",
            )
        )
    for name, dev_value in (
        ("BVNK_HAWK_AUTH_ID", settings.EMULATOR_HAWK_AUTH_ID),
        ("BVNK_HAWK_SECRET", settings.EMULATOR_HAWK_SECRET),
        ("BVNK_WEBHOOK_SECRET", settings.EMULATOR_WEBHOOK_SECRET),
    ):
        value = getattr(settings, name)
        if not value or value == dev_value:
            errors.append(
                Error(
                    f"{name} is empty or the emulator's development value.",
                    hint=f"Set {name} from the BVNK portal (Integrations).",
                    id="customers.E002",
                )
            )
    if settings.BVNK_WEBHOOK_SIGNATURE not in ("A", "B"):
        errors.append(Error("BVNK_WEBHOOK_SIGNATURE must be A or B.", id="customers.E003"))
    return errors
