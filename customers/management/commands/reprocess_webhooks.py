"""Run stored BVNK webhook events again: the failed ones, or chosen ones by id."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from customers import inbox
from customers.models import WebhookEvent


class Command(BaseCommand):
    help = "Reprocess stored BVNK webhook events (--failed, or --ids 12 13 ...)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--failed", action="store_true", help="Every event in FAILED.")
        parser.add_argument("--ids", nargs="+", type=int, default=[], help="Event ids (pk).")

    def handle(self, *args: Any, failed: bool = False, ids: list[int], **options: Any) -> None:
        if not failed and not ids:
            raise CommandError("Say which events: --failed and/or --ids ID [ID ...].")
        chosen = set(ids)
        if failed:
            chosen.update(
                WebhookEvent.objects.filter(status=WebhookEvent.Status.FAILED).values_list(
                    "pk", flat=True
                )
            )
        if missing := sorted(
            chosen - set(WebhookEvent.objects.filter(pk__in=chosen).values_list("pk", flat=True))
        ):
            raise CommandError(f"No webhook event with id {', '.join(map(str, missing))}.")
        results = inbox.webhook_events_reprocess(event_ids=sorted(chosen))
        self.stdout.write(f"Reprocessed {len(chosen)} event(s): {inbox.summarise(results)}.")
