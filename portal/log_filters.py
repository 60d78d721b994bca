"""Logging: every record carries the request id, and no personal data reaches a log.

`configure` is Django's LOGGING_CONFIG: it applies settings.LOGGING, then puts both filters
on every handler of every logger, including Django's own and, in workers, Celery's (which
replaces the root logger's handlers when a worker starts).
"""

from __future__ import annotations

import contextvars
import logging
import logging.config
import re
from typing import Any
from urllib.parse import unquote

from celery.signals import after_setup_logger, after_setup_task_logger

# The id of the request (or task) being served; "-" outside one.
request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")

# What looks like personal data, most specific first. A false positive costs a masked
# number in a log line; a false negative leaks someone's data, so the patterns are broad.
_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"[\w.+'-]+@[\w-]+(?:\.[\w-]+)+"), "[email]"),
    # IBAN: country, check digits, then 11-30 letters and digits, optionally grouped by 4.
    (re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?\b"), "[iban]"),
    # US SSN/ITIN and EIN, UK National Insurance, VAT-style "GB123456789".
    (re.compile(r"\b\d{3}-\d{2}-\d{4}\b"), "[tax-number]"),
    (re.compile(r"\b\d{2}-\d{7}\b"), "[tax-number]"),
    (re.compile(r"\b[A-CEGHJ-PR-TW-Z]{2} ?\d{2} ?\d{2} ?\d{2} ?[A-D]\b"), "[tax-number]"),
    (re.compile(r"\b[A-Z]{2}\d{8,12}\b"), "[tax-number]"),
    # International phone numbers (+44 20 7946 0018, 0044..., +1 (202) 555-0143) and the
    # usual national shapes ((202) 555-0143, 020 7946 0018).
    # Not after a decimal point: "0.0031s" is a duration, not a number dialled with 00.
    (re.compile(r"(?<![\w+.])(?:\+|00)[1-9][\d ().-]{6,18}\d\b"), "[phone]"),
    (re.compile(r"\(?\b\d{3}\)?[ .-]\d{3}[ .-]\d{4}\b"), "[phone]"),
    (re.compile(r"(?<![\w.])0\d{2,4} ?\d{3,4} ?\d{3,4}\b"), "[phone]"),
)


# Query parameters whose values are what a person typed to find someone (a name, an email,
# a number): dropped whole from logged URLs, whatever they hold.
_SEARCH_TERMS = re.compile(r"([?&;](?:q|search|query|name|email)=)[^&;\s\"']*", re.IGNORECASE)
_PERCENT_ESCAPE = re.compile(r"%[0-9A-Fa-f]{2}")


def mask_personal_data(text: str) -> str:
    """Replace emails, phone numbers, IBAN-like and tax-number-like strings in `text`.

    Search terms in URLs are dropped, and percent-encoded text (an access log's query
    string: `jane%40example.com`) is decoded first, so encoding cannot hide what it says.
    """
    # Dropped before decoding (a value's encoded spaces keep it whole) and after (a login
    # redirect's `next` carries the page's URL, encoded once more: decoded twice at most).
    text = _SEARCH_TERMS.sub(r"\1[dropped]", text)
    for _ in range(2):
        if _PERCENT_ESCAPE.search(text):
            text = unquote(text)
    text = _SEARCH_TERMS.sub(r"\1[dropped]", text)
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class RequestIdFilter(logging.Filter):
    """Add `request_id` to every record (for the "%(request_id)s" in the format)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            # django.request logs 4xx/5xx after the middleware has returned, with the request.
            request = getattr(record, "request", None)
            record.request_id = getattr(request, "request_id", None) or request_id.get()
        return True


class PersonalDataFilter(logging.Filter):
    """Mask personal data in the message, its arguments and any traceback."""

    _formatter = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "_personal_data_masked", False):
            return True  # a record passes several handlers; mask it once
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: keep what there is, masked
            message = f"{record.msg} {record.args}"
        record.msg, record.args = mask_personal_data(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = self._formatter.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask_personal_data(record.exc_text)
        if record.stack_info:
            record.stack_info = mask_personal_data(record.stack_info)
        record._personal_data_masked = True
        return True


def attach_filters() -> None:
    """Put the request-id and personal-data filters on every handler that exists now."""
    loggers: list[Any] = [logging.getLogger()]
    loggers += [
        each
        for each in logging.root.manager.loggerDict.values()
        if isinstance(each, logging.Logger)
    ]
    for logger in loggers:
        for handler in logger.handlers:
            kinds = {type(f) for f in handler.filters}
            if RequestIdFilter not in kinds:
                handler.addFilter(RequestIdFilter())
            if PersonalDataFilter not in kinds:
                handler.addFilter(PersonalDataFilter())


def configure(logging_settings: dict[str, Any]) -> None:
    """LOGGING_CONFIG: apply settings.LOGGING, then filter every handler."""
    logging.config.dictConfig(logging_settings)
    attach_filters()


def _after_celery_setup(**kwargs: Any) -> None:
    attach_filters()


after_setup_logger.connect(_after_celery_setup, weak=False)
after_setup_task_logger.connect(_after_celery_setup, weak=False)
