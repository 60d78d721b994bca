"""Recompute the My customers summary of every customer (or of some statuses)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from customers import requirements
from customers.models import Customer


class Command(BaseCommand):
    help = (
        "Recompute each customer's blocking summary, waiting-on side, waiting reason and "
        "needs-attention flag (after an upgrade; the services keep them current otherwise)."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--status", nargs="+", default=[], choices=Customer.Status.values, help="Only these."
        )

    def handle(self, *args: Any, status: list[str], **options: Any) -> None:
        customers = Customer.objects.order_by("pk")
        if status:
            customers = customers.filter(status__in=status)
        count = 0
        for pk in customers.values_list("pk", flat=True).iterator(chunk_size=2000):
            requirements.summary_refresh(pk)
            count += 1
        self.stdout.write(f"Refreshed {count} customer summaries.")
