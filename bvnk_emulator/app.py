"""The Flask app factory."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, request
from werkzeug.exceptions import HTTPException

from bvnk_emulator.api import bp as api_bp
from bvnk_emulator.api import bp_ledger as ledger_bp
from bvnk_emulator.api import bp_v2 as api_v2_bp
from bvnk_emulator.config import EmulatorConfig
from bvnk_emulator.controls import bp as controls_bp
from bvnk_emulator.emulator import EXTENSION, Emulator, current_emulator, error_response
from bvnk_emulator.errors import ApiError
from bvnk_emulator.faults import PlatformMiddleware, is_platform
from bvnk_emulator.pages import bp as pages_bp

__all__ = ["create_app", "current_emulator", "error_response"]

log = logging.getLogger(__name__)


def create_app(config: EmulatorConfig, *, start_workers: bool = False) -> Flask:
    """Build the emulator's Flask app; background workers start only when asked."""
    app = Flask(__name__)
    app.json.sort_keys = False  # type: ignore[attr-defined]  # keep BVNK's field order
    app.json.compact = True  # type: ignore[attr-defined]
    # Base64 uploads of a few files at the portal's 10 MB limit each.
    app.config["MAX_CONTENT_LENGTH"] = 64 * 1024 * 1024
    emulator = Emulator(config)
    app.extensions[EXTENSION] = emulator

    app.register_blueprint(api_bp, url_prefix="/platform/v1")
    # BVNK's 2024 docs used an /api prefix; accept it as an alias.
    app.register_blueprint(api_bp, url_prefix="/api/platform/v1", name="platform_alias")
    app.register_blueprint(api_v2_bp, url_prefix="/platform/v2")
    app.register_blueprint(ledger_bp, url_prefix="/ledger/v2")
    app.register_blueprint(controls_bp, url_prefix="/_emulator")
    app.register_blueprint(pages_bp)

    @app.errorhandler(ApiError)
    def handle_api_error(error: ApiError) -> Response:
        return error_response(
            error.status, error.message, error.errors, error.headers, code=error.code
        )

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
