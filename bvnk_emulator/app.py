"""The Flask app factory and the object that owns the emulator's parts."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, current_app, jsonify, request
from werkzeug.exceptions import HTTPException

from bvnk_emulator.config import EmulatorConfig
from bvnk_emulator.errors import ApiError, envelope
from bvnk_emulator.faults import FaultBook, PlatformMiddleware, RequestLog, is_platform
from bvnk_emulator.hawk import NonceCache
from bvnk_emulator.lifecycle import Lifecycle, Scheduler
from bvnk_emulator.operations import Operations
from bvnk_emulator.store import Store
from bvnk_emulator.webhooks import Dispatcher, Outbox

log = logging.getLogger(__name__)

EXTENSION = "bvnk_emulator"


class Emulator:
    """Own the store, the background threads and the in-memory test controls."""

    def __init__(self, config: EmulatorConfig) -> None:
        self.config = config
        self.store = Store(config.data_path)
        self.outbox = Outbox(config, self.store)
        self.lifecycle = Lifecycle(config, self.store, self.outbox)
        self.operations = Operations(config, self.store, self.outbox, self.lifecycle)
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


def error_response(status: int, message: str, errors: Any = None, headers: Any = None) -> Response:
    """Return a JSON response carrying BVNK's error envelope."""
    response = jsonify(envelope(status, message, errors))
    response.status_code = status
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def create_app(config: EmulatorConfig, *, start_workers: bool = False) -> Flask:
    """Build the emulator's Flask app; background workers start only when asked."""
    from bvnk_emulator.api import bp as api_bp
    from bvnk_emulator.api import bp_v2 as api_v2_bp
    from bvnk_emulator.controls import bp as controls_bp
    from bvnk_emulator.pages import bp as pages_bp

    app = Flask(__name__)
    app.json.sort_keys = False  # type: ignore[attr-defined]  # keep BVNK's field order
    app.json.compact = True  # type: ignore[attr-defined]
    # Base64 uploads of a few files at the portal's 10 MB limit each.
    app.config["MAX_CONTENT_LENGTH"] = 64 * 1024 * 1024
    emulator = Emulator(config)
    app.extensions[EXTENSION] = emulator

    app.register_blueprint(api_bp, url_prefix="/platform/v1")
    # bvnk-api.md 1.1: the 2024 docs used an /api prefix; accept it as an alias.
    app.register_blueprint(api_bp, url_prefix="/api/platform/v1", name="platform_alias")
    app.register_blueprint(api_v2_bp, url_prefix="/platform/v2")
    app.register_blueprint(controls_bp, url_prefix="/_emulator")
    app.register_blueprint(pages_bp)

    @app.errorhandler(ApiError)
    def handle_api_error(error: ApiError) -> Response:
        return error_response(error.status, error.message, error.errors, error.headers)

    @app.errorhandler(HTTPException)
    def handle_http_error(error: HTTPException) -> Any:
        if is_platform(request.path) or request.path.startswith("/_emulator/"):
            return error_response(error.code or 500, error.description or "Error")
        return error

    @app.errorhandler(Exception)
    def handle_unexpected(error: Exception) -> Any:
        log.exception("Unhandled error on %s %s", request.method, request.path)
        return error_response(500, "Internal server error")

    app.wsgi_app = PlatformMiddleware(  # type: ignore[method-assign]
        app.wsgi_app, emulator.faults, emulator.requests, config.latency_ms
    )
    if start_workers:
        emulator.start()
    return app
