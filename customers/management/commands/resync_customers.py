"""Read customers from BVNK and apply what the portal missed: chosen ones, or all of them."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from customers.models import Customer
from customers.services import reconcile as sync


class Command(BaseCommand):
    help = (
        "Resync customers from BVNK: `--all` lists BVNK's customers and reads every created "
        "one; or give customer ids (pk)."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("ids", nargs="*", type=int, help="Customer ids (pk).")
        parser.add_argument(
            "--all", action="store_true", help="Every customer created at BVNK (full reconcile)."
        )

    def handle(self, *args: Any, ids: list[int], **options: Any) -> None:
        if options["all"] == bool(ids):
            raise CommandError("Say which customers: --all, or one or more ids.")
        if options["all"]:
            # No time budget: a person waits for the whole run.
            report = sync.customers_reconcile(stale_after=0, budget=float("inf"))
        else:
            customers = {c.pk: c for c in Customer.objects.filter(pk__in=ids)}
            if missing := sorted(set(ids) - set(customers)):
                raise CommandError(f"No customer with id {', '.join(map(str, missing))}.")
            report = sync.customers_resync(customers[pk] for pk in ids)
        for change in report.changes:
            self.stdout.write(f"Changed {change}")
        for problem in report.problems:
            self.stderr.write(f"Problem: {problem}")
        self.stdout.write(f"Resync: {report.summary()}.")
        if report.problems and not report.read and not report.listed:
            raise CommandError("Nothing could be read from BVNK.")
