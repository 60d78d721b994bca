"""The one exception the BVNK client raises, and how HTTP answers map onto it.

Classification (style point 4: only transient errors are retried anywhere):

- transient: 408, 429, any 5xx, timeouts, connection errors, and a 2xx whose body is not
  the JSON the call expects (a proxy or a truncated answer; a retry may get the real one);
- permanent: every other 4xx (400, 401, 403, 404, 409, 422, ...), and a 3xx (the client
  never follows redirects; one means the base URL is wrong);
- a non-JSON body (an HTML page from CloudFront or another proxy in front of BVNK) keeps
  the classification of its status. A 5xx page stays transient. A 403 page is what
  CloudFront's WAF answers with "Request blocked" before the request reaches BVNK
  (seen in public client code); the same request is blocked again, so it is permanent and flagged
  `code="WAF_BLOCKED"` for a human to look at (IP allowlist, WAF rule).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from http import HTTPStatus
from typing import Any

from customers.bvnk import wire

TRANSPORT = "TRANSPORT_ERROR"
CONNECT_TIMEOUT = "CONNECT_TIMEOUT"
READ_TIMEOUT = "READ_TIMEOUT"
CONNECTION_ERROR = "CONNECTION_ERROR"
INVALID_RESPONSE = "INVALID_RESPONSE"
NON_JSON_RESPONSE = "NON_JSON_RESPONSE"
WAF_BLOCKED = "WAF_BLOCKED"
UNEXPECTED_REDIRECT = "UNEXPECTED_REDIRECT"

_TRANSIENT_4XX = frozenset({408, 429})


def is_permanent_status(status: int) -> bool:
    """Return whether repeating a request that got `status` cannot succeed."""
    if status >= 500:
        return False
    return status not in _TRANSIENT_4XX


class BvnkError(Exception):
    """A failed BVNK call: an HTTP error answer, a bad answer, or a transport failure."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None,
        permanent: bool,
        code: str = "",
        trace_id: str = "",
        field_errors: Mapping[str, list[str]] | None = None,
        retry_after: float | None = None,
        server_time: datetime | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.permanent = permanent
        self.code = code
        self.trace_id = trace_id
        self.field_errors: dict[str, list[str]] = dict(field_errors or {})
        self.retry_after = retry_after
        # BVNK's clock from the answer's Date header: a 401 with a skewed clock says why.
        self.server_time = server_time

    @property
    def is_duplicate(self) -> bool:
        """Return whether BVNK refused a create because the customer exists already."""
        return self.status == 400 and wire.is_duplicate_create(self.field_errors, self.message)

    def __reduce__(self) -> tuple[Any, ...]:
        # Keyword-only arguments defeat Exception's default pickling (Celery pickles).
        return (_rebuild, (self.message, self.__dict__.copy()))

    @property
    def transient(self) -> bool:
        """Return whether a later retry (same idempotency key) may succeed."""
        return not self.permanent

    @property
    def is_auth_failure(self) -> bool:
        """Return whether BVNK rejected the Hawk credentials (or the clock is off)."""
        return self.status == 401

    def __str__(self) -> str:
        head = f"BVNK {self.status}" if self.status is not None else "BVNK transport error"
        if self.code:
            head += f" {self.code}"
        text = f"{head}: {self.message}" if self.message else head
        if self.field_errors:
            fields = "; ".join(
                f"{name}: {' '.join(messages)}" for name, messages in self.field_errors.items()
            )
            text += f" ({fields})"
        if self.trace_id:
            text += f" [trace {self.trace_id}]"
        return text

    def __repr__(self) -> str:
        return (
            f"BvnkError(status={self.status!r}, code={self.code!r}, "
            f"permanent={self.permanent!r}, trace_id={self.trace_id!r})"
        )

    def summary(self) -> str:
        """Return a short description without BVNK's messages (safe for call logs)."""
        parts = [str(self.status) if self.status is not None else "transport"]
        if self.code:
            parts.append(self.code)
        parts.append("permanent" if self.permanent else "transient")
        if self.field_errors:
            parts.append("fields=" + ",".join(sorted(self.field_errors)))
        return " ".join(parts)

    @classmethod
    def from_http(cls, status: int, headers: Mapping[str, str], body: bytes) -> BvnkError:
        """Build the error for a non-2xx answer from its status, headers and raw body."""
        retry_after = parse_retry_after(_header(headers, "Retry-After"))
        error = cls._from_status(status, retry_after, body)
        error.server_time = parse_http_date(_header(headers, "Date"))
        return error

    @classmethod
    def _from_status(cls, status: int, retry_after: float | None, body: bytes) -> BvnkError:
        if 300 <= status < 400:
            return cls(
                f"Unexpected redirect ({status}); check the BVNK base URL",
                status=status,
                permanent=True,
                code=UNEXPECTED_REDIRECT,
            )
        envelope = _json_object(body)
        if envelope is None:
            return _non_json_error(status, retry_after)
        permanent = is_permanent_status(status)
        details = envelope.get("details")
        errors = details.get("errors") if isinstance(details, dict) else None
        message = envelope.get("message") or envelope.get("error") or envelope.get("status")
        return cls(
            str(message or _reason(status)),
            status=status,
            permanent=permanent,
            code=str(envelope.get("code") or ""),
            trace_id=str(envelope.get("traceId") or ""),
            field_errors=parse_field_errors(errors),
            retry_after=retry_after,
        )

    @classmethod
    def invalid_response(cls, status: int, reason: str) -> BvnkError:
        """Build the transient error for a 2xx answer the client cannot read."""
        return cls(reason, status=status, permanent=False, code=INVALID_RESPONSE)

    @classmethod
    def transport(cls, code: str, message: str) -> BvnkError:
        """Build the transient error for a timeout or a connection failure."""
        return cls(message, status=None, permanent=False, code=code)


def _rebuild(message: str, state: dict[str, Any]) -> BvnkError:
    error = BvnkError(message, status=None, permanent=False)
    error.__dict__.update(state)
    return error


def parse_field_errors(errors: Any) -> dict[str, list[str]]:
    """Normalise `details.errors`: v1 maps to lists of strings, v2 to one string."""
    if not isinstance(errors, dict):
        return {}
    result: dict[str, list[str]] = {}
    for name, value in errors.items():
        if isinstance(value, list | tuple):
            result[str(name)] = [str(item) for item in value]
        elif value is None:
            result[str(name)] = []
        else:
            result[str(name)] = [str(value)]
    return result


def parse_http_date(value: str | None) -> datetime | None:
    """Return an HTTP-date header as an aware datetime, None when absent or unreadable."""
    if not value:
        return None
    try:
        when = parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError):
        return None
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Return the seconds to wait from a `Retry-After` value (seconds or an HTTP-date)."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return max(seconds, 0.0)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    now = now or datetime.now(UTC)
    return max((when - now).total_seconds(), 0.0)


def _non_json_error(status: int, retry_after: float | None) -> BvnkError:
    if status == 403:
        return BvnkError(
            "Request blocked before reaching BVNK (non-JSON 403, likely the WAF)",
            status=status,
            permanent=True,
            code=WAF_BLOCKED,
            retry_after=retry_after,
        )
    return BvnkError(
        f"Non-JSON {status} answer (likely a proxy in front of BVNK)",
        status=status,
        permanent=is_permanent_status(status),
        code=NON_JSON_RESPONSE,
        retry_after=retry_after,
    )


def _json_object(body: bytes) -> dict[str, Any] | None:
    try:
        data = json.loads(body)
    except ValueError:  # Includes UnicodeDecodeError and JSONDecodeError.
        return None
    return data if isinstance(data, dict) else None


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is not None:
        return value
    lowered = name.lower()
    for key, item in headers.items():
        if key.lower() == lowered:
            return item
    return None


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return f"HTTP {status}"
