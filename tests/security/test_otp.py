"""The second factor: enrolment by QR code, verification, recovery codes, portal and admin."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client
from django_otp.oath import TOTP
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from customers.models import AuditEvent
from tests.security.conftest import password_login

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _otp_required(settings: Any) -> None:
    settings.OTP_REQUIRED = True


def code(device: TOTPDevice) -> str:
    """What the user's authenticator app shows now."""
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    return f"{totp.token():06d}"


def enrolled(user: Any) -> TOTPDevice:
    return TOTPDevice.objects.create(user=user, name="app", confirmed=True)


def test_a_password_alone_opens_no_page(client, member) -> None:
    enrolled(member)
    response = password_login(client, member.username)
    assert response.status_code == 302
    page = client.get("/customers/")
    assert page.status_code == 302
    assert page["Location"] == "/account/2fa/verify/?next=/customers/"
    assert client.get("/customers/1/").status_code == 302


def test_enrolment_shows_a_qr_code_then_recovery_codes(client, member) -> None:
    password_login(client, member.username)
    assert client.get("/customers/")["Location"].startswith("/account/2fa/setup/")
    page = client.get("/account/2fa/setup/")
    html = page.content.decode()
    assert '<svg role="img" aria-label="QR code"' in html
    assert "otpauth://totp/BVNK%20partner%20portal%3Aann?secret=" in html
    device = TOTPDevice.objects.get(user=member, confirmed=False)
    secret = re.search(r'id="otp-secret">([A-Z2-7 ]+)<', html).group(1).replace(" ", "")
    assert secret  # the key to type in when the camera cannot scan
    assert b"not right" in client.post("/account/2fa/setup/", {"token": "000000"}).content
    TOTPDevice.objects.filter(pk=device.pk).update(throttling_failure_timestamp=None)
    done = client.post("/account/2fa/setup/", {"token": code(device)})
    assert done.status_code == 200
    codes = re.findall(r"<li>([a-z2-7]{8})</li>", done.content.decode())
    assert len(codes) == 10
    assert client.get("/customers/").status_code == 200
    device.refresh_from_db()
    assert device.confirmed
    assert AuditEvent.objects.filter(actor=member, summary__contains="Enrolled").exists()


def test_a_verified_session_gets_a_new_key_and_reaches_its_page(client, member) -> None:
    device = enrolled(member)
    password_login(client, member.username)
    before = client.cookies["sessionid"].value
    wrong = client.post("/account/2fa/verify/?next=/customers/", {"token": "123456"})
    assert b"That code is not right" in wrong.content
    # The wrong code made the device wait before the next try (django-otp's throttling).
    TOTPDevice.objects.filter(pk=device.pk).update(throttling_failure_timestamp=None)
    response = client.post("/account/2fa/verify/", {"token": code(device), "next": "/customers/"})
    assert response.status_code == 302 and response["Location"] == "/customers/"
    assert client.cookies["sessionid"].value != before
    assert client.get("/customers/").status_code == 200


def test_a_recovery_code_works_once(client, member) -> None:
    enrolled(member)
    recovery = StaticDevice.objects.create(user=member, name="Recovery codes")
    StaticToken.objects.create(device=recovery, token="abcd2345")
    password_login(client, member.username)
    assert client.post("/account/2fa/verify/", {"token": "ABCD 2345"}).status_code == 302
    assert client.get("/customers/").status_code == 200
    other = Client()
    password_login(other, member.username)
    assert b"not right" in other.post("/account/2fa/verify/", {"token": "abcd2345"}).content


def test_an_open_redirect_is_refused(client, member) -> None:
    device = enrolled(member)
    password_login(client, member.username)
    response = client.post(
        "/account/2fa/verify/", {"token": code(device), "next": "https://evil.example/"}
    )
    assert response["Location"] == "/"


def test_the_admin_needs_the_second_factor_too(client, lead) -> None:
    lead.set_password("lead password 123")
    lead.save()
    device = enrolled(lead)
    assert client.get("/admin/login/")["Location"] == "/login/"
    password_login(client, lead.username, "lead password 123")
    refused = client.get("/admin/")
    assert refused.status_code == 302 and refused["Location"].startswith("/account/2fa/verify/")
    client.post("/account/2fa/verify/", {"token": code(device)})
    assert client.get("/admin/").status_code == 200
    # The admin lists devices but never shows their secrets.
    config = client.get(f"/admin/otp_totp/totpdevice/{device.pk}/config/")
    assert config.status_code == 403


def test_the_demo_can_turn_it_off(client, member, settings) -> None:
    settings.OTP_REQUIRED = False
    password_login(client, member.username)
    assert client.get("/customers/").status_code == 200
