"""customers/dispatch.py: work published by task name, with one pause after a broker failure."""

from __future__ import annotations

from typing import Any

import pytest

from customers import dispatch, tasks
from portal.celery import app as celery_app


@pytest.fixture(autouse=True)
def _not_paused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dispatch, "paused_until", 0.0)


def test_the_names_are_the_registered_tasks() -> None:
    assert tasks.process_webhook_event.name == dispatch.PROCESS_WEBHOOK_EVENT
    assert tasks.send_bvnk_operation.name == dispatch.SEND_BVNK_OPERATION
    assert tasks.send_notification.name == dispatch.SEND_NOTIFICATION
    assert {
        dispatch.PROCESS_WEBHOOK_EVENT,
        dispatch.SEND_BVNK_OPERATION,
        dispatch.SEND_NOTIFICATION,
    } <= set(celery_app.tasks)


def test_one_message_per_call_on_the_tasks_route(monkeypatch: pytest.MonkeyPatch) -> None:
    sent: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []
    monkeypatch.setattr(
        celery_app, "send_task", lambda name, args, **options: sent.append((name, args, options))
    )
    assert dispatch.publish(dispatch.SEND_BVNK_OPERATION, [(1,), (2,)]) is True
    assert [(name, args) for name, args, _ in sent] == [
        (dispatch.SEND_BVNK_OPERATION, (1,)),
        (dispatch.SEND_BVNK_OPERATION, (2,)),
    ]
    assert all(options["retry"] is False for _, _, options in sent)
    route = celery_app.amqp.router.route({}, dispatch.SEND_BVNK_OPERATION)
    assert route["queue"].name == "bvnk"
    assert dispatch.publish(dispatch.SEND_NOTIFICATION, []) is True  # nothing to send


def test_a_broker_failure_pauses_every_publisher(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []

    def down(name: str, args: tuple[Any, ...], **options: Any) -> None:
        calls.append(name)
        raise ConnectionRefusedError("broker down")

    monkeypatch.setattr(celery_app, "send_task", down)
    assert dispatch.publish(dispatch.PROCESS_WEBHOOK_EVENT, [(1,)]) is False
    # The same pause for the outbox and the notifications: no second wait on the broker.
    assert dispatch.publish(dispatch.SEND_BVNK_OPERATION, [(2,)]) is False
    assert dispatch.publish(dispatch.SEND_NOTIFICATION, [(3,)]) is False
    assert calls == [dispatch.PROCESS_WEBHOOK_EVENT]
    assert dispatch.paused_until > 0
