"""Helpers for the webhook tests: signed deliveries, envelopes, timestamps, live processes."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

from customers.bvnk import wire
from tests import support
from tests.support import (  # noqa: F401 - re-exported for the webhook tests
    ROOT,
    WORKER_NEEDS,
    PrivateRedis,
    Worker,
    database_url,
    free_port,
    point_broker_at,
    require_postgresql,
    wait_until,
)

SECRET = "whsec_test_123"
PATH = "/webhooks/bvnk/"
BASE = datetime(2026, 9, 18, 0, 31, 17, tzinfo=UTC)

STATUS, LEGACY_STATUS, ACCOUNTS_STATUS = wire.EVENT_STATUS_CHANGE_ALIASES
UPDATE = wire.EVENT_CUSTOMER_UPDATE
SESSION = wire.EVENT_AGREEMENT_SESSION
DOCUMENT = wire.EVENT_DOCUMENT_STATUS


def stamp(seconds: float = 0, *, digits: int = 9, zulu: bool = True) -> str:
    """Return BASE + `seconds` as BVNK writes it: 7-9 fractional digits, usually a Z."""
    moment = BASE + timedelta(seconds=seconds)
    fraction = f"{moment.microsecond:06d}{'123'}"[:digits]
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + f".{fraction}" + ("Z" if zulu else "")


def at(seconds: float = 0) -> datetime:
    """Return the datetime `stamp(seconds)` parses to (microsecond precision)."""
    return BASE + timedelta(seconds=seconds)


def envelope(
    event: str,
    data: dict[str, Any],
    *,
    seconds: float | None = 0,
    event_id: str | None = None,
    **extra: Any,
) -> bytes:
    """Return a compact JSON body like BVNK's envelope; `seconds=None` leaves out the timestamp."""
    payload: dict[str, Any] = {"event": event, "eventId": event_id or str(uuid.uuid4())}
    if seconds is not None:
        payload["timestamp"] = stamp(seconds)
    payload["data"] = data
    payload.update(extra)
    return json.dumps(payload, separators=(",", ":")).encode()


def status_event(
    reference: str, status: str, seconds: float | None = 0, *, name: str = STATUS, **extra: Any
) -> bytes:
    """Return a status change under one of its three names."""
    key = "customerId" if name == LEGACY_STATUS else "reference"
    return envelope(name, {key: reference, "status": status}, seconds=seconds, **extra)


def sign(body: bytes, secret: str = SECRET) -> str:
    """Variant A, written independently of customers.webhooks."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def deliver(client: Any, body: bytes, *, signature: str | None = None, **extra: Any) -> Any:
    """POST `body` to the webhook with a valid signature (or the one given)."""
    headers = {"HTTP_X_SIGNATURE": sign(body) if signature is None else signature}
    headers.update(extra)
    return client.post(PATH, data=body, content_type="application/json", **headers)


def child_env(**overrides: str) -> dict[str, str]:
    """Return an environment for a portal subprocess, signing webhooks with SECRET."""
    return support.child_env(**{"BVNK_WEBHOOK_SECRET": SECRET, **overrides})


class Gunicorn:
    """The portal served by gunicorn in a subprocess."""

    def __init__(self, log: Path, **env: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        with log.open("ab") as out:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "gunicorn",
                    "portal.wsgi:application",
                    "--bind",
                    f"127.0.0.1:{self.port}",
                    "--workers",
                    "1",
                    "--timeout",
                    "30",
                ],
                cwd=ROOT,
                env=child_env(**env),
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        try:
            wait_until(self._up, timeout=20)
        except BaseException:
            self.stop()
            raise

    def _up(self) -> bool:
        if self.process.poll() is not None:
            raise RuntimeError(f"gunicorn exited:\n{self.log.read_text()}")
        try:
            requests.get(self.url + PATH, timeout=1)
        except requests.RequestException:
            return False
        return True

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)


@pytest.fixture
def start_worker(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> Iterator[Any]:
    """Return a function starting a real Celery worker (with beat) on the test database.

    Skips on SQLite: a separate process cannot open pytest-django's in-memory database.
    The broker is the session's private Redis (tests/support.py), emptied first; the test
    process publishes to it too.
    """
    require_postgresql(WORKER_NEEDS)
    redis: PrivateRedis = request.getfixturevalue("private_redis")
    redis.flush()
    broker = redis.url()
    point_broker_at(monkeypatch, broker)
    workers: list[Worker] = []

    def start(**env: str) -> Worker:
        workers.append(Worker(tmp_path, broker, BVNK_WEBHOOK_SECRET=SECRET, **env))
        return workers[-1]

    yield start
    for worker in workers:
        worker.stop()
