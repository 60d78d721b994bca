"""The people behind a company customer: owners, controlling persons, signers."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django_countries.fields import CountryField

from ..crypto import BlindIndexField, EncryptedCharField, with_index_fields
from .base import PersonIdentity, PostalAddress
from .customers import Customer


class Associate(PostalAddress, PersonIdentity):
    """A person behind a company customer: beneficial owner, controlling person, signer."""

    class IdDocumentType(models.TextChoices):
        PASSPORT = "PASSPORT", "Passport"
        ID_CARD = "ID_CARD", "ID card"
        DRIVER_LICENSE = "DRIVER_LICENSE", "Driving licence"
        RESIDENCE_PERMIT = "RESIDENCE_PERMIT", "Residence permit"

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="associates")
    is_beneficial_owner = models.BooleanField("beneficial owner", default=False)
    is_controlling_person = models.BooleanField("controlling person", default=False)
    is_signer = models.BooleanField("signer", default=False)
    ownership_percentage = models.DecimalField(
        max_digits=5,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("100"))],
        help_text="Beneficial owners only.",
    )
    # Encrypted at rest (customers/crypto.py).
    tax_number = EncryptedCharField("tax identification number", max_length=50, blank=True)
    tax_number_hash = BlindIndexField(source="tax_number")
    tax_residence_country = CountryField(blank=True)
    id_document_type = models.CharField(
        "ID document type", max_length=20, choices=IdDocumentType.choices, blank=True
    )
    id_document_number = EncryptedCharField("ID document number", max_length=50, blank=True)
    id_document_issuing_country = CountryField("ID document issuing country", blank=True)
    id_document_expiry = models.DateField("ID document expiry date", null=True, blank=True)
    bvnk_person_reference = models.CharField(
        "BVNK person reference", max_length=64, blank=True, editable=False
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(ownership_percentage__isnull=True)
                | Q(ownership_percentage__gte=0, ownership_percentage__lte=100),
                name="associate_ownership_in_range",
            ),
        ]

    def __str__(self) -> str:
        return self.full_name or f"Associate {self.pk}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        """Keep the tax number's keyed hash in step, also on saves of a few fields."""
        if kwargs.get("update_fields") is not None:
            kwargs["update_fields"] = with_index_fields(Associate, kwargs["update_fields"])
        super().save(*args, **kwargs)
        associate_names_store(self.customer_id)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        deleted = super().delete(*args, **kwargs)
        associate_names_store(self.customer_id)
        return deleted

    @property
    def roles(self) -> list[str]:
        """The associate's roles as the keys of wire.ASSOCIATE_ROLE_TITLES."""
        flags = {
            "BENEFICIAL_OWNER": self.is_beneficial_owner,
            "CONTROLLING_PERSON": self.is_controlling_person,
            "SIGNER": self.is_signer,
        }
        return [role for role, held in flags.items() if held]

    @property
    def role_labels(self) -> str:
        labels = {
            "BENEFICIAL_OWNER": "Beneficial owner",
            "CONTROLLING_PERSON": "Controlling person",
            "SIGNER": "Signer",
        }
        return ", ".join(labels[role] for role in self.roles)


def associate_names_store(customer_id: int) -> None:
    """Copy a company's associates' names onto it, for My customers' search."""
    people = Associate.objects.filter(customer_id=customer_id).order_by("created_at", "id")
    names = " · ".join(
        f"{first} {last}".strip() for first, last in people.values_list("first_name", "last_name")
    )
    # Not through save(): a derived copy is no change to the customer (updated_at).
    Customer.objects.filter(pk=customer_id).update(associate_names=names[:500])


def same_person(a: Any, first_name: str, last_name: str, date_of_birth: Any) -> bool:
    """Tell whether `a` (an associate or a form's values) is the person named (case aside)."""
    return (
        a.first_name.strip().casefold() == first_name.strip().casefold()
        and a.last_name.strip().casefold() == last_name.strip().casefold()
        and a.date_of_birth == date_of_birth
    )
