"""The object that owns the emulator's parts, and how a request reaches it."""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, current_app, jsonify

from bvnk_emulator.config import EmulatorConfig
from bvnk_emulator.errors import envelope
from bvnk_emulator.faults import FaultBook, RequestLog
from bvnk_emulator.hawk import NonceCache
from bvnk_emulator.lifecycle import Lifecycle, Scheduler
from bvnk_emulator.operations import Operations
from bvnk_emulator.store import Store
from bvnk_emulator.wallets import Wallets
from bvnk_emulator.webhooks import Dispatcher, Outbox

EXTENSION = "bvnk_emulator"


class Emulator:
    """Own the store, the background threads and the in-memory test controls."""

    def __init__(self, config: EmulatorConfig) -> None:
        self.config = config
        self.store = Store(config.data_path)
        self.outbox = Outbox(config, self.store)
        self.lifecycle = Lifecycle(config, self.store, self.outbox)
        self.operations = Operations(config, self.store, self.outbox, self.lifecycle)
        self.wallets = Wallets(config, self.store, self.outbox, self.lifecycle)
        self.faults = FaultBook()
        self.requests = RequestLog(config.request_log_size)
        self.nonces = NonceCache()
        self.credentials = {config.hawk_auth_id: config.hawk_secret}
        self._scheduler: Scheduler | None = None
        self._dispatcher: Dispatcher | None = None

    def start(self) -> None:
        """Start the lifecycle scheduler and the webhook dispatcher."""
        self._scheduler = Scheduler(self.lifecycle)
        self._dispatcher = Dispatcher(self.config, self.store, self.outbox)
        self._scheduler.start()
        self._dispatcher.start()

    def stop(self) -> None:
        """Stop the background threads."""
        for thread in (self._scheduler, self._dispatcher):
            if thread is not None:
                thread.stop()
                thread.join(timeout=5)

    def reset(self) -> None:
        """Wipe all state, logs, faults and nonces."""
        self.store.wipe()
        self.requests.clear()
        self.faults.clear()
        self.nonces.clear()


def current_emulator(app: Flask | None = None) -> Emulator:
    """Return the Emulator of the current (or given) app."""
    return (app or current_app).extensions[EXTENSION]  # type: ignore[no-any-return]


def error_response(
    status: int, message: str, errors: Any = None, headers: Any = None, code: str | None = None
) -> Response:
    """Return a JSON response carrying BVNK's error envelope."""
    response = jsonify(envelope(status, message, errors, code))
    response.status_code = status
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response
