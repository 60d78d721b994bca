"""Scan quarantined documents again now, as beat does every CLAMAV_RESCAN_SECONDS."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from customers import scanning, services


class Command(BaseCommand):
    help = "Rescan documents the malware scanner could not check: release or refuse each."

    def handle(self, *args: Any, **options: Any) -> None:
        if not scanning.configured():
            raise CommandError("CLAMAV_URL is not set: there is no scanner to ask.")
        counts = services.documents_rescan()
        self.stdout.write(
            f"Released {counts['clean']} ({counts['sent']} sent to BVNK as answers), refused "
            f"{counts['infected']} (malware), still quarantined {counts['unavailable']}."
        )
