"""Identifiers and timestamps in BVNK's formats."""

from __future__ import annotations

import datetime as dt
import secrets
import threading
import time
import uuid

_lock = threading.Lock()
_last_ms = 0
_counter = 0


def uuid7() -> str:
    """Return a time-ordered UUIDv7 string, monotonic within this process."""
    global _last_ms, _counter
    with _lock:
        now_ms = time.time_ns() // 1_000_000
        if now_ms <= _last_ms:
            # Same millisecond (or clock stepped back): bump the 12-bit counter instead.
            _counter += 1
            if _counter > 0xFFF:
                _last_ms += 1
                _counter = 0
            now_ms = _last_ms
        else:
            _last_ms = now_ms
            _counter = secrets.randbits(8)
        counter = _counter
    value = (now_ms & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76
    value |= counter << 64
    value |= 0b10 << 62
    value |= secrets.randbits(62)
    return str(uuid.UUID(int=value))


def new_reference() -> str:
    """Return a random UUID4 reference."""
    return str(uuid.uuid4())


def iso_now() -> str:
    """Return the current UTC time as ISO-8601 with nine fractional digits and Z."""
    return iso_from_ns(time.time_ns())


def iso_from_ns(ns: int) -> str:
    """Format nanoseconds since the epoch like BVNK does."""
    seconds, fraction = divmod(ns, 1_000_000_000)
    stamp = dt.datetime.fromtimestamp(seconds, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{stamp}.{fraction:09d}Z"


def iso_in(seconds: float) -> str:
    """Return the UTC time `seconds` from now in the same format."""
    return iso_from_ns(time.time_ns() + int(seconds * 1_000_000_000))
