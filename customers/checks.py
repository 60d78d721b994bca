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


# Renewals every 2 s at least, so a busy database or machine does not let a live claim lapse.
MIN_LEASE_SECONDS = 6


@register()
def check_pipeline_timings(app_configs: Any, **kwargs: Any) -> list[Error]:
    """The submission pipeline's timings must nest, or a live send could be taken over.

    A live send renews its claim's lease every third of BVNK_OPERATION_LEASE_SECONDS
    (customers/outbox/leases.py), so the lease needs room for a renewal or two that is
    late; the broker hands an unacknowledged message over again only after its
    visibility timeout, which must outlast the lease, because a message handed over again
    is taken as proof that the worker that had it is gone.
    """
    errors = []
    lease = settings.BVNK_OPERATION_LEASE_SECONDS
    if lease < MIN_LEASE_SECONDS:
        errors.append(
            Error(
                f"BVNK_OPERATION_LEASE_SECONDS ({lease}) must be at least "
                f"{MIN_LEASE_SECONDS}: live sends renew it every third of it.",
                id="customers.E004",
            )
        )
    visibility = (settings.CELERY_BROKER_TRANSPORT_OPTIONS or {}).get("visibility_timeout")
    if visibility is not None and visibility <= lease:
        errors.append(
            Error(
                f"CELERY_VISIBILITY_TIMEOUT ({visibility}) must exceed "
                f"BVNK_OPERATION_LEASE_SECONDS ({lease}).",
                id="customers.E005",
            )
        )
    return errors
