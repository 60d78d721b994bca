"""Real processes for tests: Celery workers on the test database, an isolated Redis database,
and the services themselves (restarting PostgreSQL, stopping and starting Redis).

A worker subprocess cannot open pytest-django's SQLite test database, so everything here
needs PostgreSQL (DATABASE_URL=postgres://...) and Redis (CELERY_BROKER_URL=redis://...);
`require_services()` skips with the reason otherwise (CI runs with both and fails on skips).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
from django.db import connection

from tests.emulator_server import free_port  # noqa: F401 - re-exported for the fault tests
from tests.emulator_server import wait_until as _wait_until

ROOT = Path(__file__).resolve().parents[1]
REDIS_START = [
    "redis-server",
    "--daemonize",
    "yes",
    "--bind",
    "127.0.0.1",
    "-::1",
    "--port",
    "6379",
    "--save",
    "",
    "--appendonly",
    "no",
    "--dir",
    "/var/lib/redis",
    "--logfile",
    "/var/log/redis/ci.log",
]


def wait_until(predicate: Callable[[], Any], timeout: float = 10.0, interval: float = 0.05) -> Any:
    """Poll like the emulator fixtures do, with the longer default worker tests need."""
    return _wait_until(predicate, timeout, interval)


def child_env(**overrides: str) -> dict[str, str]:
    """Return an environment for a portal subprocess: this one's, minus .env surprises."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BVNK_", "DJANGO_"))}
    env.update(
        PYTHONPATH=str(ROOT),
        PYTHONUNBUFFERED="1",
        DJANGO_SETTINGS_MODULE="portal.settings",
        SECURE_SSL_REDIRECT="false",
        ALLOWED_HOSTS="127.0.0.1,localhost",
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
CONFIGURED_BROKER = os.environ.get("CELERY_BROKER_URL") or os.environ.get("REDIS_URL") or ""


def isolated_broker_url(db: int = 13) -> str | None:
    """Return a Redis URL on database index `db`, or None without Redis.

    Other test runs on the same Redis use index 0: a worker of theirs must not take (and
    drop) a task of this run, nor the reverse. Each test module picks its own index.
    """
    if not CONFIGURED_BROKER.startswith("redis://"):
        return None
    parts = urlsplit(CONFIGURED_BROKER)
    return urlunsplit((parts.scheme, parts.netloc, f"/{db}", "", ""))


def point_broker_at(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    """Make this process publish to `url` (Celery reads CELERY_BROKER_URL first)."""
    from portal.celery import app

    monkeypatch.setenv("CELERY_BROKER_URL", url)
    monkeypatch.setitem(app.conf, "broker_url", url)
    # Also the write URL itself, in case an earlier test left one set.
    monkeypatch.setitem(app.conf, "broker_write_url", url)
    assert app.conf.broker_write_url == url


def require_services(db: int) -> str:
    """Skip unless the test runs on PostgreSQL and Redis; return the isolated broker URL."""
    if connection.vendor != "postgresql":
        pytest.skip("a worker process needs a shared database (run with DATABASE_URL=postgres)")
    broker = isolated_broker_url(db)
    if broker is None:
        pytest.skip("a worker process needs Redis (run with CELERY_BROKER_URL=redis://...)")
    return broker


class Worker:
    """`celery -A portal worker` in a subprocess, on the test database.

    Defaults as the webhook tests use it: the threads pool, four threads, beat embedded,
    every queue. `include` names modules the worker imports at start (test-only patches).
    """

    def __init__(
        self,
        directory: Path,
        broker: str,
        *,
        pool: str = "threads",
        concurrency: int = 4,
        queues: str = "",
        beat: bool = True,
        include: Sequence[str] = (),
        **env: str,
    ) -> None:
        self.log = directory / f"worker-{uuid.uuid4().hex[:6]}.log"
        command = [sys.executable, "-m", "celery", "-A", "portal", "worker"]
        command += ["--pool", pool, "--concurrency", str(concurrency), "--loglevel", "INFO"]
        command += ["--without-gossip", "--without-mingle", "--without-heartbeat"]
        if queues:
            command += ["-Q", queues]
        if beat:
            command += ["--beat", "--schedule", str(directory / f"beat-{uuid.uuid4().hex[:6]}")]
        if include:
            command += ["--include", ",".join(include)]
        settings = {
            "DATABASE_URL": database_url(),
            "CELERY_BROKER_URL": broker,
            "CONN_MAX_AGE": "0",
            "BVNK_WEBHOOK_SWEEP_SECONDS": "0.5",
            **env,
        }
        with self.log.open("ab") as out:
            # A session of its own: `kill()` takes the whole worker down, pool and beat too,
            # as a lost container would.
            self.process = subprocess.Popen(
                command,
                cwd=ROOT,
                env=child_env(**settings),
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            wait_until(self._ready, timeout=30, interval=0.1)
        except BaseException:
            self.stop()  # never leave a half-started worker behind
            raise

    @property
    def pid(self) -> int:
        return self.process.pid

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def _ready(self) -> bool:
        if self.process.poll() is not None:
            raise RuntimeError(f"worker exited:\n{self.output()}")
        return " ready." in self.output()

    def kill(self) -> None:
        """SIGKILL the worker and everything it started; no goodbye to the broker."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=15)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)  # leftovers: pool children, beat
        self.process.wait(timeout=5)


def redis_flush(url: str) -> None:
    """Empty one Redis database (leftover messages of an earlier, interrupted run)."""
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=2)
    try:
        client.flushdb()
    finally:
        client.close()


def redis_up(url: str) -> bool:
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=0.5, socket_timeout=0.5)
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False
    finally:
        client.close()


def redis_shutdown(url: str) -> None:
    """`redis-cli shutdown nosave`: Redis stops and forgets every message it held."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", str(parts.port or 6379)
    subprocess.run(
        ["redis-cli", "-h", host, "-p", port, "shutdown", "nosave"],
        check=False,
        capture_output=True,
        timeout=10,
    )
    wait_until(lambda: not redis_up(url), timeout=10)


def redis_start(url: str) -> None:
    """Start Redis as .ci/run does, and wait for it to answer."""
    if redis_up(url):
        return
    for folder in ("/var/lib/redis", "/var/log/redis"):
        Path(folder).mkdir(parents=True, exist_ok=True)
    subprocess.run(REDIS_START, check=True, capture_output=True, timeout=20)
    wait_until(lambda: redis_up(url), timeout=20, interval=0.1)


def postgresql_restart() -> None:
    """Restart the local PostgreSQL cluster (every connection to it is cut) and wait for it."""
    versions = sorted(os.listdir("/etc/postgresql"), key=lambda v: [int(p) for p in v.split(".")])
    version = versions[-1]
    subprocess.run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "restart"],
        check=True,
        capture_output=True,
        timeout=60,
    )
    ready = ["pg_isready", "-q", "-h", "127.0.0.1", "-p", "5432"]
    wait_until(
        lambda: subprocess.run(ready, check=False, timeout=5).returncode == 0,
        timeout=30,
        interval=0.2,
    )
