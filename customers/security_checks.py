"""System checks for the security settings: encryption keys, second factor, scanner."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, Warning, register
from django.core.exceptions import ImproperlyConfigured

from . import crypto, scanning


@register(Tags.security)
def check_security_settings(app_configs: Any, **kwargs: Any) -> list[CheckMessage]:
    """Malformed values fail everywhere, not only at deploy time."""
    errors: list[CheckMessage] = []
    try:
        crypto.keys()
    except ImproperlyConfigured as problem:
        if settings.FIELD_ENCRYPTION_KEYS:  # missing keys are the deploy check's business
            errors.append(Error(str(problem), id="customers.E010"))
    try:
        crypto.search_index_keys()
    except ImproperlyConfigured as problem:
        if settings.SEARCH_INDEX_KEYS:  # missing keys are the deploy check's business
            errors.append(Error(str(problem), id="customers.E017"))
    if scanning.configured():
        try:
            scanning.scanner_address()
        except ImproperlyConfigured as problem:
            errors.append(Error(str(problem), id="customers.E011"))
    return errors


@register(Tags.security, deploy=True)
def check_security_deploy(app_configs: Any, **kwargs: Any) -> list[CheckMessage]:
    errors: list[CheckMessage] = []
    if not settings.FIELD_ENCRYPTION_KEYS:
        errors.append(
            Error(
                "FIELD_ENCRYPTION_KEYS is not set: personal data cannot be encrypted.",
                hint='Set it to a key from: python -c "from cryptography.fernet import '
                'Fernet; print(Fernet.generate_key().decode())"',
                id="customers.E012",
            )
        )
    if not settings.SEARCH_INDEX_KEYS:
        errors.append(
            Error(
                "SEARCH_INDEX_KEYS is not set: email addresses cannot be made searchable.",
                hint="Set it to a secret of its own, not an encryption key: "
                'python -c "import secrets; print(secrets.token_hex(32))"',
                id="customers.E018",
            )
        )
    if not settings.OTP_REQUIRED:
        errors.append(
            Error(
                "OTP_REQUIRED is off: staff would log in with a password alone.",
                hint="Unset OTP_REQUIRED (it defaults to on).",
                id="customers.E013",
            )
        )
    if not settings.CLAMAV_URL:
        errors.append(
            Warning(
                "CLAMAV_URL is not set: uploaded documents are not scanned for malware.",
                hint="Run clamd and set CLAMAV_URL=tcp://HOST:3310 or unix:///PATH.",
                id="customers.W014",
            )
        )
    if settings.SESSION_IDLE_SECONDS > settings.SESSION_COOKIE_AGE:
        errors.append(
            Warning(
                "SESSION_IDLE_SECONDS exceeds SESSION_COOKIE_AGE; the idle limit never applies.",
                id="customers.W015",
            )
        )
    return errors
