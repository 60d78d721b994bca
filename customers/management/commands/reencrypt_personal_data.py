"""Encrypt all personal data again under the newest FIELD_ENCRYPTION_KEYS key (rotation)."""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.core.management.base import BaseCommand, CommandError

from customers import crypto


class Command(BaseCommand):
    help = (
        "Re-encrypt tax numbers, ID document numbers, dates of birth, the bodies sent to "
        "BVNK and BVNK's copy of each customer under the first key of FIELD_ENCRYPTION_KEYS "
        "and recompute their keyed hashes. Run it after putting a new key first; remove the "
        "old key only once it reports no failures."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--batch", type=int, default=500, help="Rows read per query.")

    def handle(self, *args: Any, batch: int, **options: Any) -> None:
        models = crypto.encrypted_models(apps.get_app_config("customers").get_models())
        report = crypto.personal_data_reencrypt(model_classes=models, batch=batch)
        self.stdout.write(f"Re-encrypted {report.rows} row(s) under the newest key.")
        if report.failures:
            raise CommandError(
                "No configured key decrypts these rows (left as they were): "
                + ", ".join(report.failures)
            )
