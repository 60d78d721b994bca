"""Check the connection to BVNK before going live: read-only calls, nothing is written."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from customers import services


class Command(BaseCommand):
    help = (
        "Call BVNK read-only with the configured credentials (a one-row customer list, both "
        "reference lists, the customer lookup) and report each answer; say how BVNK signs "
        "webhooks if refused deliveries show it. Exits 1 when a call fails."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        self.stdout.write(f"BVNK at {settings.BVNK_BASE_URL}")
        results = services.bvnk_connection_check()
        for result in results:
            mark = "OK  " if result.ok else "FAIL"
            where = f" ({result.path})" if result.path else ""
            self.stdout.write(f"{mark} {result.title}{where}: {result.outcome}")
        advice = services.webhook_signature_advice()
        if advice is not None:
            self.stdout.write(
                f"Webhooks: {advice.count} refused deliveries would have matched "
                f"{advice.scheme} (last {advice.last_at:%Y-%m-%d %H:%M}). {advice.advice}"
            )
        else:
            self.stdout.write("Webhooks: no refused delivery matched another signing scheme.")
        if not all(result.ok for result in results):
            raise CommandError("Some calls to BVNK failed; see above.")
