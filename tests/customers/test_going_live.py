"""Going live against BVNK itself: the reference lists at BVNK's documented paths, the
read-only connection check, and what refused webhooks say about BVNK's signing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from django.core.cache import cache
from django.core.management import CommandError, call_command
from django.urls import reverse

from customers.models import Customer, WebhookRejection
from tests.customers.webhooks_support import SECRET, deliver, sign
from tests.customers.webhooks_support import status_event as make_status_event

pytestmark = pytest.mark.django_db

FIXTURES = Path(__file__).parents[1] / "fixtures" / "bvnk"
FOOD = "30ea15fc-06d8-11ef-b6e1-027612b7f6b5"


@pytest.fixture(autouse=True)
def no_cached_lists() -> None:
    cache.clear()


def test_company_details_offer_the_sub_industries_of_a_bvnk_shaped_stand_in(
    client: Any, agent: Any, settings: Any, httpserver: Any
) -> None:
    """A server answering only where and how BVNK documents its reference lists."""
    settings.BVNK_BASE_URL = httpserver.url_for("/").rstrip("/")
    settings.BVNK_HAWK_AUTH_ID, settings.BVNK_HAWK_SECRET = "id", "secret"
    industries = json.loads((FIXTURES / "industries.json").read_text())
    httpserver.expect_request("/platform/v1/accounts/industries").respond_with_json(industries)
    httpserver.expect_request("/platform/v1/accounts/monthly-expected-volumes").respond_with_json(
        [{"reference": "ef779c41-547e-11ef-8b9c-027612b7f6b5", "name": "Up to 50,000 USD"}]
    )
    customer = Customer.objects.create(type="COMPANY")
    client.force_login(agent)
    html = client.get(reverse("customers:onboarding-step", args=[customer.pk, "company"]))
    page = html.content.decode()
    assert "could not be loaded" not in page
    assert '<optgroup label="Retail and consumer goods">' in page
    assert f'<option value="{FOOD}">Food/Beverages</option>' in page
    paths = [request.path for request, _ in httpserver.log]
    assert sorted(set(paths)) == [
        "/platform/v1/accounts/industries",
        "/platform/v1/accounts/monthly-expected-volumes",
    ]


def test_bvnk_check_against_the_emulator_reports_every_call_ok(bvnk_emulator, capsys) -> None:
    call_command("bvnk_check")
    out = capsys.readouterr().out
    assert out.count("OK   ") == 4 and "FAIL" not in out
    assert "Industries (/platform/v1/accounts/industries)" in out
    requests = bvnk_emulator.requests_log()
    assert requests and all(r["method"] == "GET" for r in requests[-4:])  # it never writes


def test_bvnk_check_with_a_wrong_secret_reports_401_and_the_clock(
    bvnk_emulator, settings, capsys
) -> None:
    settings.BVNK_HAWK_SECRET = "not-the-secret"
    with pytest.raises(CommandError):
        call_command("bvnk_check")
    out = capsys.readouterr().out
    assert out.count("FAIL") == 4
    assert "BVNK refused the credentials (401)" in out
    assert "BVNK's clock is" in out and "check BVNK_HAWK_AUTH_ID and BVNK_HAWK_SECRET" in out


def test_bvnk_check_names_the_path_bvnk_does_not_serve(
    settings: Any, httpserver: Any, capsys: Any
) -> None:
    settings.BVNK_BASE_URL = httpserver.url_for("/").rstrip("/")
    settings.BVNK_HAWK_AUTH_ID, settings.BVNK_HAWK_SECRET = "id", "secret"
    httpserver.expect_request("/platform/v1/customers").respond_with_json({"content": []})
    httpserver.expect_request("/platform/v1/accounts/industries").respond_with_json([])
    httpserver.expect_request("/platform/v1/accounts/monthly-expected-volumes").respond_with_json(
        {"message": "Not found"}, status=404
    )
    httpserver.expect_request("/platform/v2/customers").respond_with_json({"content": []})
    with pytest.raises(CommandError):
        call_command("bvnk_check")
    out = capsys.readouterr().out
    assert "Not found (404) at /platform/v1/accounts/monthly-expected-volumes" in out
    assert out.count("OK   ") == 3


# -- which signing scheme a refused delivery would have matched ---------------------------


@pytest.fixture
def webhook_settings(settings: Any) -> Any:
    settings.BVNK_WEBHOOK_SECRET = SECRET
    settings.BVNK_WEBHOOK_SIGNATURE = "A"
    settings.BVNK_WEBHOOK_SIGNATURE_URL = "full"
    settings.BVNK_WEBHOOK_URL = ""
    settings.BVNK_WEBHOOK_SECRET_PREVIOUS = ""
    settings.BVNK_WEBHOOK_SECRET_PREVIOUS_UNTIL = ""
    settings.BVNK_WEBHOOK_ENQUEUE = False
    return settings


def sign_b(body: bytes, url: str, secret: str = SECRET) -> str:
    import hashlib
    import hmac

    message = url.encode() + b"application/json" + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


@pytest.mark.parametrize(
    ("configured", "signing", "scheme", "advice"),
    [
        (("A", "full"), "B_PATH", "B_PATH", "set BVNK_WEBHOOK_SIGNATURE=B and "
         "BVNK_WEBHOOK_SIGNATURE_URL=path"),
        (("A", "full"), "B_FULL", "B_FULL", "BVNK_WEBHOOK_SIGNATURE_URL=full"),
        (("B", "path"), "A", "A", "set BVNK_WEBHOOK_SIGNATURE=A."),
        (("A", "full"), "PREVIOUS", "PREVIOUS", "still signs with the previous webhook secret"),
    ],
)  # fmt: skip
def test_a_refused_delivery_records_the_scheme_that_would_have_matched(
    client: Any, lead: Any, webhook_settings: Any, configured, signing, scheme, advice
) -> None:
    webhook_settings.BVNK_WEBHOOK_SIGNATURE, webhook_settings.BVNK_WEBHOOK_SIGNATURE_URL = (
        configured
    )
    # An old secret whose overlap ended: still refused, but recognised.
    webhook_settings.BVNK_WEBHOOK_SECRET_PREVIOUS = "whsec_old"
    webhook_settings.BVNK_WEBHOOK_SECRET_PREVIOUS_UNTIL = "2020-01-01T00:00:00Z"
    body = make_status_event("2a9c8a29-5030-456d-87c2-7f6cc2ee6bf3", "VERIFIED")
    url = "http://testserver/webhooks/bvnk/"
    signature = {
        "A": sign(body),
        "B_FULL": sign_b(body, url),
        "B_PATH": sign_b(body, "/webhooks/bvnk/"),
        "PREVIOUS": sign(body, "whsec_old"),
    }[signing]
    assert deliver(client, body, signature=signature).status_code == 401  # still refused
    (row,) = WebhookRejection.objects.all()
    assert (row.reason, row.matching_scheme) == ("INVALID", scheme)
    client.force_login(lead)
    page = client.get(reverse("customers:bvnk_connection")).content.decode()
    assert advice in page


def test_a_forged_delivery_matches_no_scheme(client: Any, lead: Any, webhook_settings: Any) -> None:
    body = make_status_event("2a9c8a29-5030-456d-87c2-7f6cc2ee6bf3", "VERIFIED")
    assert deliver(client, body, signature=sign(body, "whsec_forger")).status_code == 401
    (row,) = WebhookRejection.objects.all()
    assert row.matching_scheme == ""
    client.force_login(lead)
    page = client.get(reverse("customers:bvnk_connection")).content.decode()
    assert "No refused delivery in the last two weeks was signed another way" in page


def test_the_panel_runs_the_check_for_a_lead_only(
    client: Any, lead: Any, agent: Any, bvnk_emulator
) -> None:
    url = reverse("customers:bvnk_connection")
    client.force_login(agent)
    assert client.get(url).status_code == 403
    client.force_login(lead)
    page = client.post(url).content.decode()
    assert page.count(">Works<") == 4 and ">Fails<" not in page
    assert "changes nothing at BVNK" in page
