"""Retention: what the portal keeps about customers, and for how long (beat, hourly).

- Abandoned drafts (DRAFT, never created at BVNK, untouched for RETENTION_DRAFT_DAYS) are
  deleted with their associates and files.
- Customers TERMINATED (or REJECTED, a refusal that stood) for RETENTION_TERMINATED_DAYS
  (five years by default, the usual anti-money-laundering record period) are anonymised:
  their personal data, associates, documents, BVNK payloads and webhook bodies are erased;
  the row stays, with BVNK's reference, status history and audit log, so reconciliation
  with BVNK and the audit trail still resolve.
- The bodies of BVNK operations done (or cancelled) BVNK_OPERATION_PAYLOAD_RETENTION_DAYS
  ago are erased: what was sent is BVNK's to keep then, and the portal's copy is one more
  place personal data rests. What the pipeline still reads stays (questionnaire codes,
  submission number, the associates' ids, the names of the changed fields).
- Processed webhook events are purged by inbox.webhook_events_purge.

Every purge writes an audit row (actor: the system) naming the customer's id.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from . import audit
from .documents import delete_files_on_commit
from .models import BvnkOperation, Customer

logger = logging.getLogger(__name__)

ENDED = (Customer.Status.TERMINATED, Customer.Status.REJECTED)
# Personal data on a customer row; company registry facts (legal name, registration
# number, incorporation date) are not personal data and stay.
ERASED_FIELDS: dict[str, object] = {
    **{
        name: ""
        for name in (
            "first_name",
            "last_name",
            "nationality",
            "birth_country",
            "email",
            "phone",
            "address_line1",
            "address_line2",
            "city",
            "postal_code",
            "state_code",
            "country",
            "operational_address_line1",
            "operational_address_line2",
            "operational_city",
            "operational_postal_code",
            "operational_state_code",
            "operational_country",
            "tax_number",
            "tax_residence_country",
            "description",
            "website",
            "employment_status",
            "source_of_funds",
            "pep_status",
            "intended_use",
            "expected_volume_currency",
            "estimated_yearly_income",
            "industry_sector",
            "verification_url",
            "associate_names",
            "waiting_reason",
        )
    },
    "date_of_birth": None,
    "expected_monthly_volume": None,
    "info_required": {},
    "bvnk_data": {},
    "submission_errors": {},
}


def drafts_purge(*, now: dt.datetime | None = None) -> int:
    """Delete drafts untouched for RETENTION_DRAFT_DAYS, files included; returns how many."""
    now = now or timezone.now()
    days = settings.RETENTION_DRAFT_DAYS
    cutoff = now - dt.timedelta(days=days)
    stale = Customer.objects.filter(
        status=Customer.Status.DRAFT, updated_at__lt=cutoff, bvnk_reference__isnull=True
    )
    purged = 0
    for pk in list(stale.values_list("pk", flat=True)):
        with transaction.atomic():
            locked = stale.select_for_update().filter(pk=pk).first()
            if locked is None:  # resumed or purged meanwhile
                continue
            names = [document.file.name for document in locked.documents.all()]
            audit.record(
                actor=None,
                action=audit.Action.ACTION,
                summary=f"Purged an abandoned draft (untouched for {days} days), "
                f"with {len(names)} document(s)",
                customer=locked,
                details={
                    "retention": "draft",
                    "external_reference": str(locked.external_reference),
                    "last_change": locked.updated_at.isoformat(),
                },
            )
            locked.delete()
            delete_files_on_commit(names)
        purged += 1
    if purged:
        logger.info("Retention: %s abandoned draft(s) purged", purged)
    return purged


def ended_customers_anonymise(*, now: dt.datetime | None = None) -> int:
    """Erase the personal data of customers ended RETENTION_TERMINATED_DAYS ago."""
    now = now or timezone.now()
    days = settings.RETENTION_TERMINATED_DAYS
    cutoff = now - dt.timedelta(days=days)
    due = Customer.objects.filter(
        status__in=ENDED, status_changed_at__lt=cutoff, anonymised_at__isnull=True
    )
    done = 0
    for pk in list(due.values_list("pk", flat=True)):
        with transaction.atomic():
            locked = due.select_for_update().filter(pk=pk).first()
            if locked is None:
                continue
            names = [document.file.name for document in locked.documents.all()]
            counts = {
                "associates": locked.associates.count(),
                "documents": len(names),
                "webhook_events": locked.webhook_events.count(),
            }
            locked.documents.all().delete()
            locked.associates.all().delete()
            locked.webhook_events.all().delete()
            locked.notifications.all().delete()
            locked.staff_notifications.all().delete()
            locked.agreement_sessions.update(bvnk_data={})
            locked.operations.update(payload={}, result={}, field_errors={}, last_error="")
            for name, value in ERASED_FIELDS.items():
                setattr(locked, name, value)
            locked.anonymised_at = now
            locked.save(update_fields=[*ERASED_FIELDS, "anonymised_at", "updated_at"])
            delete_files_on_commit(names)
            audit.record(
                actor=None,
                action=audit.Action.ACTION,
                summary=f"Erased personal data: {days} days after the customer was "
                f"{locked.get_status_display().lower()}",
                customer=locked,
                details={"retention": "ended", **counts},
            )
        done += 1
    if done:
        logger.info("Retention: %s ended customer(s) anonymised", done)
    return done


# What an operation's payload keeps once its body is erased: ids, not personal data.
KEPT_PAYLOAD_KEYS = ("submission", "associates", "fields", "document", "sha256")


def operation_payloads_purge(*, now: dt.datetime | None = None) -> int:
    """Erase the bodies of operations done or cancelled a few days ago; returns how many."""
    now = now or timezone.now()
    cutoff = now - dt.timedelta(days=settings.BVNK_OPERATION_PAYLOAD_RETENTION_DAYS)
    State = BvnkOperation.State
    due = BvnkOperation.objects.filter(
        Q(completed_at__lt=cutoff) | Q(completed_at__isnull=True, updated_at__lt=cutoff),
        state__in=(State.DONE, State.CANCELLED),
        payload_purged_at__isnull=True,
    )
    purged = 0
    for pk in list(due.values_list("pk", flat=True)):
        with transaction.atomic():
            locked = due.select_for_update().filter(pk=pk).first()
            if locked is None:
                continue
            locked.payload = payload_without_personal_data(locked.payload)
            locked.payload_purged_at = now
            locked.save(update_fields=["payload", "payload_purged_at", "updated_at"])
        purged += 1
    if purged:
        logger.info("Retention: %s operation body(ies) erased", purged)
    return purged


def payload_without_personal_data(payload: dict[str, Any]) -> dict[str, Any]:
    """Keep what the pipeline reads later: ids, counts, field names, questionnaire codes."""
    kept = {
        key: payload[key]
        for key in ("submission", "associates", "fields", "document", "sha256")
        if key in payload
    }
    if "answers" in payload:
        kept["answers"] = [
            {"code": answer.get("code")}
            for answer in payload["answers"]
            if isinstance(answer, dict)
        ]
    return kept


def retention_apply(*, now: dt.datetime | None = None) -> dict[str, int]:
    """Run every retention rule once (the beat task)."""
    return {
        "drafts": drafts_purge(now=now),
        "anonymised": ended_customers_anonymise(now=now),
        "operation_payloads": operation_payloads_purge(now=now),
    }
