"""BVNK's v1 error envelope."""

from __future__ import annotations

import secrets
from http import HTTPStatus

# Only ACCOUNTS-2000 is observed (400). The other codes are the emulator's own choice,
# kept in one table so they can change once BVNK confirms its codes.
ERROR_CODES = {
    400: "ACCOUNTS-2000",
    401: "ACCOUNTS-1001",
    403: "ACCOUNTS-1003",
    404: "ACCOUNTS-2004",
    405: "ACCOUNTS-2005",
    429: "ACCOUNTS-1029",
    500: "ACCOUNTS-5000",
    503: "ACCOUNTS-5003",
}
DEFAULT_MESSAGES = {400: "Invalid request"}

FieldErrors = dict[str, list[str]]


class ApiError(Exception):
    """An error answered with BVNK's envelope."""

    def __init__(
        self,
        status: int,
        message: str | None = None,
        errors: FieldErrors | None = None,
        *,
        headers: dict[str, str] | None = None,
        code: str | None = None,
    ) -> None:
        self.status = status
        self.code = code
        self.message = message or DEFAULT_MESSAGES.get(status) or HTTPStatus(status).phrase
        self.errors = errors or {}
        self.headers = headers or {}
        super().__init__(f"{status} {self.message} {self.errors}")


class ValidationError(ApiError):
    """A 400 ACCOUNTS-2000 with field errors."""

    def __init__(self, errors: FieldErrors) -> None:
        super().__init__(400, "Invalid request", errors)


class NotFound(ApiError):
    """A 404 for an unknown reference."""

    def __init__(self, message: str) -> None:
        super().__init__(404, message)


def envelope(
    status: int, message: str, errors: FieldErrors | None = None, code: str | None = None
) -> dict[str, object]:
    """Return the error body for a status, message and field errors."""
    return {
        "code": code or ERROR_CODES.get(status, f"ACCOUNTS-{status}"),
        "traceId": secrets.token_hex(16),
        "status": HTTPStatus(status).phrase,
        "message": message,
        "details": {"errors": errors or {}},
    }


def add_error(errors: FieldErrors, field: str, message: str) -> None:
    """Append a message to a field's error list."""
    errors.setdefault(field, []).append(message)
