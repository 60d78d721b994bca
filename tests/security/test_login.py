"""Staff login: one answer for an unknown user and a wrong password, lockout, its cost."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.hashers import PBKDF2PasswordHasher
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


def test_a_locked_attempt_computes_no_password_hash(
    client, member, django_user_model, settings, monkeypatch
) -> None:
    """A lockout costs no key stretching, so hammering a locked account burns no CPU.
    (Counted, not timed: a timing comparison fails whenever the machine is busy.)"""
    for _ in range(settings.AXES_FAILURE_LIMIT):
        password_login(client, member.username, "wrong password")
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.PBKDF2PasswordHasher"]
    other = django_user_model.objects.create_user(username="bob", password=PASSWORD)
    hashed = []
    original = PBKDF2PasswordHasher.encode

    def counting(self: Any, *args: Any, **kwargs: Any) -> Any:
        hashed.append(1)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(PBKDF2PasswordHasher, "encode", counting)
    assert password_login(Client(), other.username, "wrong password").status_code == 200
    assert hashed, "a wrong password for an open account is checked with PBKDF2"
    hashed.clear()
    assert password_login(Client(), member.username, "wrong password").status_code == 429
    assert password_login(Client(), member.username, PASSWORD).status_code == 429
    assert hashed == []
