"""Sessions: cookie flags, idle and absolute timeouts, logout and deactivation end them."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.contrib.sessions.models import Session
from django.test import Client

from tests.security.conftest import password_login

pytestmark = pytest.mark.django_db
START = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


def session_key(client: Client) -> str:
    return client.cookies["sessionid"].value


def is_logged_in(client: Client) -> bool:
    response = client.get("/customers/")
    return response.status_code == 200


def test_cookie_flags(client, member, settings) -> None:
    settings.SESSION_COOKIE_SECURE = True
    password_login(client, member.username)
    cookie = client.cookies["sessionid"]
    assert cookie["httponly"] and cookie["secure"] and cookie["samesite"] == "Lax"
    assert int(cookie["max-age"]) == settings.SESSION_COOKIE_AGE == 12 * 3600


def test_idle_timeout(client, member, settings) -> None:
    assert settings.SESSION_IDLE_SECONDS == 30 * 60
    with time_machine.travel(START, tick=False) as clock:
        password_login(client, member.username)
        clock.shift(dt.timedelta(minutes=29))
        assert is_logged_in(client)  # activity moves the idle limit on
        clock.shift(dt.timedelta(minutes=29))
        assert is_logged_in(client)
        key = session_key(client)
        clock.shift(dt.timedelta(minutes=31))
        response = client.get("/customers/")
        assert response.status_code == 302 and response["Location"].startswith("/login/")
        assert not Session.objects.filter(session_key=key).exists()
        page = client.get(response["Location"]).content.decode()
        assert "logged out after a period of inactivity" in page


def test_a_page_refreshing_itself_is_not_activity(client, member) -> None:
    with time_machine.travel(START, tick=False) as clock:
        password_login(client, member.username)
        for _ in range(7):  # My customers left open: it refreshes itself for 35 minutes
            clock.shift(dt.timedelta(minutes=5))
            refresh = client.get("/customers/", headers={"X-Portal-Live": "1"})
            if refresh.status_code != 200:
                break
        assert refresh.status_code == 302 and refresh["Location"].startswith("/login/")
        page = client.get(refresh["Location"]).content.decode()
        assert "logged out after a period of inactivity" in page


def test_absolute_lifetime_whatever_the_activity(client, member) -> None:
    with time_machine.travel(START, tick=False) as clock:
        password_login(client, member.username)
        for _ in range(35):  # 11 h 40 min of steady work
            clock.shift(dt.timedelta(minutes=20))
            assert is_logged_in(client)
        clock.shift(dt.timedelta(minutes=21))
        assert not is_logged_in(client)


def test_logout_ends_the_session_on_the_server(client, member) -> None:
    password_login(client, member.username)
    key = session_key(client)
    assert Session.objects.filter(session_key=key).exists()
    client.post("/logout/")
    assert not Session.objects.filter(session_key=key).exists()
    # The old cookie is worth nothing now.
    replay = Client()
    replay.cookies["sessionid"] = key
    assert not is_logged_in(replay)


def test_deactivating_a_user_ends_all_their_sessions(member, agent) -> None:
    laptop, phone, colleague = Client(), Client(), Client()
    password_login(laptop, member.username)
    password_login(phone, member.username)
    colleague.force_login(agent)
    keys = [session_key(laptop), session_key(phone)]
    member.is_active = False
    member.save()
    assert not Session.objects.filter(session_key__in=keys).exists()
    assert not is_logged_in(laptop) and not is_logged_in(phone)
    assert is_logged_in(colleague)
