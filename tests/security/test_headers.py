"""Security headers on every page, request ids, error pages, CSRF on every form, deploy."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest
from django.test import Client

from portal import security
from tests.test_permissions import concrete, url_patterns

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.django_db


def test_every_page_carries_the_security_headers(client, agent) -> None:
    client.force_login(agent)
    for path in ("/login/", "/customers/", "/customers/new/", "/nowhere/"):
        response = client.get(path)
        policy = response["Content-Security-Policy"]
        directives = dict(part.strip().split(" ", 1) for part in policy.split(";"))
        assert directives["default-src"] == "'self'"
        assert directives["script-src"] == "'self'" and directives["style-src"] == "'self'"
        assert directives["frame-ancestors"] == "'none'"
        assert directives["object-src"] == "'none'"
        assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
        assert response["X-Content-Type-Options"] == "nosniff"
        assert response["Referrer-Policy"] == "same-origin"
        assert response["X-Frame-Options"] == "DENY"
        assert "camera=()" in response["Permissions-Policy"]
        assert "geolocation=()" in response["Permissions-Policy"]


def test_hsts_in_production_settings(settings) -> None:
    # portal/settings.py turns these on unless DEBUG; tests/test_project.py runs the
    # deploy check against a production environment.
    assert settings.SECURE_HSTS_SECONDS >= 31_536_000
    assert settings.SECURE_HSTS_INCLUDE_SUBDOMAINS


@pytest.mark.parametrize("folder", ["templates", "customers/templates"])
def test_templates_have_no_inline_scripts_or_styles(folder) -> None:
    inline = re.compile(r"<script(?![^>]*\bsrc=)|<style|\sstyle=|\son[a-z]+=|javascript:", re.I)
    base = ROOT / folder
    offenders = [
        f"{path.relative_to(ROOT)}: {match.group(0)!r}"
        for path in (base.rglob("*.html") if base.exists() else [])
        for match in inline.finditer(path.read_text())
    ]
    assert offenders == []


def test_a_request_id_is_made_echoed_and_logged(client, caplog) -> None:
    response = client.get("/healthz")
    made = response["X-Request-Id"]
    assert re.fullmatch(r"[0-9a-f]{32}", made)
    passed = client.get("/healthz", headers={"X-Request-Id": "lb-1234-abcd"})
    assert passed["X-Request-Id"] == "lb-1234-abcd"
    forged = client.get("/healthz", headers={"X-Request-Id": "bad id\nwith a newline"})
    assert forged["X-Request-Id"] != "bad id\nwith a newline"
    with caplog.at_level(logging.WARNING):
        client.get("/nowhere/", headers={"X-Request-Id": "trace-me-123"})
    assert any(getattr(r, "request_id", "") == "trace-me-123" for r in caplog.records)


def test_error_pages_are_generic_and_carry_the_request_id(client, rf) -> None:
    page = client.get("/nowhere/", headers={"X-Request-Id": "req-404-abcdef"})
    assert page.status_code == 404
    assert b"req-404-abcdef" in page.content and b"Traceback" not in page.content
    request = rf.get("/")
    request.request_id = "req-500-abcdef"
    error = security.server_error(request)
    assert error.status_code == 500
    assert b"Something went wrong" in error.content and b"req-500-abcdef" in error.content
    from portal import urls

    assert urls.handler500 == "portal.security.server_error"


def test_a_403_explains_and_carries_the_request_id(client, viewer) -> None:
    client.force_login(viewer)
    page = client.get("/customers/new/", headers={"X-Request-Id": "req-403-abcdef"})
    assert page.status_code == 403 and b"req-403-abcdef" in page.content


def test_every_form_needs_its_csrf_token(lead, settings) -> None:
    """POST without a token to every URL of the project: 403, but for BVNK's signed webhook."""
    settings.BVNK_BASE_URL = "http://127.0.0.1:9"
    values = {
        "pk": "1",
        "step": "company",
        "app_label": "customers",
        "url": "x/",
        "object_id": "1",
    }
    exempt = {"bvnk-webhook"}  # signed with BVNK's secret instead (customers/webhooks.py)
    anonymous = Client(enforce_csrf_checks=True)
    staff = Client(enforce_csrf_checks=True)
    staff.force_login(lead)
    problems = []
    routes = list(url_patterns())
    assert len(routes) > 60
    for name, route in routes:
        if name in exempt:
            continue
        path = concrete(route, values)
        for who, client in (("anonymous", anonymous), ("staff", staff)):
            response = client.post(path, {"anything": "1"})
            if response.status_code != 403 or b"CSRF" not in response.content:
                problems.append(f"{who} POST {name} ({path}): {response.status_code}")
    assert problems == []


def test_ci_runs_the_deploy_check_explicitly() -> None:
    ci = (ROOT / ".ci" / "run").read_text()
    assert "check --deploy --fail-level WARNING" in ci


def test_forwarded_proto_is_believed_only_behind_the_tls_proxy(tmp_path) -> None:
    import subprocess
    import sys

    code = (
        "import os; os.environ['DJANGO_SETTINGS_MODULE']='portal.settings'; "
        "from django.conf import settings; print(settings.SECURE_PROXY_SSL_HEADER)"
    )

    def header(**env: str) -> str:
        result = subprocess.run(
            [sys.executable, "-c", code],
            env={"PATH": "/usr/bin", "VAR_DIR": str(tmp_path), **env},
            capture_output=True,
            text=True,
            check=True,
            cwd=ROOT,
        )
        return result.stdout.strip()

    assert header() == "None"
    assert header(BEHIND_TLS_PROXY="true") == "('HTTP_X_FORWARDED_PROTO', 'https')"


def test_a_forged_forwarded_proto_does_not_make_a_request_secure(client) -> None:
    response = client.get("/healthz", HTTP_X_FORWARDED_PROTO="https")
    assert response.wsgi_request.is_secure() is False


def test_the_policy_built_once_follows_the_settings(client, settings) -> None:
    assert "form-action" in client.get("/login/")["Content-Security-Policy"]
    settings.CONTENT_SECURITY_POLICY = {"DIRECTIVES": {"default-src": ["'none'"]}}
    assert client.get("/login/")["Content-Security-Policy"] == "default-src 'none'"
