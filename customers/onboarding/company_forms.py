"""A company's onboarding forms: its details, its addresses and each of its associates.

Built on `customers.onboarding.forms.StepForm` (strict or lenient); they validate and hand back
values, customers.services writes them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal
from typing import Any, cast

from django import forms
from django.core.validators import MaxValueValidator, MinValueValidator

from ..models import Associate, Customer, same_person
from ..validators import normalise_us_ein
from .forms import (
    ADDRESS_FIELDS,
    OPERATIONAL_FIELDS,
    PHONE_HELP,
    REQUIRED_ADDRESS,
    DateInput,
    StepForm,
    address_labels,
    address_widgets,
    check_adult_birth_date,
    clean_us_tin,
    require_address,
    today,
)


class CompanyDetailsForm(StepForm):
    industry_reference = forms.ChoiceField(label="Industry", choices=[])
    monthly_volumes_reference = forms.ChoiceField(label="Expected monthly volume", choices=[])
    website = forms.URLField(label="Website", required=False, max_length=200, assume_scheme="https")
    required = (
        "legal_name",
        "entity_type",
        "tax_residence_country",
        "incorporation_date",
        "industry_reference",
        "monthly_volumes_reference",
    )
    conditional = ("registration_number",)

    class Meta:
        model = Customer
        fields = [
            "legal_name",
            "entity_type",
            "registration_number",
            "tax_number",
            "tax_residence_country",
            "incorporation_date",
            "industry_reference",
            "monthly_volumes_reference",
            "website",
            "description",
        ]
        labels = {
            "legal_name": "Legal name",
            "tax_number": "Tax number (EIN for US companies)",
            "tax_residence_country": "Country of tax residence",
            "incorporation_date": "Date of incorporation",
        }
        help_texts = {
            "legal_name": "Exactly as on the certificate of incorporation.",
            "registration_number": "US companies may leave this empty when they give an EIN.",
        }
        widgets = {
            "incorporation_date": DateInput(),
            "description": forms.Textarea(attrs={"rows": 3}),
        }

    def __init__(
        self,
        *args: Any,
        industries: Sequence[tuple[str, Any]] | None = None,
        volumes: Sequence[tuple[str, Any]] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self._set_reference_choices("industry_reference", industries, "industries")
        self._set_reference_choices("monthly_volumes_reference", volumes, "monthly volumes")

    def _set_reference_choices(
        self, name: str, choices: Sequence[tuple[str, Any]] | None, what: str
    ) -> None:
        field = cast(forms.ChoiceField, self.fields[name])
        stored = str(getattr(self.instance, name) or "")
        if choices is None:
            # BVNK's list is unavailable: keep what was chosen before, ask again later.
            field.choices = [("", "Choose…"), *([(stored, stored)] if stored else [])]
            field.help_text = (
                f"BVNK's list of {what} could not be loaded just now. "
                "You can save the draft and choose later."
            )
        else:
            field.choices = [("", "Choose…"), *choices]
            if any(isinstance(label, list | tuple) for _, label in choices):
                field.help_text = "The business's activity, as BVNK lists it under each industry."

    def clean_incorporation_date(self) -> dt.date | None:
        value: dt.date | None = self.cleaned_data.get("incorporation_date")
        if value is not None and value > today():
            raise forms.ValidationError("The date of incorporation cannot be in the future.")
        return value

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        us = str(cleaned.get("tax_residence_country") or "") == "US"
        if us and cleaned.get("tax_number"):
            try:
                cleaned["tax_number"] = normalise_us_ein(cleaned["tax_number"])
            except forms.ValidationError as error:
                self.add_error("tax_number", error)
        # BVNK asks a US company for its registration number or a well-formed EIN.
        us_with_ein = us and cleaned.get("tax_number") and "tax_number" not in self.errors
        if not us_with_ein:
            self.require(
                "registration_number",
                "Enter the registration number (a US company may give its EIN instead).",
            )
        return cleaned


class CompanyAddressForm(StepForm):
    has_operational_address = forms.BooleanField(
        label="The company operates from a different address", required=False
    )
    required = REQUIRED_ADDRESS
    extra_values = OPERATIONAL_FIELDS

    class Meta:
        model = Customer
        fields = [*ADDRESS_FIELDS, *OPERATIONAL_FIELDS]
        labels = {**address_labels(), **address_labels("operational_", "Operating")}
        widgets = {**address_widgets(), **address_widgets("operational_")}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not self.is_bound:
            self.initial["has_operational_address"] = bool(
                self.instance.operational_address_line1 or self.instance.operational_country
            )

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        self.clean_address()
        if cleaned.get("has_operational_address"):
            require_address(self, "operational_")
        else:
            for name in OPERATIONAL_FIELDS:
                cleaned[name] = ""
                self.errors.pop(name, None)
        return cleaned


# -- associates ------------------------------------------------------------------------

ROLE_CHOICES = [
    ("BENEFICIAL_OWNER", "Beneficial owner"),
    ("CONTROLLING_PERSON", "Controlling person (director)"),
    ("SIGNER", "Signer (authorised representative)"),
]
ROLE_FIELDS = {
    "BENEFICIAL_OWNER": "is_beneficial_owner",
    "CONTROLLING_PERSON": "is_controlling_person",
    "SIGNER": "is_signer",
}


class AssociateForm(StepForm):
    roles = forms.MultipleChoiceField(
        label="Roles",
        choices=ROLE_CHOICES,
        widget=forms.CheckboxSelectMultiple,
        help_text="Choose every role this person holds.",
    )
    required = (
        "roles",
        "first_name",
        "last_name",
        "date_of_birth",
        "nationality",
        "email",
        *REQUIRED_ADDRESS,
    )
    conditional = ("ownership_percentage", "state_code")
    field_order = ["roles", "ownership_percentage"]  # as the page shows them

    class Meta:
        model = Associate
        fields = [
            "first_name",
            "last_name",
            "date_of_birth",
            "nationality",
            "birth_country",
            "email",
            "phone",
            "ownership_percentage",
            *ADDRESS_FIELDS,
            "tax_number",
            "tax_residence_country",
            "id_document_type",
            "id_document_number",
            "id_document_issuing_country",
            "id_document_expiry",
        ]
        labels = {
            "first_name": "First name",
            "last_name": "Last name",
            "birth_country": "Country of birth",
            "email": "Email address",
            "ownership_percentage": "Ownership (%)",
            "tax_residence_country": "Country of tax residence",
            **address_labels(),
        }
        help_texts = {
            "first_name": "Include any middle names.",
            "phone": PHONE_HELP,
            "ownership_percentage": "Beneficial owners only: their share of the company.",
            "tax_number": "SSN or ITIN for US persons.",
            "id_document_type": "Non-US persons: the document they will upload.",
        }
        widgets = {
            "date_of_birth": DateInput(),
            "id_document_expiry": DateInput(),
            **address_widgets(),
        }

    def __init__(self, *args: Any, others: Sequence[Associate] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.others = list(others)
        if not self.is_bound and self.instance.pk:
            self.initial["roles"] = self.instance.roles
        percentage = self.fields["ownership_percentage"]
        out_of_range = "Enter a percentage between 0 and 100."
        percentage.validators = [
            MinValueValidator(Decimal("0"), message=out_of_range),
            MaxValueValidator(Decimal("100"), message=out_of_range),
        ]
        percentage.widget.attrs.update({"min": "0", "max": "100", "step": "0.01"})

    def clean_date_of_birth(self) -> dt.date | None:
        value: dt.date | None = self.cleaned_data.get("date_of_birth")
        if problem := check_adult_birth_date(value):
            raise forms.ValidationError(problem)
        return value

    def clean_id_document_expiry(self) -> dt.date | None:
        value: dt.date | None = self.cleaned_data.get("id_document_expiry")
        if value is not None and value < today():
            raise forms.ValidationError("This document has expired; ask for a valid one.")
        return value

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        self.clean_address()
        self.clean_phone_number(cleaned.get("country"), cleaned.get("nationality"))
        roles = cleaned.get("roles") or []
        if "BENEFICIAL_OWNER" in roles:
            self.require(
                "ownership_percentage", "Enter the beneficial owner's ownership percentage."
            )
            self._check_total_ownership(cleaned.get("ownership_percentage"))
        else:
            # Only beneficial owners hold a share that BVNK is told about.
            cleaned["ownership_percentage"] = None
            self.errors.pop("ownership_percentage", None)
        if cleaned.get("tax_number") and not cleaned.get("tax_residence_country"):
            self.add_error("tax_residence_country", "Choose the country this tax number is from.")
        if cleaned.get("tax_residence_country") and not cleaned.get("tax_number"):
            self.add_error("tax_number", "Enter the tax number, or clear its country.")
        clean_us_tin(self)
        document = ("id_document_type", "id_document_number", "id_document_issuing_country")
        if any(cleaned.get(name) for name in document):
            for name in document:
                if not cleaned.get(name) and name not in self.errors:
                    self.add_error(name, "Give the type, number and issuing country together.")
        self._check_duplicate(cleaned)
        return cleaned

    def _check_total_ownership(self, mine: Decimal | None) -> None:
        if mine is None:
            return
        total = mine + sum(
            (a.ownership_percentage or Decimal(0)) for a in self.others if a.is_beneficial_owner
        )
        if total > 100:
            self.add_error(
                "ownership_percentage",
                f"With this, ownership adds up to {total.normalize():f}% across all "
                "associates. The total cannot be more than 100%.",
            )

    def _check_duplicate(self, cleaned: dict[str, Any]) -> None:
        first, last, born = (
            cleaned.get("first_name"),
            cleaned.get("last_name"),
            cleaned.get("date_of_birth"),
        )
        if not (first and last and born):
            return
        if any(same_person(other, first, last, born) for other in self.others):
            raise forms.ValidationError(
                f"{first} {last}, born {born:%d %B %Y}, is already an associate. "
                "Give that person every role they hold instead of adding them twice.",
                code="duplicate",
            )

    def values(self) -> dict[str, Any]:
        values = super().values()
        roles = set(self.cleaned_data.get("roles") or [])
        for role, name in ROLE_FIELDS.items():
            values[name] = role in roles
        return values
