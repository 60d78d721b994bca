"""BvnkError classification and parsing, independent of any HTTP library."""

from __future__ import annotations

import pickle
from datetime import UTC, datetime

import pytest

from customers.bvnk import BvnkError
from customers.bvnk.errors import parse_field_errors, parse_retry_after

ENVELOPE = (
    b'{"code": "ACCOUNTS-2000", "traceId": "6aaa94d1184d65e454d08a790495961b", '
    b'"status": "Bad Request", "message": "Invalid request", "details": {"errors": '
    b'{"externalReference": ["Customer with external reference: x already exists"]}}}'
)


def test_envelope_fields_and_str() -> None:
    error = BvnkError.from_http(400, {}, ENVELOPE)
    assert error.permanent and not error.transient
    assert error.code == "ACCOUNTS-2000"
    assert error.trace_id == "6aaa94d1184d65e454d08a790495961b"
    assert error.message == "Invalid request"
    assert error.field_errors == {
        "externalReference": ["Customer with external reference: x already exists"]
    }
    assert str(error) == (
        "BVNK 400 ACCOUNTS-2000: Invalid request (externalReference: Customer with external "
        "reference: x already exists) [trace 6aaa94d1184d65e454d08a790495961b]"
    )
    assert error.summary() == "400 ACCOUNTS-2000 permanent fields=externalReference"


@pytest.mark.parametrize(
    ("status", "permanent"),
    [
        (400, True),
        (401, True),
        (403, True),
        (404, True),
        (409, True),
        (410, True),
        (422, True),
        (408, False),
        (429, False),
        (500, False),
        (502, False),
        (503, False),
    ],
)
def test_permanence_by_status(status: int, permanent: bool) -> None:
    error = BvnkError.from_http(status, {}, b'{"code": "X", "message": "m"}')
    assert error.permanent is permanent
    assert error.is_auth_failure is (status == 401)


def test_field_errors_accept_lists_strings_and_junk() -> None:
    assert parse_field_errors(
        {"a": ["one", "two"], "individual.birthCountryCode": "Required", "c": None}
    ) == {"a": ["one", "two"], "individual.birthCountryCode": ["Required"], "c": []}
    assert parse_field_errors(None) == {}
    assert parse_field_errors(["not", "a", "dict"]) == {}


def test_null_details_and_missing_message() -> None:
    error = BvnkError.from_http(404, {}, b'{"code": "MER-PAY-3003", "details": null}')
    assert error.message == "Not Found"
    assert error.field_errors == {}


def test_non_json_bodies() -> None:
    waf = BvnkError.from_http(403, {"Content-Type": "text/html"}, b"<html>Request blocked</html>")
    assert (waf.code, waf.permanent) == ("WAF_BLOCKED", True)
    gateway = BvnkError.from_http(502, {}, b"<html>Bad gateway</html>")
    assert (gateway.code, gateway.permanent) == ("NON_JSON_RESPONSE", False)
    assert BvnkError.from_http(404, {}, b"<html>nope</html>").permanent
    assert not BvnkError.from_http(429, {}, b"slow down").permanent
    redirect = BvnkError.from_http(301, {"Location": "https://elsewhere"}, b"")
    assert (redirect.code, redirect.permanent) == ("UNEXPECTED_REDIRECT", True)


def test_retry_after_forms() -> None:
    now = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after("7", now=now) == 7.0
    assert parse_retry_after("1.5", now=now) == 1.5
    assert parse_retry_after("Thu, 01 Jan 2026 12:02:00 GMT", now=now) == 120.0
    assert parse_retry_after("Thu, 01 Jan 2026 11:00:00 GMT", now=now) == 0.0
    assert parse_retry_after("-3", now=now) == 0.0
    assert parse_retry_after("soon", now=now) is None
    assert parse_retry_after(None) is None
    error = BvnkError.from_http(429, {"retry-after": "30"}, b"{}")
    assert error.retry_after == 30.0


def test_transport_error() -> None:
    error = BvnkError.transport("READ_TIMEOUT", "Timed out")
    assert error.status is None and error.transient
    assert str(error) == "BVNK transport error READ_TIMEOUT: Timed out"
    assert error.summary() == "transport READ_TIMEOUT transient"


def test_survives_pickling() -> None:
    error = BvnkError.from_http(429, {"Retry-After": "5"}, ENVELOPE)
    copy = pickle.loads(pickle.dumps(error))  # noqa: S301 - our own bytes, not untrusted data
    assert (copy.status, copy.permanent, copy.code, copy.retry_after) == (
        429,
        False,
        "ACCOUNTS-2000",
        5.0,
    )
    assert copy.field_errors == error.field_errors
    assert str(copy) == str(error)
