"""What several models share: the address and identity fields, the document kinds."""

from __future__ import annotations

from typing import Any

from django.db import models
from django_countries.fields import CountryField

from ..bvnk import wire
from ..crypto import BlindIndexField, EncryptedCharField, EncryptedDateField, EncryptedEmailField
from ..validators import validate_e164_phone


def wire_choices(mapping: dict[Any, str]) -> list[tuple[Any, str]]:
    """Turn a table of wire values and labels into model field choices."""
    return list(mapping.items())


DOCUMENT_KINDS = {**wire.COMPANY_DOCUMENTS, **wire.PERSON_DOCUMENTS}


class PostalAddress(models.Model):
    address_line1 = models.CharField("address line 1", max_length=200, blank=True)
    address_line2 = models.CharField("address line 2", max_length=200, blank=True)
    city = models.CharField(max_length=100, blank=True)
    postal_code = models.CharField(max_length=20, blank=True)
    state_code = models.CharField(
        "state", max_length=2, blank=True, help_text="Two-letter state code; US addresses only."
    )
    country = CountryField(blank=True)

    class Meta:
        abstract = True


class PersonIdentity(models.Model):
    """What BVNK asks of every natural person: the individual customer or an associate."""

    first_name = models.CharField(max_length=100, blank=True, help_text="Include any middle names.")
    last_name = models.CharField(max_length=100, blank=True)
    # Encrypted at rest (customers/crypto.py), a date in Python.
    date_of_birth = EncryptedDateField(null=True, blank=True)
    nationality = CountryField(blank=True)
    birth_country = CountryField(blank=True)
    # Contacts encrypted at rest too; staff find a customer by a full email address
    # through its keyed hash (customers/dashboard/listing.py search_condition).
    email = EncryptedEmailField(blank=True)
    email_hash = BlindIndexField(source="email", kind="email")
    phone = EncryptedCharField(
        max_length=20, blank=True, validators=[validate_e164_phone], help_text="E.164 format."
    )

    class Meta:
        abstract = True

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()
