"""Environment parsing of EmulatorConfig."""

from __future__ import annotations

from pathlib import Path

import pytest

from bvnk_emulator.config import ConfigError, EmulatorConfig


def test_defaults() -> None:
    config = EmulatorConfig.from_env({})
    assert config.hawk_auth_id == "emulator-hawk-id"
    assert config.webhook_signature == "A" and config.webhook_signature_url == "full"
    assert config.webhook_url == "http://127.0.0.1:8000/webhooks/bvnk/"
    assert config.data_path == Path("var/bvnk-emulator.sqlite3")
    assert (config.review_seconds, config.webhook_retry_base, config.webhook_retry_cap) == (
        10,
        5,
        900,
    )
    assert (config.webhook_attempts, config.webhook_timeout, config.latency_ms) == (100, 10, 0)
    assert config.legacy_status_events and config.agreement_status_param == "status"
    assert config.public_url == "http://127.0.0.1:8001"


def test_fast_mode_defaults_yield_to_explicit_values() -> None:
    fast = EmulatorConfig.from_env({"BVNK_EMULATOR_FAST": "1"})
    assert (fast.webhook_retry_base, fast.webhook_retry_cap, fast.review_seconds) == (0.05, 1, 0.2)
    explicit = EmulatorConfig.from_env(
        {"BVNK_EMULATOR_FAST": "1", "BVNK_EMULATOR_REVIEW_SECONDS": "3"}
    )
    assert explicit.review_seconds == 3


def test_public_url_for_a_wildcard_host() -> None:
    wildcard = "0.0.0.0"  # noqa: S104 (parsed only; nothing binds here)
    config = EmulatorConfig.from_env({}, host=wildcard, port=9000)
    assert config.public_url == "http://127.0.0.1:9000"
    custom = EmulatorConfig.from_env({"BVNK_EMULATOR_PUBLIC_URL": "http://emulator:8001/"})
    assert custom.public_url == "http://emulator:8001"


@pytest.mark.parametrize(
    "env",
    [
        {"BVNK_WEBHOOK_SIGNATURE": "C"},
        {"BVNK_WEBHOOK_SIGNATURE_URL": "host"},
        {"BVNK_EMULATOR_REVIEW_SECONDS": "soon"},
        {"BVNK_EMULATOR_WEBHOOK_ATTEMPTS": "0"},
        {"BVNK_EMULATOR_FAST": "maybe"},
    ],
)
def test_invalid_values_are_refused(env: dict[str, str]) -> None:
    with pytest.raises(ConfigError):
        EmulatorConfig.from_env(env)
