"""Fixtures for the BVNK client tests."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from customers.bvnk import BvnkClient, BvnkConfig, CallRecord, idempotency_key


def fresh_key() -> str:
    """Return a key for a one-off logical action."""
    return idempotency_key("test", str(uuid.uuid4()))


@pytest.fixture
def call_records() -> list[CallRecord]:
    return []


@pytest.fixture
def live_client(emulator_reset: Any, call_records: list[CallRecord]) -> Iterator[BvnkClient]:
    """Return a client pointed at a freshly reset emulator."""
    config = BvnkConfig(
        base_url=emulator_reset.url,
        auth_id=emulator_reset.auth_id,
        secret=emulator_reset.secret,
        connect_timeout=2.0,
        read_timeout=10.0,
    )
    with BvnkClient(config, observer=call_records.append) as client:
        yield client
