"""An individual's onboarding forms: personal details, contact, address, tax, due diligence.

Built on `customers.onboarding.forms.StepForm` (strict or lenient); they validate and hand back
values, customers.services writes them.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django import forms

from ..models import Customer
from .forms import (
    ADDRESS_FIELDS,
    PHONE_HELP,
    REQUIRED_ADDRESS,
    DateInput,
    StepForm,
    address_labels,
    address_widgets,
    check_adult_birth_date,
    clean_us_tin,
)


class PersonalDetailsForm(StepForm):
    required = ("first_name", "last_name", "date_of_birth", "nationality", "birth_country")

    class Meta:
        model = Customer
        fields = ["first_name", "last_name", "date_of_birth", "nationality", "birth_country"]
        labels = {
            "first_name": "First name",
            "last_name": "Last name",
            "birth_country": "Country of birth",
        }
        help_texts = {"first_name": "Include any middle names, as on the identity document."}
        widgets = {"date_of_birth": DateInput()}

    def clean_date_of_birth(self) -> dt.date | None:
        value: dt.date | None = self.cleaned_data.get("date_of_birth")
        if problem := check_adult_birth_date(value):
            raise forms.ValidationError(problem)
        return value


class ContactForm(StepForm):
    required = ("email",)

    class Meta:
        model = Customer
        fields = ["email", "phone"]
        labels = {"email": "Email address", "phone": "Phone number"}
        help_texts = {"phone": PHONE_HELP}

    def clean(self) -> dict[str, Any]:
        super().clean()
        self.clean_phone_number(self.instance.country, self.instance.nationality)
        return self.cleaned_data


class AddressForm(StepForm):
    required = REQUIRED_ADDRESS

    class Meta:
        model = Customer
        fields = list(ADDRESS_FIELDS)
        labels = address_labels()
        widgets = address_widgets()

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        self.clean_address()
        return cleaned


class TaxForm(StepForm):
    required = ("tax_number", "tax_residence_country")

    class Meta:
        model = Customer
        fields = ["tax_number", "tax_residence_country"]
        labels = {
            "tax_number": "Tax identification number",
            "tax_residence_country": "Country of tax residence",
        }
        help_texts = {"tax_number": "SSN or ITIN for US residents; the national tax number "
                                    "elsewhere."}  # fmt: skip

    def clean(self) -> dict[str, Any]:
        super().clean()
        clean_us_tin(self)
        return self.cleaned_data


US_ONLY_CDD = ("estimated_yearly_income", "industry_sector")


class DueDiligenceForm(StepForm):
    """The `cdd` answers; yearly income and industry only for US residents, as BVNK asks."""

    required = (
        "employment_status",
        "source_of_funds",
        "pep_status",
        "intended_use",
        "expected_monthly_volume",
        "expected_volume_currency",
    )
    extra_values = US_ONLY_CDD

    class Meta:
        model = Customer
        fields = [
            "employment_status",
            "source_of_funds",
            "pep_status",
            "intended_use",
            "expected_monthly_volume",
            "expected_volume_currency",
            "estimated_yearly_income",
            "industry_sector",
        ]
        labels = {
            "pep_status": "Politically exposed person (PEP) status",
            "intended_use": "Intended use of the account",
            "expected_monthly_volume": "Expected monthly volume",
            "expected_volume_currency": "Currency of the expected volume",
            "estimated_yearly_income": "Estimated yearly income",
            "industry_sector": "Industry sector of employment",
        }

    def __init__(self, *args: Any, us_resident: bool | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.us_resident = us_resident
        if us_resident is False:
            for name in US_ONLY_CDD:
                del self.fields[name]
        elif us_resident:
            for name in US_ONLY_CDD:
                self.fields[name].required = not self.lenient
        else:
            for name in US_ONLY_CDD:
                self.fields[name].help_text = "Only needed for US residents."
        volume = self.fields["expected_monthly_volume"]
        volume.widget.attrs.update({"min": "0.01", "step": "0.01", "inputmode": "decimal"})

    def clean_expected_monthly_volume(self) -> Decimal | None:
        value: Decimal | None = self.cleaned_data.get("expected_monthly_volume")
        if value is not None and value <= 0:
            raise forms.ValidationError("Enter an amount greater than 0.")
        return value

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        if self.us_resident is False:
            for name in US_ONLY_CDD:
                cleaned[name] = ""
        return cleaned
