"""Project-level checks: settings, deploy checks, broker, compose file, documented settings."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import yaml
from django.core.management import call_command

from portal.celery import app as celery_app

ROOT = Path(__file__).resolve().parent.parent
PRODUCTION_ENV = {
    "SECRET_KEY": "k" + uuid.uuid4().hex + uuid.uuid4().hex,
    "ALLOWED_HOSTS": "portal.example.com",
    "BVNK_BASE_URL": "https://api.sandbox.bvnk.com",
    "BVNK_HAWK_AUTH_ID": "vbfc61D890wg6LAAVbkR11qP9O6cXeMNmKWgcUNZaOHPiQeebp9cl6h02tWv84R8",
    "BVNK_HAWK_SECRET": "s" * 64,
    "BVNK_WEBHOOK_SECRET": "w" * 40,
    "FIELD_ENCRYPTION_KEYS": "qbqT1bEr6bVd0ZcE8O7pCj6mU3JQnX0mJq2b3mQ6dXc=",
    "SEARCH_INDEX_KEYS": "i" * 64,
    "CLAMAV_URL": "tcp://clamav:3310",
}


def manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in PRODUCTION_ENV and k != "DEBUG"}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.django_db
def test_system_checks_pass() -> None:
    call_command("check", fail_level="WARNING")


def test_deploy_check_passes_with_production_settings() -> None:
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=PRODUCTION_ENV)
    assert result.returncode == 0, result.stdout + result.stderr


def test_deploy_check_refuses_development_defaults() -> None:
    result = manage("check", "--deploy", env={})
    assert result.returncode != 0
    output = result.stdout + result.stderr
    for check_id in (
        "customers.E001",
        "customers.E002",
        "customers.E012",
        "customers.E018",
        "security.W009",
    ):
        assert check_id in output


def test_settings_only_come_from_the_environment() -> None:
    settings_source = (ROOT / "portal" / "settings.py").read_text()
    names = set(re.findall(r'env\.\w+\(\s*"([A-Z0-9_]+)"', settings_source))
    assert {
        "SECRET_KEY",
        "DEBUG",
        "ALLOWED_HOSTS",
        "DATABASE_URL",
        "CELERY_BROKER_URL",
        "BVNK_BASE_URL",
        "BVNK_HAWK_AUTH_ID",
        "BVNK_HAWK_SECRET",
        "BVNK_WEBHOOK_SECRET",
        "BVNK_WEBHOOK_SIGNATURE",
    } <= names
    example = (ROOT / ".env.example").read_text()
    readme = (ROOT / "README.md").read_text()
    for name in sorted(names):
        assert re.search(rf"^(# )?{name}=", example, re.M), f"{name} missing from .env.example"
        assert f"`{name}`" in readme, f"{name} missing from the README's settings table"


_CONCURRENT_WRITES = """
import threading, time
from django.contrib.sessions.models import Session
from django.db import connection, transaction
from django.utils import timezone

errors = []

def read_then_write(n):
    try:
        with transaction.atomic():
            Session.objects.count()
            time.sleep(0.3)  # both have read before either writes
            Session.objects.create(session_key=f"k{n}", session_data="", expire_date=timezone.now())
    except Exception as exc:
        errors.append(repr(exc))
    finally:
        connection.close()

threads = [threading.Thread(target=read_then_write, args=(n,)) for n in range(4)]
for t in threads: t.start()
for t in threads: t.join()
with connection.cursor() as cursor:
    cursor.execute("PRAGMA journal_mode")
    print(cursor.fetchone()[0], Session.objects.count(), errors)
"""


def test_the_embedded_database_takes_concurrent_writers(tmp_path) -> None:
    """make run's SQLite serves web, worker threads and webhooks at once without
    "database is locked": WAL, and write transactions that wait for the lock."""
    env = {"DEBUG": "true", "DATABASE_URL": f"sqlite:///{tmp_path / 'portal.sqlite3'}"}
    assert manage("migrate", "-v0", env=env).returncode == 0
    result = manage("shell", "-c", _CONCURRENT_WRITES, env=env)
    assert result.stdout.splitlines()[-1] == "wal 4 []", result.stdout + result.stderr


def test_no_atomic_requests(settings) -> None:
    assert not settings.DATABASES["default"].get("ATOMIC_REQUESTS")
    assert settings.DATABASES["default"]["CONN_HEALTH_CHECKS"]


def test_configured_broker_carries_messages() -> None:
    """A message goes through the broker the settings pick (Redis in CI) and comes back."""
    queue_name = f"test-{uuid.uuid4().hex}"
    with celery_app.connection_for_write() as connection:
        connection.ensure_connection(max_retries=3)
        queue = connection.SimpleQueue(queue_name)
        try:
            queue.put({"hello": "broker"})
            message = queue.get(timeout=10)
            assert message.payload == {"hello": "broker"}
            message.ack()
        finally:
            queue.clear()
            queue.close()
    expected = os.environ.get("CELERY_BROKER_URL") or os.environ.get("REDIS_URL")
    if expected:
        assert celery_app.conf.broker_url == expected
    else:
        assert celery_app.conf.broker_url == "filesystem://"


def test_celery_is_configured_for_at_least_once() -> None:
    conf = celery_app.conf
    assert conf.task_acks_late and conf.task_reject_on_worker_lost
    assert conf.worker_prefetch_multiplier == 1
    assert conf.accept_content == ["json"] and conf.task_serializer == "json"
    assert conf.task_time_limit > conf.task_soft_time_limit


def test_compose_file_runs_one_image_as_web_worker_and_beat() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert {"db", "redis", "web", "worker", "beat", "migrate"} <= set(services)
    assert int(services["db"]["image"].split(":")[1]) >= 15
    assert services["redis"]["image"].startswith("redis:")
    images = {services[name]["image"] for name in ("web", "worker", "beat", "migrate")}
    assert images == {"bvnk-partner-portal"}
    assert services["web"]["command"][:2] == ["gunicorn", "portal.wsgi:application"]
    assert services["worker"]["command"][:4] == ["celery", "-A", "portal", "worker"]
    assert services["beat"]["command"][:4] == ["celery", "-A", "portal", "beat"]
    assert services["migrate"]["command"][-2:] == ["migrate", "--noinput"]
    for name in ("web", "worker", "beat"):
        env = services[name]["environment"]
        assert env["DATABASE_URL"].startswith("postgres://") and "@db:" in env["DATABASE_URL"]
        assert env["CELERY_BROKER_URL"].startswith("redis://redis:")
    assert (ROOT / "Dockerfile").exists()


def test_compose_puts_a_tls_proxy_in_front_of_web() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert services["proxy"]["image"].startswith("caddy:")
    assert {"80:80", "443:443"} <= set(services["proxy"]["ports"])
    assert "ports" not in services["web"], "web is reached through the proxy only"
    assert services["web"]["environment"]["BEHIND_TLS_PROXY"] == "true"
    assert all(
        "BEHIND_TLS_PROXY" not in services[name]["environment"] for name in ("worker", "beat")
    )
    caddyfile = (ROOT / "deploy" / "Caddyfile").read_text()
    assert "reverse_proxy web:8000" in caddyfile


def test_ci_runs_the_readme_test_command() -> None:
    ci = (ROOT / ".ci" / "run").read_text()
    assert "make test" in ci
    assert "make test" in (ROOT / "README.md").read_text()
