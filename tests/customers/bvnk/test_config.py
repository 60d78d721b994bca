"""config_from_settings reads Django settings at call time."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured

from customers.bvnk import BvnkConfig, config_from_settings


@pytest.fixture
def bvnk_settings(settings: Any) -> Any:
    settings.BVNK_BASE_URL = "https://api.sandbox.bvnk.com"
    settings.BVNK_HAWK_AUTH_ID = "auth-id"
    settings.BVNK_HAWK_SECRET = "secret"
    settings.BVNK_CONNECT_TIMEOUT = 2
    settings.BVNK_READ_TIMEOUT = "12.5"
    return settings


def test_reads_every_setting(bvnk_settings: Any) -> None:
    assert config_from_settings() == BvnkConfig(
        base_url="https://api.sandbox.bvnk.com",
        auth_id="auth-id",
        secret="secret",
        connect_timeout=2.0,
        read_timeout=12.5,
    )


def test_reads_at_call_time(bvnk_settings: Any) -> None:
    bvnk_settings.BVNK_HAWK_AUTH_ID = "rotated"
    assert config_from_settings().auth_id == "rotated"


def test_timeouts_default_when_absent(bvnk_settings: Any) -> None:
    del bvnk_settings.BVNK_CONNECT_TIMEOUT
    del bvnk_settings.BVNK_READ_TIMEOUT
    config = config_from_settings()
    assert (config.connect_timeout, config.read_timeout) == (5.0, 30.0)


@pytest.mark.parametrize("name", ["BVNK_BASE_URL", "BVNK_HAWK_AUTH_ID", "BVNK_HAWK_SECRET"])
def test_empty_value_names_the_setting(bvnk_settings: Any, name: str) -> None:
    setattr(bvnk_settings, name, "")
    with pytest.raises(ImproperlyConfigured, match=name):
        config_from_settings()


@pytest.mark.parametrize("name", ["BVNK_BASE_URL", "BVNK_HAWK_AUTH_ID", "BVNK_HAWK_SECRET"])
def test_missing_setting_names_the_setting(bvnk_settings: Any, name: str) -> None:
    delattr(bvnk_settings, name)
    with pytest.raises(ImproperlyConfigured, match=name):
        config_from_settings()


@pytest.mark.parametrize("value", ["soon", 0, -1])
def test_bad_timeout_is_improperly_configured(bvnk_settings: Any, value: object) -> None:
    bvnk_settings.BVNK_READ_TIMEOUT = value
    with pytest.raises(ImproperlyConfigured, match="BVNK_READ_TIMEOUT"):
        config_from_settings()
