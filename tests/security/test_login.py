"""Staff login: one answer for an unknown user and a wrong password, lockout, its cost."""

from __future__ import annotations

import re
import statistics
import time
from typing import Any

import pytest
from django.contrib.auth.backends import ModelBackend
from django.contrib.sessions.models import Session
from django.test import Client

from tests.security.conftest import PASSWORD, password_login

pytestmark = pytest.mark.django_db
_TOKEN = re.compile(rb'name="csrfmiddlewaretoken" value="[^"]+"')


def page_without_tokens(response: Any) -> bytes:
    return _TOKEN.sub(b"", response.content)


def test_an_unknown_user_and_a_wrong_password_get_the_same_page(client, member) -> None:
    unknown = password_login(client, "nobody-by-this-name", "whatever password")
    wrong = password_login(Client(), member.username, "not the password at all")
    assert unknown.status_code == wrong.status_code == 200
    assert b"Please enter a correct username and password" in wrong.content
    assert page_without_tokens(unknown).replace(b"nobody-by-this-name", b"ann") == (
        page_without_tokens(wrong)
    )


def test_a_login_gets_a_new_session_key(client, member) -> None:
    session = client.session
    session["before"] = "login"
    session.save()
    before = session.session_key
    client.cookies["sessionid"] = before
    response = password_login(client, member.username)
    assert response.status_code == 302
    after = client.cookies["sessionid"].value
    assert after != before
    assert not Session.objects.filter(session_key=before).exists()


def test_lockout_after_repeated_failures_even_with_the_right_password(client, member, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert password_login(client, member.username, "wrong password").status_code == 200
    # The failure that reaches the limit already answers with the lockout page.
    assert password_login(client, member.username, "wrong password").status_code == 429
    locked = password_login(client, member.username, PASSWORD)
    assert locked.status_code == 429
    assert b"Too many attempts" in locked.content
    assert "_auth_user_id" not in client.session


def test_unknown_usernames_lock_the_same_way(client, settings) -> None:
    for _ in range(settings.AXES_FAILURE_LIMIT):
        password_login(client, "ghost", "wrong password")
    assert password_login(client, "ghost", "wrong password").status_code == 429


def test_a_locked_attempt_never_reaches_the_password_check(client, member, settings, monkeypatch):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        password_login(client, member.username, "wrong password")
    checked = []
    original = ModelBackend.authenticate

    def counting(self: Any, *args: Any, **kwargs: Any) -> Any:
        checked.append(1)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(ModelBackend, "authenticate", counting)
    assert password_login(client, member.username, PASSWORD).status_code == 429
    assert checked == []


def test_a_locked_attempt_costs_a_small_fraction_of_a_password_check(
    client, member, django_user_model, settings
) -> None:
    for _ in range(settings.AXES_FAILURE_LIMIT):
        password_login(client, member.username, "wrong password")
    # From here on the real (default) hasher: a wrong password for an account that is not
    # locked costs one PBKDF2 computation; a locked attempt must cost almost nothing.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.PBKDF2PasswordHasher"]
    other = django_user_model.objects.create_user(username="bob", password=PASSWORD)

    browser = Client()  # one client: building one loads every middleware (slow)
    password_login(browser, "warm-up", "wrong password")

    def timed(username: str, expected: int) -> float:
        browser.cookies.clear()
        started = time.perf_counter()
        response = password_login(browser, username, "wrong password")
        elapsed = time.perf_counter() - started
        assert response.status_code == expected
        return elapsed

    password_check = statistics.median(timed(other.username, 200) for _ in range(2))
    locked = statistics.median(timed(member.username, 429) for _ in range(5))
    assert locked < 0.05 * password_check, (locked, password_check)
