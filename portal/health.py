"""Probes for the container platform: liveness and readiness. No login, no personal data."""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured
from django.db import DatabaseError, connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from customers.bvnk.client import config_from_settings

from .celery import app as celery_app


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """Answer while the process serves requests; touches nothing else."""
    return JsonResponse({"status": "ok"})


@never_cache
@require_GET
def readyz(request: HttpRequest) -> JsonResponse:
    """Answer 200 only when the database, the broker and the BVNK settings are usable."""
    checks = {"database": _database(), "broker": _broker(), "bvnk": _bvnk()}
    ready = all(value == "ok" for value in checks.values())
    return JsonResponse(
        {"status": "ok" if ready else "unavailable", "checks": checks},
        status=200 if ready else 503,
    )


def _database() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError:
        return "unreachable"
    return "ok"


def _broker() -> str:
    try:
        with celery_app.connection_for_write() as conn:
            # One quick attempt: a probe must answer well within the platform's timeout.
            conn.ensure_connection(max_retries=1, interval_start=0, timeout=2)
    except Exception:  # any failure means "not ready"
        return "unreachable"
    return "ok"


def _bvnk() -> str:
    try:
        config_from_settings()
    except ImproperlyConfigured:
        return "not configured"
    return "ok"
