"""Publish Celery work by task name: the one seam between the portal's code and the broker.

Everything below the entry points (the outbox, the inbox, the notifications) hands work to
a worker through `publish`, naming the task instead of importing `customers/tasks.py`, so
the tasks module (an entry point) imports them and never the reverse.

Every caller has a sweeper (Celery beat) that finds its unpublished work in the database,
so a publish is best effort, with one policy for all: Celery's own publish retries for
seconds while the broker is down, which a request must not wait for. So one quick attempt
without retries, on a connection each thread keeps (opened with a one-second timeout);
after a failure, no attempt at all for BROKER_PAUSE_SECONDS, and the sweepers take over.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable, Sequence
from typing import Any

import redis
from celery import current_app

logger = logging.getLogger(__name__)

# The names the tasks in customers/tasks.py register under.
PROCESS_WEBHOOK_EVENT = "customers.tasks.process_webhook_event"
SEND_BVNK_OPERATION = "customers.tasks.send_bvnk_operation"
SEND_NOTIFICATION = "customers.tasks.send_notification"

# After the broker refused one publish, leave the work to the sweepers for this long.
BROKER_PAUSE_SECONDS = 10.0
# A key kept in a Redis broker: gone means the broker lost its messages (restarted without
# persistence, or flushed) since the last look.
BROKER_MARK = "portal:broker-mark"

# time.monotonic() before which nothing is published (tests set it back to 0).
paused_until = 0.0
_publisher = threading.local()  # one broker connection per thread, reused


def publish(task_name: str, calls: Iterable[Sequence[Any]]) -> bool:
    """Publish one `task_name` message per argument tuple in `calls`, now or not at all.

    Returns False, logging why, when the broker is paused or refused: the work then waits
    for its sweeper. Never raises for broker trouble.
    """
    global paused_until
    messages = [tuple(args) for args in calls]
    if not messages:
        return True
    if time.monotonic() < paused_until:
        return False
    try:
        _send(task_name, messages)
    except Exception as exc:
        paused_until = time.monotonic() + BROKER_PAUSE_SECONDS
        logger.warning(
            "Broker unavailable (%s); %d %s message(s) wait for the sweeper",
            type(exc).__name__,
            len(messages),
            task_name,
        )
        return False
    return True


def _send(task_name: str, calls: list[tuple[Any, ...]]) -> None:
    app = current_app
    url = app.conf.broker_write_url
    conn = getattr(_publisher, "connection", None)
    try:
        if conn is None or getattr(_publisher, "url", None) != url:
            conn = app.connection_for_write(connect_timeout=1.0)
            conn.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=1)
            _publisher.connection, _publisher.url = conn, url
        for args in calls:
            app.send_task(task_name, args=args, connection=conn, retry=False)
    except Exception:
        # Never publish again on a connection that failed (kombu would reconnect without
        # limit); drop it without talking to a broker that may be gone.
        _publisher.connection = None
        if conn is not None:
            conn.collect()
        raise


def broker_lost_messages() -> bool:
    """Whether a Redis broker lost its messages since the last call (its mark is gone).

    The sweepers call it so that work published before a broker restart is published
    again as soon as the broker is back, instead of after a redrive delay. The first call
    against a new broker says True once. Other brokers (the filesystem one keeps its files)
    and an unreachable Redis say False.
    """
    url = str(current_app.conf.broker_write_url or current_app.conf.broker_url or "")
    if not url.startswith(("redis://", "rediss://")):
        return False
    try:
        client = redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1)
        with client:
            return bool(client.set(BROKER_MARK, "1", nx=True))
    except redis.RedisError:
        return False
