from __future__ import annotations

import socket

import pytest

from portal.celery import app as celery_app


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_liveness_needs_nothing(client) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}
    assert "no-cache" in response["Cache-Control"]


@pytest.mark.django_db
def test_ready_when_database_broker_and_bvnk_are(client) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200, response.json()
    assert response.json()["checks"] == {"database": "ok", "broker": "ok", "bvnk": "ok"}


@pytest.mark.django_db
def test_not_ready_without_a_broker(client, monkeypatch) -> None:
    monkeypatch.setattr(celery_app.conf, "broker_write_url", f"redis://127.0.0.1:{closed_port()}/0")
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["broker"] == "unreachable"


@pytest.mark.django_db
def test_not_ready_without_bvnk_credentials(client, settings) -> None:
    settings.BVNK_HAWK_SECRET = ""
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["bvnk"] == "not configured"


def test_probes_are_not_redirected_to_https(client, settings) -> None:
    settings.SECURE_SSL_REDIRECT = True
    assert client.get("/healthz").status_code == 200
    assert client.get("/customers/").status_code == 301
