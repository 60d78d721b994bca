"""The whole portal as separate processes, as it runs in production, for browser tests.

gunicorn serves the portal, a real Celery worker (with beat) consumes the queues, and the
BVNK emulator answers the API and delivers signed webhooks to the portal. They share a
database of their own: a fresh PostgreSQL database when DATABASE_URL points at
PostgreSQL (CI), else a SQLite file; and a broker of their own: a private redis-server
(tests/support.py) when REDIS_URL or CELERY_BROKER_URL is set (CI), else a filesystem
broker in a temp folder. The machine's Redis is never flushed nor written to.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import requests

from tests.bvnk_variants import DEFAULTS, Variant
from tests.emulator_server import EmulatorProcess, free_port, start_emulator
from tests.support import PrivateRedis

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "e2e-" + secrets.token_urlsafe(12)
# Username -> role (the groups created by the migrations).
USERS = {
    "agent": "Onboarding agent",
    "lead": "Compliance lead",
    "viewer": "Viewer",
}


def otp_key(username: str) -> str:
    """The known TOTP key (hex) of a user's authenticator app: the browser computes codes."""
    return hashlib.sha1(f"e2e-{username}".encode()).hexdigest()  # noqa: S324 - a test key


def recovery_codes(username: str) -> list[str]:
    return [f"rc{username}{i}" for i in range(5)]


def _database(tmp: Path) -> tuple[str, str | None]:
    """Return the stack's DATABASE_URL and, for PostgreSQL, the name to drop afterwards."""
    url = os.environ.get("DATABASE_URL", "")
    if url.startswith(("postgres://", "postgresql://")):
        name = f"e2e_{os.getpid()}_{secrets.token_hex(3)}"
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return url.rsplit("/", 1)[0] + f"/{name}", name
    return f"sqlite:///{tmp / 'portal.sqlite3'}", None


@dataclass
class Stack:
    tmp: Path
    portal_url: str = ""
    emulator: EmulatorProcess | None = None
    env: dict[str, str] = field(default_factory=dict)
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    drop_database: str | None = None
    # How the emulator reads BVNK's open points, and the portal settings that follow.
    variant: Variant = DEFAULTS
    redis: PrivateRedis | None = None

    def start(self) -> Stack:
        port = free_port()
        self.portal_url = f"http://127.0.0.1:{port}"
        database_url, self.drop_database = _database(self.tmp)
        broker = "filesystem://"
        configured = os.environ.get("CELERY_BROKER_URL") or os.environ.get("REDIS_URL") or ""
        if configured.startswith("redis://"):  # the run is on Redis: the stack gets its own
            (self.tmp / "redis").mkdir(exist_ok=True)
            self.redis = PrivateRedis(self.tmp / "redis")
            broker = self.redis.url()
        self.emulator = start_emulator(
            self.tmp / "emulator",
            webhook_url=f"{self.portal_url}/webhooks/bvnk/",
            BVNK_EMULATOR_REVIEW_SECONDS="1",
            **self.variant.emulator,
        )
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("PYTEST")},
            "DEBUG": "false",
            "SECRET_KEY": "e2e-" + secrets.token_hex(32),
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "SECURE_SSL_REDIRECT": "false",
            "SESSION_COOKIE_SECURE": "false",
            "CSRF_COOKIE_SECURE": "false",
            "SECURE_HSTS_SECONDS": "0",
            # Logins go through the second factor, as in production (tests/e2e/conftest.py).
            "OTP_REQUIRED": "true",
            "DATABASE_URL": database_url,
            "CELERY_BROKER_URL": broker,
            "REDIS_URL": broker if broker.startswith("redis://") else "",
            "VAR_DIR": str(self.tmp / "var"),
            "BVNK_BASE_URL": self.emulator.url,
            "BVNK_HAWK_AUTH_ID": self.emulator.auth_id,
            "BVNK_HAWK_SECRET": self.emulator.secret,
            "BVNK_WEBHOOK_SECRET": self.emulator.webhook_secret,
            "BVNK_AGREEMENT_URL": f"{self.emulator.url}/agreements",
            "BVNK_WEBHOOK_SWEEP_SECONDS": "0.5",
            "LIVE_REFRESH_SECONDS": "2",
            "EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
            "EMAIL_FILE_PATH": str(self.tmp / "mail"),
            "LOG_LEVEL": "WARNING",
            "PYTHONWARNINGS": "ignore",
            **self.variant.portal,
        }
        self.manage("migrate", "--noinput", "-v0")
        self.manage("shell", "-c", _CREATE_USERS)
        python = sys.executable
        self._spawn(
            "worker",
            [python, "-m", "celery", "-A", "portal", "worker", "--beat", "-Q", "celery,bvnk",
             "--concurrency", "4", "--pool", "threads", "--loglevel", "INFO",
             "--schedule", str(self.tmp / "celerybeat-schedule")],
        )  # fmt: skip
        self._spawn(
            "web",
            [python, "-m", "gunicorn", "portal.wsgi:application", "--bind", f"127.0.0.1:{port}",
             "--workers", "2", "--threads", "4", "--worker-class", "gthread",
             "--log-level", "warning"],
        )  # fmt: skip
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if requests.get(f"{self.portal_url}/healthz", timeout=1).ok:
                    return self
            except requests.RequestException:
                time.sleep(0.2)
        raise RuntimeError(f"the portal did not start; see {self.tmp}/web.log")

    def manage(self, *args: str) -> str:
        result = subprocess.run(
            [sys.executable, "manage.py", *args], cwd=ROOT, env=self.env, capture_output=True,
            text=True, timeout=120,
        )  # fmt: skip
        if result.returncode:
            raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{result.stderr}")
        return result.stdout

    def _spawn(self, name: str, command: list[str]) -> None:
        log = (self.tmp / f"{name}.log").open("wb")
        self.processes[name] = subprocess.Popen(
            command, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT
        )

    def mails(self) -> list[str]:
        folder = self.tmp / "mail"
        return [p.read_text() for p in sorted(folder.glob("*"))] if folder.exists() else []

    def stop(self) -> None:
        for process in self.processes.values():
            process.send_signal(signal.SIGTERM)
        for process in self.processes.values():
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
        if self.emulator:
            self.emulator.stop()
        if self.redis:
            self.redis.stop()
        if self.drop_database:
            url = os.environ["DATABASE_URL"]
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{self.drop_database}" WITH (FORCE)')


_CREATE_USERS = f"""
from django.contrib.auth.models import Group, User
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice
keys = { ({u: otp_key(u) for u in USERS})!r}
codes = { ({u: recovery_codes(u) for u in USERS})!r}
for username, role in {USERS!r}.items():
    user = User.objects.create_user(username, password={PASSWORD!r},
                                    email=username + "@partner.example")
    user.groups.add(Group.objects.get(name=role))
    TOTPDevice.objects.create(user=user, name="app", key=keys[username], confirmed=True)
    recovery = StaticDevice.objects.create(user=user, name="Recovery codes", confirmed=True)
    for code in codes[username]:
        recovery.token_set.create(token=code)
"""


def wait_for(predicate: Any, timeout: float = 30.0, interval: float = 0.25) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)
