"""Field validators with messages a person understands."""

from __future__ import annotations

import re

import phonenumbers
from django.core.exceptions import ValidationError
from django_countries import countries


def validate_e164_phone(value: str) -> None:
    """Refuse anything that is not a valid phone number written in E.164 (+447911123456)."""
    if not value:
        return
    message = "Enter the phone number in international format, for example +447911123456."
    if not value.startswith("+"):
        raise ValidationError(message, code="phone_format")
    try:
        number = phonenumbers.parse(value, None)
    except phonenumbers.NumberParseException as exc:
        raise ValidationError(message, code="phone_format") from exc
    if not phonenumbers.is_valid_number(number):
        raise ValidationError(
            "This phone number is not valid for its country code.", code="phone_invalid"
        )
    if phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164) != value:
        raise ValidationError(message, code="phone_format")


def normalise_phone(value: str, country: str) -> str:
    """Return `value` in E.164, read in `country`'s national format unless it starts with +."""
    value = value.strip()
    if not value:
        return ""
    region = None if value.startswith("+") else (country or "").upper() or None
    if region is None and not value.startswith("+"):
        raise ValidationError(
            "Enter the phone number in international format, for example +447911123456.",
            code="phone_format",
        )
    invalid = ValidationError(
        f"This is not a valid phone number for {countries.name(region)}. Check the digits, "
        "or write it with + and the country code."
        if region
        else "This phone number is not valid for its country code.",
        code="phone_invalid",
    )
    try:
        number = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException as exc:
        raise invalid from exc
    if not phonenumbers.is_valid_number(number):
        raise invalid
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


_US_ZIP = re.compile(r"^(\d{5})(?:-?(\d{4}))?$")
_US_TIN = re.compile(r"^(\d{3})-?(\d{2})-?(\d{4})$")
_US_EIN = re.compile(r"^(\d{2})-?(\d{7})$")


def normalise_us_zip(value: str) -> str:
    """Return a US ZIP code as 12345 or 12345-6789."""
    match = _US_ZIP.match(value.strip())
    if not match:
        raise ValidationError(
            "Enter a US ZIP code of 5 digits, or ZIP+4 such as 94105-1234.", code="us_zip"
        )
    return "-".join(part for part in match.groups() if part)


def normalise_us_tin(value: str) -> str:
    """Return a US SSN or ITIN as NNN-NN-NNNN."""
    match = _US_TIN.match(value.strip())
    if not match:
        raise ValidationError(
            "Enter the SSN or ITIN as 9 digits, for example 123-45-6789.", code="us_tin"
        )
    return "-".join(match.groups())


def normalise_us_ein(value: str) -> str:
    """Return a US Employer Identification Number as NN-NNNNNNN."""
    match = _US_EIN.match(value.strip())
    if not match:
        raise ValidationError("Enter the EIN as 9 digits, for example 12-3456789.", code="us_ein")
    return "-".join(match.groups())


# Markup and control characters; apostrophes, hyphens, accents and "&" stay allowed.
_NOT_IN_NAMES = re.compile(r"[<>\x00-\x1f\x7f-\x9f]")


def validate_name(value: str) -> None:
    """Refuse markup (< or >) and control characters in a person's or company's name."""
    if _NOT_IN_NAMES.search(value or ""):
        raise ValidationError(
            "Names cannot contain < or > or control characters; "
            "letters, accents, spaces, apostrophes, hyphens and & are fine.",
            code="name_characters",
        )
