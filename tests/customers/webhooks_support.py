"""Helpers for the webhook tests: signed deliveries, envelopes, timestamps, live processes."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
import requests
from django.db import connection

from customers.bvnk import wire

ROOT = Path(__file__).resolve().parents[2]
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
    """Return a compact JSON body like BVNK's (6.2); `seconds=None` leaves out the timestamp."""
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


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(predicate: Any, timeout: float = 10.0, interval: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        time.sleep(interval)


def child_env(**overrides: str) -> dict[str, str]:
    """Return an environment for a portal subprocess: this one's, minus .env surprises."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BVNK_", "DJANGO_"))}
    env.update(
        PYTHONPATH=str(ROOT),
        PYTHONUNBUFFERED="1",
        DJANGO_SETTINGS_MODULE="portal.settings",
        SECURE_SSL_REDIRECT="false",
        ALLOWED_HOSTS="127.0.0.1,localhost",
        BVNK_WEBHOOK_SECRET=SECRET,
    )
    env.update(overrides)
    return env


def database_url() -> str:
    """Return a URL for the database this test runs on (PostgreSQL only)."""
    db = connection.settings_dict
    user = db["USER"] or "postgres"
    password = f":{db['PASSWORD']}" if db["PASSWORD"] else ""
    return (
        f"postgres://{user}{password}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    )


# As configured for the run, before any test points the broker elsewhere.
_CONFIGURED_BROKER = os.environ.get("CELERY_BROKER_URL") or os.environ.get("REDIS_URL") or ""


def isolated_broker_url() -> str | None:
    """Return a Redis URL on a database index of its own, or None without Redis.

    Other test runs on the same Redis use index 0: a worker of theirs must not take
    (and drop) a task of this run, nor the reverse.
    """
    url = _CONFIGURED_BROKER
    if not url.startswith("redis://"):
        return None
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/13", "", ""))


def point_broker_at(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    """Make this process publish to `url` (Celery reads CELERY_BROKER_URL first)."""
    from portal.celery import app

    monkeypatch.setenv("CELERY_BROKER_URL", url)
    monkeypatch.setitem(app.conf, "broker_url", url)
    assert app.conf.broker_write_url == url


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


class Worker:
    """`celery -A portal worker --beat` in a subprocess, on the test database."""

    def __init__(self, directory: Path, broker: str, **env: str) -> None:
        self.log = directory / f"worker-{uuid.uuid4().hex[:6]}.log"
        command = [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "portal",
            "worker",
            "--beat",
            "--schedule",
            str(directory / f"beat-{uuid.uuid4().hex[:6]}"),
            "--pool",
            "threads",
            "--concurrency",
            "4",
            "--loglevel",
            "INFO",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ]
        settings = {
            "DATABASE_URL": database_url(),
            "CELERY_BROKER_URL": broker,
            "CONN_MAX_AGE": "0",
            "BVNK_WEBHOOK_SWEEP_SECONDS": "0.5",
            **env,
        }
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                command, cwd=ROOT, env=child_env(**settings), stdout=out, stderr=subprocess.STDOUT
            )
        try:
            wait_until(self._ready, timeout=30, interval=0.1)
        except BaseException:
            self.stop()  # never leave a half-started worker behind
            raise

    def _ready(self) -> bool:
        if self.process.poll() is not None:
            raise RuntimeError(f"worker exited:\n{self.log.read_text()}")
        return " ready." in self.log.read_text()

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)


@pytest.fixture
def start_worker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Return a function starting a real Celery worker (with beat) on the test database.

    Skips on SQLite: a separate process cannot open pytest-django's in-memory database.
    The test process publishes to the same isolated Redis database as the worker.
    """
    if connection.vendor != "postgresql":
        pytest.skip("a worker process needs a shared database (run with DATABASE_URL=postgres)")
    broker = isolated_broker_url()
    if broker is None:
        pytest.skip("a worker process needs Redis (run with CELERY_BROKER_URL=redis://...)")
    point_broker_at(monkeypatch, broker)
    workers: list[Worker] = []

    def start(**env: str) -> Worker:
        workers.append(Worker(tmp_path, broker, **env))
        return workers[-1]

    yield start
    for worker in workers:
        worker.stop()
