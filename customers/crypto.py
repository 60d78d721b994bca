"""Personal data encrypted at the application level: tax numbers, ID numbers, birth dates.

Values are Fernet tokens (AES-128-CBC + HMAC-SHA256) under FIELD_ENCRYPTION_KEYS, a list
of keys, newest first: the newest encrypts, all decrypt, so a key can be rotated by
putting a new one in front and running `manage.py reencrypt_personal_data` before the
old one is removed. The database (and its backups) only ever hold ciphertext.

A Fernet token differs on every write, so an encrypted column cannot be searched. Where
an exact match is needed, a keyed hash of the normalised value sits beside it (a "blind
index", HMAC-SHA256): for tax numbers under a key derived from each Fernet key, for email
addresses under SEARCH_INDEX_KEYS, secrets of their own. Lookups try the hash under every
configured key, writes use the newest.
"""

from __future__ import annotations

import binascii
import datetime as dt
import functools
import hashlib
import hmac
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django import forms
from django.conf import settings
from django.core.exceptions import FieldError, ImproperlyConfigured
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models.functions import Cast
from django.db.models.lookups import Exact, IsNull

_NOT_SEPARATORS = re.compile(r"[^0-9A-Z]")


class UndecryptableValue(Exception):
    """A stored value that none of FIELD_ENCRYPTION_KEYS decrypts (a key was dropped)."""


def keys() -> tuple[str, ...]:
    """The configured Fernet keys, newest first; ImproperlyConfigured if none or malformed."""
    raw: Any = settings.FIELD_ENCRYPTION_KEYS
    if isinstance(raw, str):
        raw = raw.split(",")
    found = tuple(str(key).strip() for key in raw if str(key).strip())
    if not found:
        raise ImproperlyConfigured(
            "FIELD_ENCRYPTION_KEYS is not set, so personal data cannot be encrypted or read."
        )
    for key in found:
        try:
            Fernet(key)
        except (ValueError, TypeError, binascii.Error):
            raise ImproperlyConfigured(
                "FIELD_ENCRYPTION_KEYS holds a value that is not a Fernet key (32 url-safe "
                "base64-encoded bytes)."
            ) from None
    return found


@functools.lru_cache(maxsize=8)
def _fernet(configured: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([Fernet(key) for key in configured])


@functools.lru_cache(maxsize=8)
def _index_keys(configured: tuple[str, ...]) -> tuple[bytes, ...]:
    return tuple(
        hashlib.sha256(b"portal.blind-index:" + key.encode()).digest() for key in configured
    )


MIN_SEARCH_KEY_LENGTH = 32


def search_index_keys() -> tuple[bytes, ...]:
    """SEARCH_INDEX_KEYS, newest first; ImproperlyConfigured if none or one is short."""
    raw: Any = settings.SEARCH_INDEX_KEYS
    if isinstance(raw, str):
        raw = raw.split(",")
    found = tuple(str(key).strip() for key in raw if str(key).strip())
    if not found:
        raise ImproperlyConfigured(
            "SEARCH_INDEX_KEYS is not set, so email addresses cannot be made searchable."
        )
    if any(len(key) < MIN_SEARCH_KEY_LENGTH for key in found):
        raise ImproperlyConfigured(
            f"SEARCH_INDEX_KEYS holds a key shorter than {MIN_SEARCH_KEY_LENGTH} characters."
        )
    return tuple(key.encode() for key in found)


def _keys_for(kind: str) -> tuple[bytes, ...]:
    return _index_keys(keys()) if kind == "identifier" else search_index_keys()


def encrypt(text: str) -> str:
    return _fernet(keys()).encrypt(text.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return _fernet(keys()).decrypt(token.encode()).decode()
    except InvalidToken:
        raise UndecryptableValue(
            "A stored value cannot be decrypted with FIELD_ENCRYPTION_KEYS (was a key removed "
            "before `manage.py reencrypt_personal_data` ran?)."
        ) from None


def normalise_identifier(value: str) -> str:
    """Return a tax or document number as compared: upper case, no spaces or punctuation."""
    return _NOT_SEPARATORS.sub("", (value or "").upper())


def normalise_email(value: str) -> str:
    """Return an email address as compared: trimmed, lower case."""
    return (value or "").strip().lower()


# How each kind of blind index normalises its value; the kind is part of the hashed
# text, so equal strings of different kinds never share a hash.
NORMALISERS = {"identifier": normalise_identifier, "email": normalise_email}


def _normalised(value: str, kind: str) -> str:
    normalised = NORMALISERS[kind](value)
    if not normalised or kind == "identifier":
        return normalised  # identifiers keep the hashes stored before kinds existed
    return f"{kind}:{normalised}"


def blind_index(value: str, kind: str = "identifier") -> str:
    """The keyed hash stored beside an encrypted value ("" for an empty one)."""
    normalised = _normalised(value, kind)
    if not normalised:
        return ""
    key = _keys_for(kind)[0]
    return hmac.new(key, normalised.encode(), hashlib.sha256).hexdigest()


def blind_indexes(value: str, kind: str = "identifier") -> list[str]:
    """The hashes `value` may be stored under: one per configured key, for lookups."""
    normalised = _normalised(value, kind)
    if not normalised:
        return []
    return [
        hmac.new(key, normalised.encode(), hashlib.sha256).hexdigest() for key in _keys_for(kind)
    ]


# -- model fields -----------------------------------------------------------------------


class _OnlyEmptyExact(Exact):
    """`field=""` or `field=None` still work; any other value cannot match ciphertext."""

    def get_prep_lookup(self) -> Any:
        if self.rhs not in ("", None):
            raise FieldError(
                f"{self.lhs.target.name} is encrypted: search it through its blind index."
            )
        return super().get_prep_lookup()


class _EncryptedMixin:
    """Ciphertext in a text column; only `isnull` and empty `exact` lookups."""

    def get_internal_type(self) -> str:
        return "TextField"

    def get_lookup(self, lookup_name: str) -> Any:
        return {"isnull": IsNull, "exact": _OnlyEmptyExact}.get(lookup_name)

    def get_transform(self, lookup_name: str) -> Any:
        return None


class EncryptedCharField(_EncryptedMixin, models.CharField):  # type: ignore[misc]
    """A CharField (max_length checks the plaintext) stored encrypted; "" stays ""."""

    description = "String, encrypted"

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> Any:
        if value in (None, ""):
            return value
        return decrypt(value)

    def get_prep_value(self, value: Any) -> Any:
        value = super().get_prep_value(value)
        if value in (None, ""):
            return value
        return encrypt(str(value))


class EncryptedEmailField(EncryptedCharField):
    """An email address stored encrypted; forms and validation as for an EmailField."""

    description = "Email address, encrypted"
    default_validators = models.EmailField.default_validators

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", 254)
        super().__init__(*args, **kwargs)

    def formfield(self, **kwargs: Any) -> Any:  # type: ignore[override]  # same call, any kwargs
        return super().formfield(**{"form_class": forms.EmailField, **kwargs})


class EncryptedDateField(_EncryptedMixin, models.DateField):  # type: ignore[misc]
    """A date in Python, its ISO form encrypted in the database."""

    description = "Date, encrypted"

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> Any:
        if value in (None, ""):
            return None
        return dt.date.fromisoformat(decrypt(value))

    def get_db_prep_value(self, value: Any, connection: Any, prepared: bool = False) -> Any:
        if not prepared:
            value = self.get_prep_value(value)
        if value is None:
            return None
        return encrypt(value.isoformat())


class EncryptedJSONField(_EncryptedMixin, models.Field):  # type: ignore[type-arg]
    """A JSON document stored as one Fernet token: BVNK bodies and BVNK's copy of a customer.

    The whole document is encrypted, not chosen keys, so no personal field BVNK adds
    later is left readable. The token's plaintext is the JSON exactly as it was built,
    so a stored body is sent byte for byte as first serialised (jsonb would reorder it).
    """

    description = "JSON, encrypted"

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> Any:
        if value in (None, ""):
            return None if value is None else {}
        return self.from_plaintext(decrypt(value))

    @staticmethod
    def from_plaintext(text: str) -> Any:
        return json.loads(text)

    def to_python(self, value: Any) -> Any:
        return value

    def get_prep_value(self, value: Any) -> Any:
        if value is None:
            return None
        return encrypt(json.dumps(value, cls=DjangoJSONEncoder))

    def value_to_string(self, obj: models.Model) -> str:
        return json.dumps(self.value_from_object(obj), cls=DjangoJSONEncoder)


class BlindIndexField(models.CharField):  # type: ignore[type-arg]
    """The keyed hash of another field, computed on every save that includes it."""

    def __init__(
        self, *args: Any, source: str = "", kind: str = "identifier", **kwargs: Any
    ) -> None:
        self.source = source
        self.kind = kind
        kwargs.setdefault("max_length", 64)
        kwargs.setdefault("blank", True)
        kwargs.setdefault("editable", False)
        kwargs.setdefault("db_index", True)
        super().__init__(*args, **kwargs)

    def deconstruct(self) -> Any:
        name, path, args, kwargs = super().deconstruct()
        kwargs["source"] = self.source
        if self.kind != "identifier":
            kwargs["kind"] = self.kind
        return name, path, args, kwargs

    def pre_save(self, model_instance: models.Model, add: bool) -> str:
        value = blind_index(getattr(model_instance, self.source) or "", self.kind)
        setattr(model_instance, self.attname, value)
        return value


def with_index_fields(model: type[models.Model], update_fields: Iterable[str]) -> set[str]:
    """Add to `update_fields` the blind indexes of the fields it names."""
    names = set(update_fields)
    for each in model._meta.concrete_fields:
        if isinstance(each, BlindIndexField) and each.source in names:
            names.add(each.name)
    return names


# -- key rotation -----------------------------------------------------------------------


@dataclass
class ReencryptReport:
    rows: int = 0
    failures: list[str] = field(default_factory=list)


def _encrypted_fields(model: type[models.Model]) -> list[models.Field[Any, Any]]:
    return [
        each
        for each in model._meta.concrete_fields
        if isinstance(each, EncryptedCharField | EncryptedDateField | EncryptedJSONField)
    ]


def encrypted_models(models_: Iterable[type[models.Model]]) -> list[type[models.Model]]:
    """The models among `models_` with at least one encrypted field."""
    return [model for model in models_ if _encrypted_fields(model)]


def personal_data_reencrypt(
    *, model_classes: Iterable[type[models.Model]], batch: int = 500
) -> ReencryptReport:
    """Encrypt every personal value of `model_classes` again under the newest key; redo the indexes.

    Rows a configured key cannot decrypt are listed in the report and left as they are.
    """
    report = ReencryptReport()
    for model in model_classes:
        encrypted = _encrypted_fields(model)
        indexes = [f for f in model._meta.concrete_fields if isinstance(f, BlindIndexField)]
        # Read the ciphertext as text, so an undecryptable row is reported, not raised.
        raw = {f"raw_{f.name}": Cast(f.name, models.TextField()) for f in encrypted}
        rows = model._default_manager.order_by("pk").annotate(**raw)
        for pk, *tokens in rows.values_list("pk", *raw).iterator(chunk_size=batch):
            values: dict[str, Any] = {}
            try:
                for each, token in zip(encrypted, tokens, strict=True):
                    plain = decrypt(token) if token else token
                    if isinstance(each, EncryptedDateField) and plain:
                        values[each.name] = dt.date.fromisoformat(plain)
                    elif isinstance(each, EncryptedJSONField) and plain:
                        values[each.name] = each.from_plaintext(plain)
                    else:
                        values[each.name] = plain if plain is not None else None
            except UndecryptableValue:
                report.failures.append(f"{model.__name__} {pk}")
                continue
            for index in indexes:
                values[index.name] = blind_index(values.get(index.source) or "", index.kind)
            model._default_manager.filter(pk=pk).update(**values)
            report.rows += 1
    return report
