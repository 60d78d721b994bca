"""The submission pipeline's Celery set-up: at-least-once, its own queue, consumed everywhere."""

from __future__ import annotations

from pathlib import Path

import yaml
from django.core.checks import run_checks

from portal.celery import app

ROOT = Path(__file__).resolve().parents[2]


def test_sends_go_to_the_bvnk_queue_at_least_once() -> None:
    conf = app.conf
    assert conf.task_acks_late and conf.task_reject_on_worker_lost
    assert conf.worker_prefetch_multiplier == 1
    assert conf.task_serializer == "json" and conf.accept_content == ["json"]
    assert conf.task_time_limit > conf.task_soft_time_limit
    route = app.amqp.router.route({}, "customers.tasks.send_bvnk_operation")
    assert route["queue"].name == "bvnk"
    assert {"celery", "bvnk"} <= set(app.amqp.queues)  # a worker without -Q takes both
    schedule = conf.beat_schedule
    assert schedule["sweep-bvnk-operations"]["task"] == "customers.tasks.sweep_bvnk_operations"
    assert schedule["reconcile-customers"]["task"] == "customers.tasks.reconcile_customers"


def test_every_worker_the_project_starts_consumes_the_bvnk_queue() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    worker = compose["services"]["worker"]["command"]
    assert "bvnk" in worker[worker.index("-Q") + 1].split(",")
    assert worker[worker.index("--pool") + 1] == "threads"
    run_dev = (ROOT / "scripts" / "run_dev.py").read_text()
    assert '"celery,bvnk"' in run_dev
    assert "-Q celery,bvnk" in (ROOT / "Makefile").read_text()


def test_timings_must_nest(settings) -> None:
    assert not [e for e in run_checks() if e.id in ("customers.E004", "customers.E005")]
    settings.BVNK_OPERATION_LEASE_SECONDS = 5
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 4}
    ids = {e.id for e in run_checks()}
    assert {"customers.E004", "customers.E005"} <= ids
