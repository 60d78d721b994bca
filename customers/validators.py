"""Field validators with messages a person understands."""

from __future__ import annotations

import phonenumbers
from django.core.exceptions import ValidationError


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
