"""Webhook signing and delivery (retried, unordered, as BVNK does) from a persisted outbox."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import threading
import time
from typing import Any
from urllib.parse import urlsplit

import requests

from bvnk_emulator.config import EmulatorConfig
from bvnk_emulator.ids import iso_from_ns, iso_now, uuid7
from bvnk_emulator.store import Row, Store

log = logging.getLogger(__name__)

EVENT_STATUS = "bvnk:platform:customer:status-change"
EVENT_LEGACY_STATUS = "bvnk:customers:status-change"
EVENT_UPDATE = "bvnk:platform:customer:update"
EVENT_SESSION = "bvnk:platform:customer:agreement-session-status-change"
EVENT_DOCUMENT = "bvnk:platform:customer:document-status-change"

CONTENT_TYPE = "application/json"
HOLD_FLAG = "webhooks_held"

# Outbox statuses.
HELD = "HELD"
QUEUED = "QUEUED"
SENDING = "SENDING"
DELIVERED = "DELIVERED"
FAILED = "FAILED"
SKIPPED = "SKIPPED"


def serialize(envelope: dict[str, Any]) -> str:
    """Serialize compactly, as BVNK does; the exact bytes are what gets signed."""
    return json.dumps(envelope, separators=(",", ":"), ensure_ascii=False)


def sign_a(secret: str, body: bytes) -> str:
    """Variant A: Base64 HMAC-SHA256 over the raw body."""
    digest = hmac.new(secret.encode(), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def sign_b(secret: str, url: str, content_type: str, body: bytes) -> str:
    """Variant B ("Standard"): hex HMAC-SHA256 over URL + Content-Type + body."""
    message = url.encode() + content_type.encode() + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signature_for(config: EmulatorConfig, url: str, body: bytes) -> str:
    """Return the X-Signature value for a delivery under the configured variant."""
    if config.webhook_signature == "B":
        signed_url = urlsplit(url).path if config.webhook_signature_url == "path" else url
        return sign_b(config.webhook_secret, signed_url, CONTENT_TYPE, body)
    return sign_a(config.webhook_secret, body)


class Outbox:
    """Queue events durably and hand them to the dispatcher thread."""

    def __init__(self, config: EmulatorConfig, store: Store) -> None:
        self.config = config
        self.store = store
        self.wake = threading.Event()

    def enqueue(
        self,
        event: str,
        data: dict[str, Any],
        *,
        customer_reference: str | None = None,
        event_id: str | None = None,
        timestamp: str | None = None,
        bare: bool = False,
    ) -> Row:
        """Store a new event for delivery (or hold it when held); a `bare` envelope
        carries only `event` and `data`."""
        envelope: dict[str, Any] = {
            "event": event,
            "eventId": event_id or uuid7(),
            "timestamp": timestamp or iso_now(),
            "data": data,
        }
        body = {"event": event, "data": data} if bare else envelope
        with self.store.transaction():
            if self.store.flag(HOLD_FLAG):
                status = HELD
            else:
                status = QUEUED if self.config.webhook_url else SKIPPED
            row = {
                "event_id": envelope["eventId"],
                "event": event,
                "customer_reference": customer_reference,
                "body": serialize(body),
                "status": status,
                "next_attempt_at": time.time() if status == QUEUED else None,
                "created_at": iso_now(),
            }
            row["id"] = self.store.insert("deliveries", row)
        self.wake.set()
        return row

    def hold(self) -> None:
        """Queue new events without sending them until release()."""
        self.store.set_flag(HOLD_FLAG, "1")

    def release(self, *, order: str = "fifo", duplicate: int = 0) -> int:
        """Send held events in the given order, each followed by `duplicate` copies."""
        with self.store.transaction():
            self.store.set_flag(HOLD_FLAG, None)
            direction = "DESC" if order == "reverse" else "ASC"
            held = self.store.query(
                f"SELECT * FROM deliveries WHERE status = ? ORDER BY id {direction}",  # noqa: S608
                (HELD,),
            )
            now = time.time()
            position = 0
            status = QUEUED if self.config.webhook_url else SKIPPED
            for row in held:
                position += 1
                self.store.update(
                    "deliveries",
                    "id",
                    row["id"],
                    status=status,
                    next_attempt_at=now,
                    order_key=position,
                )
                for _ in range(duplicate):
                    position += 1
                    self._copy(row, next_attempt_at=now, order_key=position)
        self.wake.set()
        return len(held)

    def resend(self, delivery_id: int) -> Row | None:
        """Send a delivered (or failed) event again: same eventId and body."""
        with self.store.transaction():
            row = self.store.get("deliveries", "id", delivery_id)
            if row is None:
                return None
            copy = self._copy(row, next_attempt_at=time.time(), order_key=0)
        self.wake.set()
        return copy

    def _copy(self, row: Row, *, next_attempt_at: float, order_key: int) -> Row:
        copy = {
            "event_id": row["event_id"],
            "event": row["event"],
            "customer_reference": row["customer_reference"],
            "body": row["body"],
            "status": QUEUED if self.config.webhook_url else SKIPPED,
            "next_attempt_at": next_attempt_at,
            "order_key": order_key,
            "duplicate_of": row["duplicate_of"] or row["id"],
            "created_at": iso_now(),
        }
        copy["id"] = self.store.insert("deliveries", copy)
        return copy

    def listing(self, *, limit: int = 500, event: str | None = None) -> list[dict[str, Any]]:
        """Return recent deliveries, newest first, each with its attempt log."""
        where: str = ""
        params: list[Any] = [limit]
        if event:
            where, params = "WHERE event = ?", [event, limit]
        rows = self.store.query(
            f"SELECT * FROM deliveries {where} ORDER BY id DESC LIMIT ?",  # noqa: S608
            params,
        )
        attempts: dict[int, list[dict[str, Any]]] = {}
        if rows:
            marks = ", ".join("?" for _ in rows)
            for attempt in self.store.query(
                f"SELECT * FROM delivery_attempts WHERE delivery_id IN ({marks}) "  # noqa: S608
                "ORDER BY id",
                [row["id"] for row in rows],
            ):
                attempts.setdefault(attempt["delivery_id"], []).append(
                    {
                        "attempt": attempt["attempt"],
                        "url": attempt["url"],
                        "startedAt": attempt["started_at"],
                        "durationMs": round(attempt["duration_ms"], 1),
                        "statusCode": attempt["status_code"],
                        "error": attempt["error"],
                    }
                )
        return [
            {
                "id": row["id"],
                "event": row["event"],
                "eventId": row["event_id"],
                "customerReference": row["customer_reference"],
                "status": row["status"],
                "attempts": row["attempts"],
                "lastStatus": row["last_status"],
                "lastAttemptAt": row["last_attempt_at"],
                "nextAttemptAt": _iso_or_none(row["next_attempt_at"])
                if row["status"] == QUEUED
                else None,
                "duplicateOf": row["duplicate_of"],
                "createdAt": row["created_at"],
                "body": row["body"],
                "attemptLog": attempts.get(row["id"], []),
            }
            for row in rows
        ]


class Dispatcher(threading.Thread):
    """Deliver due outbox rows one at a time, retrying with capped exponential backoff."""

    def __init__(self, config: EmulatorConfig, store: Store, outbox: Outbox) -> None:
        super().__init__(name="bvnk-emulator-webhooks", daemon=True)
        self.config = config
        self.store = store
        self.outbox = outbox
        self.stopping = threading.Event()
        self.http = requests.Session()

    def run(self) -> None:
        """Loop until stopped: claim the next due delivery and send it."""
        # A crash mid-send leaves SENDING rows; they were not confirmed, so send again.
        self.store.execute("UPDATE deliveries SET status = ? WHERE status = ?", (QUEUED, SENDING))
        while not self.stopping.is_set():
            self.outbox.wake.clear()
            try:
                row = self._claim()
                if row is not None:
                    self._deliver(row)
                    continue
                self.outbox.wake.wait(self._idle_seconds())
            except Exception:  # keep the thread alive whatever one delivery does
                log.exception("Webhook dispatcher error")
                self.stopping.wait(0.5)

    def stop(self) -> None:
        """Ask the thread to finish."""
        self.stopping.set()
        self.outbox.wake.set()

    def _claim(self) -> Row | None:
        with self.store.transaction():
            row = self.store.one(
                "SELECT * FROM deliveries WHERE status = ? AND next_attempt_at <= ? "
                "ORDER BY next_attempt_at, order_key, id LIMIT 1",
                (QUEUED, time.time()),
            )
            if row is not None:
                self.store.update("deliveries", "id", row["id"], status=SENDING)
        return row

    def _idle_seconds(self) -> float:
        row = self.store.one(
            "SELECT MIN(next_attempt_at) AS due FROM deliveries WHERE status = ?", (QUEUED,)
        )
        if row is None or row["due"] is None:
            return 1.0
        return max(0.0, min(1.0, row["due"] - time.time()))

    def _deliver(self, row: Row) -> None:
        url = self.config.webhook_url
        if not url:
            self.store.update("deliveries", "id", row["id"], status=SKIPPED)
            return
        body = row["body"].encode()
        headers = {
            "Content-Type": CONTENT_TYPE,
            "X-Signature": signature_for(self.config, url, body),
            "User-Agent": "bvnk-emulator-webhooks/1.0",
        }
        started_ns = time.time_ns()
        started = time.monotonic()
        status_code: int | None = None
        error: str | None = None
        try:
            response = self.http.post(
                url,
                data=body,
                headers=headers,
                timeout=self.config.webhook_timeout,
                allow_redirects=False,
            )
            status_code = response.status_code
            response.close()
        except requests.RequestException as exc:
            error = f"{type(exc).__name__}: {exc}"[:500]
        duration_ms = (time.monotonic() - started) * 1000
        self._record(row, url, started_ns, duration_ms, status_code, error)

    def _record(
        self,
        row: Row,
        url: str,
        started_ns: int,
        duration_ms: float,
        status_code: int | None,
        error: str | None,
    ) -> None:
        with self.store.transaction():
            current = self.store.get("deliveries", "id", row["id"])
            if current is None or current["status"] != SENDING:
                return  # wiped by a reset while in flight
            attempts = current["attempts"] + 1
            self.store.insert(
                "delivery_attempts",
                {
                    "delivery_id": row["id"],
                    "attempt": attempts,
                    "url": url,
                    "started_at": iso_from_ns(started_ns),
                    "duration_ms": duration_ms,
                    "status_code": status_code,
                    "error": error,
                },
            )
            fields: dict[str, Any] = {
                "attempts": attempts,
                "last_status": str(status_code) if status_code is not None else error,
                "last_attempt_at": iso_from_ns(started_ns),
            }
            if status_code is not None and 200 <= status_code < 300:
                fields.update(status=DELIVERED, next_attempt_at=None)
            elif attempts >= self.config.webhook_attempts:
                fields.update(status=FAILED, next_attempt_at=None)
            else:
                delay = min(
                    self.config.webhook_retry_base * 2 ** (attempts - 1),
                    self.config.webhook_retry_cap,
                )
                fields.update(status=QUEUED, next_attempt_at=time.time() + delay)
            self.store.update("deliveries", "id", row["id"], **fields)


def _iso_or_none(seconds: float | None) -> str | None:
    return None if seconds is None else iso_from_ns(int(seconds * 1_000_000_000))
