"""Emails: once per status change that needs staff, after commit; and the daily digest."""

from __future__ import annotations

import datetime as dt
from unittest import mock

import pytest
from django.conf import settings as django_settings
from django.core import mail
from django.utils import timezone

from customers import dispatch, notifications, services, tasks
from customers.models import Customer, Notification, StatusChange
from tests.conftest import make_company, make_user

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_passwords")]

S = Customer.Status


@pytest.fixture
def owner(django_user_model):
    return make_user(django_user_model, "Onboarding agent", email="owner@partner.example")


def to_status(customer: Customer, *statuses: str) -> list[StatusChange | None]:
    return [
        services.customer_change_status(
            customer, status, source=StatusChange.Source.WEBHOOK, source_reference="evt"
        )
        for status in statuses
    ]


def test_a_status_needing_staff_emails_the_owner_once_after_commit(
    owner, settings, django_capture_on_commit_callbacks
) -> None:
    settings.NOTIFY_TEAM_EMAIL = ["team@partner.example"]
    customer = make_company(legal_name="Northwind Ltd", created_by=owner)
    with (
        mock.patch.object(dispatch, "publish") as publish,
        django_capture_on_commit_callbacks(execute=True) as callbacks,
    ):
        to_status(customer, S.SUBMITTING, S.INFO_REQUIRED)
    notification = Notification.objects.get()
    assert len(callbacks) >= 1
    publish.assert_called_once_with(tasks.send_notification.name, [(notification.pk,)])
    assert mail.outbox == []  # nothing is sent inside the transaction
    assert notification.recipients == ["owner@partner.example", "team@partner.example"]
    assert notifications.notification_send(notification_id=notification.pk) == "SENT"
    assert notifications.notification_send(notification_id=notification.pk) is None
    notifications.notifications_sweep()
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["owner@partner.example", "team@partner.example"]
    assert message.subject == "Northwind Ltd: info required"
    assert f"http://127.0.0.1:8000/customers/{customer.pk}/" in message.body


@pytest.mark.parametrize(
    ("path", "emails"),
    [
        ((S.SUBMITTING,), 0),
        ((S.SUBMITTING, S.PENDING), 0),
        ((S.SUBMITTING, S.PENDING, S.VERIFIED), 1),
        ((S.SUBMITTING, S.PENDING, S.REJECTED), 1),
        ((S.SUBMITTING, S.INFO_REQUIRED, S.PENDING, S.ACTIONS_REQUIRED), 2),
    ],
)
def test_which_statuses_send(owner, path, emails) -> None:
    customer = make_company(created_by=owner)
    to_status(customer, *path)
    assert Notification.objects.count() == emails


def test_the_same_change_twice_is_one_email(owner) -> None:
    customer = make_company(created_by=owner)
    _, change = to_status(customer, S.SUBMITTING, S.INFO_REQUIRED)
    assert change is not None
    notifications.status_change_queue(change)
    assert Notification.objects.count() == 1
    assert to_status(customer, S.INFO_REQUIRED) == [None]  # already there: no change, no email
    assert Notification.objects.count() == 1


def test_no_recipient_no_email(django_user_model) -> None:
    no_email = make_user(django_user_model, None)
    customer = make_company(created_by=no_email)
    to_status(customer, S.SUBMITTING, S.INFO_REQUIRED)
    assert not Notification.objects.exists()


def test_a_failed_send_is_retried_later(owner, settings) -> None:
    customer = make_company(created_by=owner)
    to_status(customer, S.SUBMITTING, S.VERIFIED)
    notification = Notification.objects.get()
    with mock.patch("django.core.mail.EmailMessage.send", side_effect=OSError("SMTP down")):
        assert notifications.notification_send(notification_id=notification.pk) == "PENDING"
    notification.refresh_from_db()
    assert notification.attempts == 1 and "SMTP down" in notification.last_error
    assert notification.next_attempt_at > timezone.now()
    assert notifications.notifications_sweep() == 0  # not due yet
    Notification.objects.update(next_attempt_at=timezone.now())
    assert notifications.notifications_sweep() == 1
    assert len(mail.outbox) == 1
    notification.refresh_from_db()
    assert notification.state == Notification.State.SENT


def test_gives_up_after_max_attempts(owner) -> None:
    customer = make_company(created_by=owner)
    to_status(customer, S.SUBMITTING, S.VERIFIED)
    notification = Notification.objects.get()
    Notification.objects.update(attempts=notifications.MAX_ATTEMPTS - 1)
    with mock.patch("django.core.mail.EmailMessage.send", side_effect=OSError("SMTP down")):
        assert notifications.notification_send(notification_id=notification.pk) == "FAILED"


def test_daily_digest_of_customers_waiting_on_the_partner(owner, settings, django_user_model):
    settings.NOTIFY_TEAM_EMAIL = ["team@partner.example"]
    other = make_user(django_user_model, "Onboarding agent", email="other@partner.example")
    idle = make_user(django_user_model, "Onboarding agent", email="idle@partner.example")
    waiting = make_company(legal_name="Contoso Ltd", created_by=owner)
    to_status(waiting, S.SUBMITTING, S.ACTIONS_REQUIRED)
    theirs = make_company(legal_name="Fabrikam GmbH", created_by=other)
    to_status(theirs, S.SUBMITTING, S.INFO_REQUIRED)
    reviewing = make_company(legal_name="Pending Corp", created_by=idle)
    to_status(reviewing, S.SUBMITTING, S.PENDING)
    Customer.objects.filter(pk=waiting.pk).update(
        status_changed_at=timezone.now() - dt.timedelta(days=3)
    )
    Notification.objects.all().delete()
    mail.outbox.clear()

    day = dt.date(2026, 11, 27)
    queued = notifications.digest_queue(day=day)
    assert sorted(n.recipients[0] for n in queued) == [
        "other@partner.example",
        "owner@partner.example",
        "team@partner.example",
    ]
    assert notifications.digest_queue(day=day) == []  # once per day and address
    for notification in queued:
        notifications.notification_send(notification_id=notification.pk)
    by_address = {message.to[0]: message for message in mail.outbox}
    mine = by_address["owner@partner.example"]
    assert "Contoso Ltd (actions required for 3 days)" in mine.body
    assert "Fabrikam" not in mine.body and "Pending Corp" not in mine.body
    assert f"/customers/{waiting.pk}/" in mine.body
    team = by_address["team@partner.example"].body
    assert "Contoso Ltd" in team and "Fabrikam GmbH" in team and "Pending Corp" not in team
    assert mine.subject == "1 customers waiting on us (2026-11-27)"


def test_tasks_and_beat_schedule() -> None:
    schedule = django_settings.CELERY_BEAT_SCHEDULE
    assert schedule["sweep-notifications"]["task"] == "customers.tasks.sweep_notifications"
    assert schedule["queue-daily-digest"]["task"] == "customers.tasks.queue_daily_digest"
    with mock.patch.object(notifications, "digest_queue") as queue:
        tasks.queue_daily_digest()
    queue.assert_called_once_with()


def test_email_url_configures_smtp() -> None:
    import subprocess
    import sys

    code = (
        "import django, os; os.environ['DJANGO_SETTINGS_MODULE']='portal.settings'; "
        "from django.conf import settings as s; "
        "print(s.EMAIL_BACKEND, s.EMAIL_HOST, s.EMAIL_PORT, s.EMAIL_USE_TLS, s.EMAIL_HOST_USER)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        env={"EMAIL_URL": "smtp+tls://mailer:secret@smtp.example.com:587", "PATH": "/usr/bin"},
        capture_output=True,
        text=True,
        check=True,
        cwd=django_settings.BASE_DIR,
    )
    assert result.stdout.split() == [
        "django.core.mail.backends.smtp.EmailBackend",
        "smtp.example.com",
        "587",
        "True",
        "mailer",
    ]
