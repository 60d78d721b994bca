"""Retention: abandoned drafts purged with their files, ended customers anonymised, audited."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import time_machine
from django.conf import settings as django_settings
from django.utils import timezone

from customers import retention, tasks
from customers.models import Associate, AuditEvent, BvnkOperation, ComplianceDocument, Customer
from tests.conftest import make_associate, make_company
from tests.customers.conftest import add_document, individual_draft

pytestmark = pytest.mark.django_db
START = dt.datetime(2026, 1, 5, 9, 0, tzinfo=dt.UTC)


def files() -> list[Path]:
    root = Path(django_settings.PRIVATE_MEDIA_ROOT)
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def test_abandoned_drafts_are_purged_with_their_files(
    settings, django_capture_on_commit_callbacks
) -> None:
    settings.RETENTION_DRAFT_DAYS = 90
    with time_machine.travel(START, tick=False) as clock:
        abandoned = individual_draft()
        add_document(abandoned, "PASSPORT", "FRONT_SIDE")
        clock.shift(dt.timedelta(days=60))
        recent = individual_draft()
        clock.shift(dt.timedelta(days=31))
        with django_capture_on_commit_callbacks(execute=True):
            assert retention.retention_apply() == {
                "drafts": 1,
                "anonymised": 0,
                "operation_payloads": 0,
            }
    assert list(Customer.objects.all()) == [recent]
    assert not ComplianceDocument.objects.exists() and files() == []
    event = AuditEvent.objects.get(customer_id=abandoned.pk)
    assert event.actor is None and "abandoned draft" in event.summary


def test_a_draft_in_use_is_kept(settings) -> None:
    with time_machine.travel(START, tick=False) as clock:
        draft = individual_draft()
        clock.shift(dt.timedelta(days=89))
        draft.save(update_fields=["first_name", "updated_at"])  # someone worked on it
        clock.shift(dt.timedelta(days=89))
        assert retention.drafts_purge() == 0


def test_ended_customers_are_anonymised_after_the_retention_period(
    settings, django_capture_on_commit_callbacks
) -> None:
    settings.RETENTION_TERMINATED_DAYS = 5 * 365
    with time_machine.travel(START, tick=False) as clock:
        ended = individual_draft(status="TERMINATED", bvnk_reference="cus-1")
        add_document(ended, "PASSPORT", "FRONT_SIDE")
        company = make_company(status="TERMINATED", bvnk_reference="cus-2")
        make_associate(company, tax_number="AB123456C")
        active = individual_draft(status="VERIFIED", bvnk_reference="cus-3")
        clock.shift(dt.timedelta(days=5 * 365 - 1))
        assert retention.ended_customers_anonymise() == 0  # still within the period
        clock.shift(dt.timedelta(days=2))
        recent = individual_draft(status="TERMINATED", bvnk_reference="cus-4")
        with django_capture_on_commit_callbacks(execute=True):
            tasks.apply_retention()  # the beat task
    ended.refresh_from_db()
    assert ended.anonymised_at is not None
    assert ended.first_name == ended.email == ended.tax_number == ""
    assert ended.date_of_birth is None
    assert ended.bvnk_reference == "cus-1"  # the row stays for reconciliation
    assert not ended.documents.exists() and files() == []
    assert not Associate.objects.filter(customer=company).exists()
    company.refresh_from_db()
    assert company.legal_name  # a company's registry facts are not personal data
    for kept in (active, recent):
        kept.refresh_from_db()
        assert kept.anonymised_at is None and kept.first_name == "Jane"
    purges = AuditEvent.objects.filter(summary__startswith="Erased personal data")
    assert {event.customer_id for event in purges} == {ended.pk, company.pk}
    with django_capture_on_commit_callbacks(execute=True):
        assert retention.ended_customers_anonymise(now=START + dt.timedelta(days=4000)) == 1


def test_beat_runs_retention() -> None:
    schedule = django_settings.CELERY_BEAT_SCHEDULE
    assert schedule["apply-retention"]["task"] == "customers.tasks.apply_retention"
    assert "purge-webhook-events" in schedule


def test_bodies_of_done_operations_are_erased_after_a_few_days(settings) -> None:
    settings.BVNK_OPERATION_PAYLOAD_RETENTION_DAYS = 7
    body = {"individual": {"person": {"dateOfBirth": "1990-01-02"}}}
    with time_machine.travel(START, tick=False) as clock:
        customer = individual_draft(status="VERIFIED", bvnk_reference="cus-1")

        def operation(key: str, state: str, **payload: object) -> BvnkOperation:
            return BvnkOperation.objects.create(
                customer=customer,
                kind="UPDATE_CUSTOMER",
                idempotency_key=key,
                state=state,
                completed_at=timezone.now() if state == "DONE" else None,
                payload=payload,
            )

        done = operation("k-done", "DONE", body=body, fields=["email"])
        answers = operation(
            "k-answers", "DONE", answers=[{"code": "q-1", "sections": [{"a": "secret"}]}]
        )
        pending = operation("k-pending", "PENDING", body=body, fields=["email"])
        clock.shift(dt.timedelta(days=6))
        recent = operation("k-recent", "DONE", body=body)
        clock.shift(dt.timedelta(days=2))
        assert retention.retention_apply()["operation_payloads"] == 2
        assert retention.operation_payloads_purge() == 0  # each once
    done.refresh_from_db()
    assert done.payload == {"fields": ["email"]} and done.payload_purged_at is not None
    answers.refresh_from_db()
    assert answers.payload == {"answers": [{"code": "q-1"}]}
    for kept in (pending, recent):
        kept.refresh_from_db()
        assert kept.payload["body"] == body and kept.payload_purged_at is None
