"""Fault injection, added latency and the request log for /platform calls.

This is WSGI middleware rather than Flask hooks because "drop" must close the TCP
connection before any HTTP response exists, and "slow_response" must delay a response
the application has already produced.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from http import HTTPStatus
from typing import Any

from bvnk_emulator.errors import envelope
from bvnk_emulator.ids import iso_now

PLATFORM_PREFIXES = ("/platform/", "/api/platform/", "/ledger/")
FAULT_MODES = ("500", "429", "404", "slow", "slow_response", "drop")

StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


def is_platform(path: str) -> bool:
    """Return whether a path is part of the BVNK API surface."""
    return path.startswith(PLATFORM_PREFIXES)


def _canonical_path(path: str) -> str:
    return path[len("/api") :] if path.startswith("/api/platform/") else path


@dataclass
class Fault:
    """One fault rule: answer the next `count` matching calls in `mode`."""

    mode: str
    count: int = 1
    retryAfter: float = 1.0  # the JSON field name
    delay: float = 1.0
    method: str | None = None
    path: str | None = None

    def matches(self, method: str, path: str) -> bool:
        """Return whether this rule applies to a request."""
        if self.method and self.method.upper() != method.upper():
            return False
        return not self.path or _canonical_path(path).startswith(_canonical_path(self.path))


class FaultBook:
    """Pending fault rules, consumed first-match-first."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._lock = threading.Lock()

    def add(self, fault: Fault) -> None:
        """Queue a rule."""
        with self._lock:
            self._faults.append(fault)

    def clear(self) -> None:
        """Drop every rule."""
        with self._lock:
            self._faults.clear()

    def take(self, method: str, path: str) -> Fault | None:
        """Consume one use of the first matching rule."""
        with self._lock:
            for fault in self._faults:
                if fault.matches(method, path):
                    fault.count -= 1
                    if fault.count <= 0:
                        self._faults.remove(fault)
                    return fault
        return None

    def listing(self) -> list[dict[str, Any]]:
        """Return the pending rules."""
        with self._lock:
            return [asdict(f) for f in self._faults]


class RequestLog:
    """The most recent /platform requests, for tests that count calls."""

    def __init__(self, size: int = 2000) -> None:
        self._entries: deque[dict[str, Any]] = deque(maxlen=size)
        self._lock = threading.Lock()

    def add(self, entry: dict[str, Any]) -> None:
        """Append an entry."""
        with self._lock:
            self._entries.append(entry)

    def clear(self) -> None:
        """Forget every entry."""
        with self._lock:
            self._entries.clear()

    def listing(self, *, method: str | None = None, path: str | None = None) -> list[Any]:
        """Return entries, oldest first, optionally filtered by method and exact path."""
        with self._lock:
            entries = list(self._entries)
        if method:
            entries = [e for e in entries if e["method"] == method.upper()]
        if path:
            entries = [e for e in entries if _canonical_path(e["path"]) == _canonical_path(path)]
        return entries


class PlatformMiddleware:
    """Apply latency and faults to /platform calls and log each one."""

    def __init__(self, app: WsgiApp, faults: FaultBook, log: RequestLog, latency_ms: int) -> None:
        self.app = app
        self.faults = faults
        self.log = log
        self.latency = latency_ms / 1000

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        """Handle one WSGI request."""
        path = environ.get("PATH_INFO", "")
        if not is_platform(path):
            return self.app(environ, start_response)
        started = time.monotonic()
        body = _read_body(environ)
        method = environ.get("REQUEST_METHOD", "GET")
        entry: dict[str, Any] = {
            "at": iso_now(),
            "method": method,
            "path": path,
            "query": environ.get("QUERY_STRING", ""),
            # v1's header, or v2's (the wallets).
            "idempotencyKey": environ.get("HTTP_X_IDEMPOTENCY_KEY")
            or environ.get("HTTP_IDEMPOTENCY_KEY"),
            "bodySha256": hashlib.sha256(body).hexdigest(),
            "status": None,
            "fault": None,
        }
        if self.latency:
            time.sleep(self.latency)
        fault = self.faults.take(method, path)
        if fault is not None:
            entry["fault"] = fault.mode
        logged = False
        try:
            if fault is not None and fault.mode == "drop":
                # Log before closing, so a client that sees the drop also sees the entry.
                entry["status"] = "dropped"
                entry["durationMs"] = round((time.monotonic() - started) * 1000, 1)
                self.log.add(entry)
                logged = True
                return self._drop(environ, start_response)
            if fault is not None and fault.mode in {"500", "429", "404"}:
                status = int(fault.mode)
                entry["status"] = status
                return self._error(start_response, status, fault)
            if fault is not None and fault.mode == "slow":
                time.sleep(fault.delay)
            captured: list[str] = []

            def capture(status: str, headers: list[Any], exc_info: Any = None) -> Any:
                captured.append(status)
                return start_response(status, headers, exc_info)

            result = self.app(environ, capture)
            if fault is not None and fault.mode == "slow_response":
                # The view has run and committed; only the answer is late.
                chunks = b"".join(result)
                if hasattr(result, "close"):
                    result.close()
                time.sleep(fault.delay)
                result = [chunks]
            entry["status"] = int(captured[0].split()[0]) if captured else None
            return result
        finally:
            if not logged:
                entry["durationMs"] = round((time.monotonic() - started) * 1000, 1)
                self.log.add(entry)

    @staticmethod
    def _error(start_response: StartResponse, status: int, fault: Fault) -> list[bytes]:
        phrase = HTTPStatus(status).phrase
        payload = json.dumps(envelope(status, phrase)).encode()
        headers = [("Content-Type", "application/json"), ("Content-Length", str(len(payload)))]
        if status == 429:
            headers.append(("Retry-After", str(max(0, round(fault.retryAfter)))))
        start_response(f"{status} {phrase}", headers)
        return [payload]

    @staticmethod
    def _drop(environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
        sock = environ.get("werkzeug.socket") or environ.get("gunicorn.socket")
        if sock is None:
            payload = json.dumps(envelope(503, "drop needs the werkzeug server")).encode()
            start_response("503 Service Unavailable", [("Content-Type", "application/json")])
            return [payload]
        # Shutting the socket down sends FIN now; the server's later write then fails
        # with a broken pipe, which werkzeug treats as a dropped connection.
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
        start_response("500 Internal Server Error", [("Content-Length", "0")])
        return []


def _read_body(environ: dict[str, Any]) -> bytes:
    """Read the request body and put it back so the application can read it again."""
    stream = environ.get("wsgi.input")
    if stream is None:
        return b""
    length = environ.get("CONTENT_LENGTH") or ""
    if length.isdigit():
        body = stream.read(int(length)) if int(length) else b""
    elif environ.get("wsgi.input_terminated"):
        body = stream.read()
    else:
        body = b""
    environ["wsgi.input"] = io.BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))
    environ.pop("HTTP_TRANSFER_ENCODING", None)
    environ["wsgi.input_terminated"] = False
    return body
