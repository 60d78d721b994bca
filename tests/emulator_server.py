"""Pytest plugin: a real BVNK emulator process and a local webhook sink.

Load it with `pytest_plugins = ["tests.emulator_server"]` (tests/conftest.py does).
Nothing here needs Django.

Fixtures
--------
``emulator`` (session)
    An `EmulatorProcess` started once per test session with ``python -m bvnk_emulator``
    in fast mode (review 0.2 s, webhook retries from 0.05 s), a temporary SQLite file,
    and webhooks delivered to ``emulator.sink`` (a session-wide `WebhookSink`).
    State is shared between tests: call ``emulator.reset()`` or use ``emulator_reset``.
``emulator_reset`` (function)
    The session emulator after ``reset()``: state wiped, faults and holds cleared,
    sink emptied.
``webhook_sink`` (function)
    A fresh `WebhookSink`: a threaded HTTP server on a free port that records every
    request (headers and raw body) and answers 200, or scripted codes via
    ``sink.respond_with(500, 500, then=200)``.
``make_emulator`` (function)
    Factory for a dedicated emulator: ``make_emulator(webhook_url=sink.url, **env)``;
    ``env`` keys are environment variables (e.g. ``BVNK_WEBHOOK_SIGNATURE="B"``).
    Each one is stopped at the end of the test; ``restart()`` keeps port and data.

`EmulatorProcess` attributes and helpers
----------------------------------------
``url`` (base URL, no trailing slash), ``auth_id``, ``secret`` (Hawk), ``webhook_secret``,
``data_path``, ``env``, ``sink`` (or None; ``webhooks`` returns it or fails);
``request(method, path, **kwargs)`` / ``get`` / ``post`` / ``put`` / ``patch`` /
``delete``: Hawk-signed calls to ``url + path``; ``hawk_session()``: a
`requests.Session` whose requests are Hawk-signed (pass full URLs);
``hawk_auth()``: the `requests` auth object; ``control(path, json=None, method="POST")``:
calls ``/_emulator/<path>`` without Hawk; ``reset()``; ``deliveries()``; ``requests_log()``;
``restart()``; ``stop()``.

``wait_until(predicate, timeout=5.0)`` polls until ``predicate()`` is truthy and
returns its value.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import socket
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

ROOT = Path(__file__).resolve().parent.parent
AUTH_ID = "test-hawk-id"
SECRET = "test-hawk-secret"
WEBHOOK_SECRET = "test-webhook-secret"
START_TIMEOUT = 20.0


def free_port() -> int:
    """Return a TCP port that is free right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(predicate: Callable[[], Any], timeout: float = 5.0, interval: float = 0.02) -> Any:
    """Poll `predicate` until it returns something truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        time.sleep(interval)


class HawkAuth(requests.auth.AuthBase):
    """Sign requests with Hawk the way BVNK expects (header mode, no payload hash).

    Written independently of bvnk_emulator.hawk so tests check one against the other.
    """

    def __init__(
        self, auth_id: str, secret: str, *, ts: int | None = None, nonce: str | None = None
    ) -> None:
        self.auth_id = auth_id
        self.secret = secret
        self.ts = ts  # fixed values let tests send stale or replayed headers
        self.nonce = nonce

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        url = urlsplit(r.url or "")
        port = url.port or (443 if url.scheme == "https" else 80)
        resource = url.path + (f"?{url.query}" if url.query else "")
        ts = str(self.ts if self.ts is not None else int(time.time()))
        nonce = self.nonce or secrets.token_hex(6)
        normalized = (
            f"hawk.1.header\n{ts}\n{nonce}\n{r.method}\n{resource}\n"
            f"{(url.hostname or '').lower()}\n{port}\n\n\n"
        )
        mac = base64.b64encode(
            hmac.new(self.secret.encode(), normalized.encode(), hashlib.sha256).digest()
        ).decode()
        r.headers["Authorization"] = (
            f'Hawk id="{self.auth_id}", ts="{ts}", nonce="{nonce}", mac="{mac}"'
        )
        return r


@dataclass
class ReceivedWebhook:
    """One request received by the sink."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    received_at: float  # time.monotonic()

    def json(self) -> Any:
        """Return the parsed body."""
        return json.loads(self.body)

    @property
    def event(self) -> str | None:
        """Return the envelope's `event`, if any."""
        try:
            return self.json().get("event")
        except ValueError:
            return None


class WebhookSink:
    """A threaded local HTTP server that records webhook requests."""

    def __init__(self) -> None:
        self.received: list[ReceivedWebhook] = []
        self._script: deque[int] = deque()
        self.default_status = 200
        self._lock = threading.Lock()
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                with sink._lock:
                    sink.received.append(
                        ReceivedWebhook(
                            method="POST",
                            path=self.path,
                            headers={k.lower(): v for k, v in self.headers.items()},
                            body=body,
                            received_at=time.monotonic(),
                        )
                    )
                    status = sink._script.popleft() if sink._script else sink.default_status
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_port}/webhooks/bvnk/"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def respond_with(self, *statuses: int, then: int = 200) -> None:
        """Answer the next requests with `statuses`, then with `then`."""
        with self._lock:
            self._script = deque(statuses)
            self.default_status = then

    def clear(self) -> None:
        """Forget received requests and scripted answers."""
        with self._lock:
            self.received.clear()
            self._script.clear()
            self.default_status = 200

    def events(self, name: str | None = None) -> list[ReceivedWebhook]:
        """Return received requests, optionally only those of one event name."""
        with self._lock:
            received = list(self.received)
        return [r for r in received if name is None or r.event == name]

    def wait_for(
        self, count: int, name: str | None = None, timeout: float = 5.0
    ) -> list[ReceivedWebhook]:
        """Wait until at least `count` requests (of event `name`) arrived; return them."""
        return wait_until(
            lambda: found if len(found := self.events(name)) >= count else None, timeout
        )

    def stop(self) -> None:
        """Shut the server down."""
        self._server.shutdown()
        self._server.server_close()


@dataclass
class EmulatorProcess:
    """A `python -m bvnk_emulator` subprocess and helpers to talk to it."""

    data_path: Path
    env: dict[str, str]
    sink: WebhookSink | None = None
    port: int = field(default_factory=free_port)
    auth_id: str = AUTH_ID
    secret: str = SECRET
    webhook_secret: str = WEBHOOK_SECRET
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """Return the base URL."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def webhooks(self) -> WebhookSink:
        """Return the sink this emulator delivers to (fails when started without one)."""
        if self.sink is None:
            raise AssertionError("this emulator was started without a webhook sink")
        return self.sink

    @property
    def log_path(self) -> Path:
        """Return the file holding the process output."""
        return self.data_path.with_suffix(".log")

    def start(self) -> EmulatorProcess:
        """Start the process and wait until it answers."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("BVNK_")}
        env.update(
            PYTHONPATH=str(ROOT),
            PYTHONUNBUFFERED="1",
            BVNK_HAWK_AUTH_ID=self.auth_id,
            BVNK_HAWK_SECRET=self.secret,
            BVNK_WEBHOOK_SECRET=self.webhook_secret,
            BVNK_EMULATOR_FAST="1",
            BVNK_EMULATOR_DATA=str(self.data_path),
        )
        env.update(self.env)
        command = [sys.executable, "-m", "bvnk_emulator", "--port", str(self.port), "--quiet"]
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"emulator exited early:\n{self.log_path.read_text()}")
            try:
                if requests.get(f"{self.url}/_emulator/health", timeout=0.5).ok:
                    return self
            except requests.RequestException:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"emulator did not start:\n{self.log_path.read_text()}")

    def stop(self) -> None:
        """Terminate the process."""
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)
        self.process = None

    def restart(self) -> EmulatorProcess:
        """Stop and start again on the same port with the same data file."""
        self.stop()
        return self.start()

    # -- calls ---------------------------------------------------------------------------

    def hawk_auth(self) -> HawkAuth:
        """Return a requests auth object signing with this emulator's credentials."""
        return HawkAuth(self.auth_id, self.secret)

    def hawk_session(self) -> requests.Session:
        """Return a session whose requests are Hawk-signed (pass full URLs)."""
        session = requests.Session()
        session.auth = self.hawk_auth()
        return session

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """Make a Hawk-signed request to `url + path`."""
        kwargs.setdefault("timeout", 10)
        kwargs.setdefault("auth", self.hawk_auth())
        return requests.request(method, self.url + path, **kwargs)  # noqa: S113 (set above)

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        """Signed GET."""
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        """Signed POST."""
        return self.request("POST", path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> requests.Response:
        """Signed PUT."""
        return self.request("PUT", path, **kwargs)

    def patch(self, path: str, **kwargs: Any) -> requests.Response:
        """Signed PATCH."""
        return self.request("PATCH", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> requests.Response:
        """Signed DELETE."""
        return self.request("DELETE", path, **kwargs)

    def control(self, path: str, json: Any = None, method: str = "POST") -> requests.Response:
        """Call a /_emulator test control (no Hawk)."""
        path = path.removeprefix("/").removeprefix("_emulator/")
        return requests.request(method, f"{self.url}/_emulator/{path}", json=json, timeout=10)

    def reset(self) -> None:
        """Wipe the emulator's state and empty the sink."""
        self.control("reset").raise_for_status()
        if self.sink is not None:
            self.sink.clear()

    def deliveries(self) -> list[dict[str, Any]]:
        """Return the webhook delivery log, newest first."""
        return self.control("deliveries?format=json", method="GET").json()  # type: ignore[no-any-return]

    def requests_log(self, **filters: str) -> list[dict[str, Any]]:
        """Return the log of recent /platform requests (filters: method, path)."""
        response = requests.get(f"{self.url}/_emulator/requests", params=filters, timeout=10)
        return response.json()


def start_emulator(
    directory: Path, *, webhook_url: str | None = None, sink: WebhookSink | None = None, **env: str
) -> EmulatorProcess:
    """Start an emulator whose data lives in `directory`; webhooks go to `webhook_url`."""
    directory.mkdir(parents=True, exist_ok=True)
    target = webhook_url if webhook_url is not None else (sink.url if sink else "")
    settings = {"BVNK_EMULATOR_WEBHOOK_URL": target, **env}
    data = directory / f"emulator-{secrets.token_hex(4)}.sqlite3"
    return EmulatorProcess(data_path=data, env=settings, sink=sink).start()


@pytest.fixture(scope="session")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorProcess]:
    """Start one emulator for the session, delivering webhooks to `emulator.sink`."""
    sink = WebhookSink()
    process = start_emulator(tmp_path_factory.mktemp("bvnk-emulator"), sink=sink)
    yield process
    process.stop()
    sink.stop()


@pytest.fixture
def emulator_reset(emulator: EmulatorProcess) -> EmulatorProcess:
    """Return the session emulator with its state wiped."""
    emulator.reset()
    return emulator


@pytest.fixture
def webhook_sink() -> Iterator[WebhookSink]:
    """Return a fresh webhook sink, stopped after the test."""
    sink = WebhookSink()
    yield sink
    sink.stop()


@pytest.fixture
def make_emulator(tmp_path: Path) -> Iterator[Callable[..., EmulatorProcess]]:
    """Return a factory starting dedicated emulators, all stopped after the test."""
    started: list[EmulatorProcess] = []

    def factory(
        *, webhook_url: str | None = None, sink: WebhookSink | None = None, **env: str
    ) -> EmulatorProcess:
        process = start_emulator(tmp_path, webhook_url=webhook_url, sink=sink, **env)
        started.append(process)
        return process

    yield factory
    for process in started:
        process.stop()
