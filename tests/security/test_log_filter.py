"""No personal data in logs: the filter on every handler masks it, the request id is added."""

from __future__ import annotations

import io
import logging

import pytest

from portal.log_filters import (
    PersonalDataFilter,
    RequestIdFilter,
    attach_filters,
    mask_personal_data,
)


@pytest.mark.parametrize(
    ("text", "leaked"),
    [
        ("Mail jane.doe+kyc@example.co.uk now", "jane.doe"),
        ("Call +44 20 7946 0018 today", "7946"),
        ("US number (202) 555-0143", "555-0143"),
        ("UK number 020 7946 0018", "7946 0018"),
        ("IBAN GB82 WEST 1234 5698 7654 32", "5698"),
        ("IBAN DE89370400440532013000", "0532013000"),
        ("SSN 123-45-6789", "6789"),
        ("EIN 12-3456789", "3456789"),
        ("NI number AB 12 34 56 C", "34 56"),
        ("VAT GB123456789", "123456789"),
    ],
)
def test_personal_data_is_masked(text, leaked) -> None:
    assert leaked not in mask_personal_data(text)


@pytest.mark.parametrize(
    "line",
    [
        "Operation 42 of customer 7 sent in 120 ms (attempt 3), trace 9f1c-22",
        "Task x[6a4a34c3-cb6f-4f0b-987c-c3f8c4771d6a] succeeded in 0.0030589983033553537s",
        "took 0.009385958677423489s at 2026-11-27 12:02:19,450",
    ],
)
def test_ordinary_log_lines_survive(line) -> None:
    assert mask_personal_data(line) == line


def test_every_configured_handler_has_both_filters() -> None:
    handlers = [
        h for h in logging.getLogger().handlers if not type(h).__module__.startswith("_pytest")
    ]
    assert handlers
    for handler in handlers:
        kinds = {type(f) for f in handler.filters}
        assert {PersonalDataFilter, RequestIdFilter} <= kinds


def test_arguments_and_tracebacks_are_masked_too() -> None:
    stream = io.StringIO()
    logger = logging.getLogger("tests.security.log_filter")
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(request_id)s %(message)s"))
    logger.addHandler(handler)
    attach_filters()  # what happens to every handler at start-up
    try:
        logger.warning("Customer %s has tax number %s", "jane@example.com", "123-45-6789")
        try:
            raise ValueError("bad IBAN GB82WEST12345698765432")
        except ValueError:
            logger.exception("Refused")
    finally:
        logger.removeHandler(handler)
    output = stream.getvalue()
    assert "- Customer [email] has tax number [tax-number]" in output
    assert "jane@" not in output and "6789" not in output and "98765432" not in output
    assert "[iban]" in output


@pytest.mark.parametrize(
    ("line", "leaked"),
    [
        # The access log's request line: an encoded email, a name typed into search.
        ('"GET /customers/?q=rel.e1.3%40example.com&status=VERIFIED HTTP/1.1" 200', "rel.e1"),
        ('"GET /customers/?status=PENDING&q=Jane+Doe HTTP/1.1" 200', "Jane"),
        ('"GET /customers/?search=Ivan%20Petrov HTTP/1.1" 200', "Petrov"),
        ('"GET /customers/export/?email=a%2Bb%40example.org HTTP/1.1" 200', "example.org"),
        ('"GET /x/?next=%2Fcustomers%2F%3Fq%3Downer%2540example.com HTTP/1.1"', "owner"),
        ("Call +44 20 7946 0018 from /customers/?page=%32", "7946"),
    ],
)
def test_urls_are_decoded_and_search_terms_dropped(line, leaked) -> None:
    masked = mask_personal_data(line)
    assert leaked not in masked
    assert "HTTP/1.1" in masked or "Call" in masked


def test_gunicorns_access_log_keeps_no_search_term(tmp_path) -> None:
    """The access log gunicorn writes (as docker-compose runs it) goes through the filter."""
    import requests

    from tests.customers.webhooks_support import Gunicorn

    log = tmp_path / "gunicorn.log"
    server = Gunicorn(log, GUNICORN_CMD_ARGS="--access-logfile -")
    try:
        requests.get(f"{server.url}/customers/?q=jane.doe%40example.com", timeout=5)
        requests.get(f"{server.url}/customers/?q=Ivan+Petrov&status=VERIFIED", timeout=5)
    finally:
        server.stop()
    written = log.read_text()
    assert "/customers/?q=[dropped]" in written, written[-2000:]
    assert "jane.doe" not in written and "Petrov" not in written
