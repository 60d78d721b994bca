"""Scan quarantined documents again now, as beat does every CLAMAV_RESCAN_SECONDS."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from customers import documents, scanning


class Command(BaseCommand):
    help = "Rescan documents the malware scanner could not check: release or refuse each."

    def handle(self, *args: Any, **options: Any) -> None:
        if not scanning.configured():
            raise CommandError("CLAMAV_URL is not set: there is no scanner to ask.")
        counts = documents.documents_rescan()
        self.stdout.write(
            f"Released {counts['clean']}, refused {counts['infected']} (malware), "
            f"still quarantined {counts['unavailable']}."
        )
