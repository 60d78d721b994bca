"""Onboarding forms. They validate and hand back values; customers.services writes them.

Each step form runs in one of two modes. Strict ("Save and continue") asks for everything
the step needs. Lenient ("Save draft", "Back") checks only the format of what was typed,
so a half-filled page can be kept and come back to; the review page lists what is still
missing before anything can be submitted.
"""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any, cast

from django import forms
from django.core.validators import MaxValueValidator, MinValueValidator
from django.forms.utils import ErrorDict
from django.utils import timezone

from . import documents
from .models import Associate, Customer
from .validators import validate_e164_phone

ADULT_AGE = 18
OLDEST_AGE = 120

# ISO 3166-2:US codes of the states, DC and the inhabited territories.
US_STATES: dict[str, str] = {
    "AL": "Alabama", "AK": "Alaska", "AZ": "Arizona", "AR": "Arkansas", "CA": "California",
    "CO": "Colorado", "CT": "Connecticut", "DE": "Delaware", "FL": "Florida", "GA": "Georgia",
    "HI": "Hawaii", "ID": "Idaho", "IL": "Illinois", "IN": "Indiana", "IA": "Iowa",
    "KS": "Kansas", "KY": "Kentucky", "LA": "Louisiana", "ME": "Maine", "MD": "Maryland",
    "MA": "Massachusetts", "MI": "Michigan", "MN": "Minnesota", "MS": "Mississippi",
    "MO": "Missouri", "MT": "Montana", "NE": "Nebraska", "NV": "Nevada", "NH": "New Hampshire",
    "NJ": "New Jersey", "NM": "New Mexico", "NY": "New York", "NC": "North Carolina",
    "ND": "North Dakota", "OH": "Ohio", "OK": "Oklahoma", "OR": "Oregon", "PA": "Pennsylvania",
    "RI": "Rhode Island", "SC": "South Carolina", "SD": "South Dakota", "TN": "Tennessee",
    "TX": "Texas", "UT": "Utah", "VT": "Vermont", "VA": "Virginia", "WA": "Washington",
    "WV": "West Virginia", "WI": "Wisconsin", "WY": "Wyoming", "DC": "District of Columbia",
    "AS": "American Samoa", "GU": "Guam", "MP": "Northern Mariana Islands",
    "PR": "Puerto Rico", "VI": "U.S. Virgin Islands",
}  # fmt: skip
STATE_CHOICES = [("", "Not a US address"), *sorted(US_STATES.items(), key=lambda item: item[1])]

ADDRESS_FIELDS = ("address_line1", "address_line2", "city", "postal_code", "state_code", "country")
OPERATIONAL_FIELDS = tuple(f"operational_{name}" for name in ADDRESS_FIELDS)
PHONE_HELP = "International format, for example +447911123456."

# Browser autofill hints (WCAG 1.3.5) by field name.
AUTOCOMPLETE = {
    "first_name": "given-name",
    "last_name": "family-name",
    "date_of_birth": "bday",
    "email": "email",
    "phone": "tel",
    "address_line1": "address-line1",
    "address_line2": "address-line2",
    "city": "address-level2",
    "postal_code": "postal-code",
    "country": "country",
    "legal_name": "organization",
    "website": "url",
}


class DateInput(forms.DateInput):
    """A native date picker; its value must be YYYY-MM-DD."""

    input_type = "date"

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(attrs=attrs, format="%Y-%m-%d")


def today() -> dt.date:
    return timezone.localdate()


def years_before(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February in a year without one.
        return day.replace(year=day.year - years, day=28)


def check_adult_birth_date(value: dt.date | None) -> str | None:
    """Return why `value` is not the birth date of an adult, or None when it is."""
    if value is None:
        return None
    if value > today():
        return "The date of birth cannot be in the future."
    if value < years_before(today(), OLDEST_AGE):
        return "Check the year: this date of birth is more than 120 years ago."
    if value > years_before(today(), ADULT_AGE):
        return "The person must be 18 or older."
    return None


def _required_message(field: forms.Field, label: str) -> str:
    text = label[:1].lower() + label[1:] if label[1:2].islower() else label
    verb = "Choose" if isinstance(field.widget, forms.Select | forms.RadioSelect) else "Enter"
    if isinstance(field, forms.FileField):
        verb = "Choose a file for"
    return f"{verb} the {text}."


class StepForm(forms.ModelForm):
    """A form over one step of a draft: strict or lenient, never saving by itself.

    The instance is copied, so a refused form never leaves half-applied values on the
    customer the page renders.
    """

    lenient: bool
    # Fields a complete step needs; others are optional or conditionally required.
    required: tuple[str, ...] = ()
    # Required only in some cases (the help text says when): not labelled "optional".
    conditional: tuple[str, ...] = ("state_code", "operational_state_code")
    extra_values: tuple[str, ...] = ()

    def __init__(
        self,
        *args: Any,
        lenient: bool = False,
        bvnk_errors: dict[str, list[str]] | None = None,
        **kwargs: Any,
    ) -> None:
        if kwargs.get("instance") is not None:
            kwargs["instance"] = copy.copy(kwargs["instance"])
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
        self.lenient = lenient
        for name, field in self.fields.items():
            label = str(field.label or name)
            field.error_messages["required"] = _required_message(field, label)
            if name in self.required:
                field.required = True
            if name in self.conditional or name.startswith("operational_"):
                field.show_optional = False  # type: ignore[attr-defined]
            if name.endswith("state_code"):
                field.help_text = "Required for US addresses."
            if lenient:
                field.required = False
            if isinstance(field, forms.ChoiceField) and not isinstance(
                field.widget, forms.RadioSelect | forms.CheckboxSelectMultiple
            ):
                choices = list(cast(Iterable[Any], field.choices))
                if choices and choices[0][0] == "":
                    field.choices = [("", "Choose…"), *choices[1:]]
            if name in AUTOCOMPLETE:
                field.widget.attrs.setdefault("autocomplete", AUTOCOMPLETE[name])
        if bvnk_errors and not self.is_bound:
            self.show_errors(bvnk_errors)

    def show_errors(self, errors: dict[str, list[str]]) -> None:
        """Show errors BVNK returned for stored values on an unbound form."""
        self._errors = ErrorDict()
        self.cleaned_data = {}
        for name, messages in errors.items():
            field = name if name in self.fields else None
            for message in messages:
                self.add_error(field, message)

    def require(self, name: str, message: str | None = None) -> None:
        """Ask for a conditionally required field (strict mode only)."""
        if self.lenient or self.cleaned_data.get(name) not in (None, "", [], ()):
            return
        if name not in self.errors:
            text = message or str(self.fields[name].error_messages["required"])
            self.add_error(name, forms.ValidationError(text, code="required"))

    def clean_address(self, prefix: str = "") -> None:
        """US addresses need a valid state; a state on any other address is dropped."""
        country = self.cleaned_data.get(f"{prefix}country")
        state_name = f"{prefix}state_code"
        if str(country or "") == "US":
            self.require(state_name, "Choose the state for a US address.")
            state = self.cleaned_data.get(state_name)
            if state and state not in US_STATES and state_name not in self.errors:
                self.add_error(state_name, "Choose a US state from the list.")
        elif state_name in self.cleaned_data:
            self.cleaned_data[state_name] = ""

    def values(self) -> dict[str, Any]:
        """Return the model field values to store: what this step owns, nothing else."""
        names = [*self._meta.fields, *self.extra_values]  # type: ignore[misc]
        return {name: self.cleaned_data[name] for name in names if name in self.cleaned_data}


def _address_widgets(prefix: str = "") -> dict[str, forms.Widget]:
    return {f"{prefix}state_code": forms.Select(choices=STATE_CHOICES)}


def _address_labels(prefix: str = "", label_prefix: str = "") -> dict[str, str]:
    labels = {
        "address_line1": "Address line 1",
        "address_line2": "Address line 2",
        "city": "Town or city",
        "postal_code": "Postal code",
        "state_code": "State",
        "country": "Country",
    }
    if label_prefix:
        labels = {
            name: f"{label_prefix} {text[:1].lower()}{text[1:]}" for name, text in labels.items()
        }
    return {f"{prefix}{name}": text for name, text in labels.items()}


REQUIRED_ADDRESS = ("address_line1", "city", "postal_code", "country")


def _require_address(form: StepForm, prefix: str = "") -> None:
    for name in REQUIRED_ADDRESS:
        form.require(f"{prefix}{name}")
    form.clean_address(prefix)


# -- company --------------------------------------------------------------------------


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
        industries: Sequence[tuple[str, str]] | None = None,
        volumes: Sequence[tuple[str, str]] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self._set_reference_choices("industry_reference", industries, "industries")
        self._set_reference_choices("monthly_volumes_reference", volumes, "monthly volumes")

    def _set_reference_choices(
        self, name: str, choices: Sequence[tuple[str, str]] | None, what: str
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

    def clean_incorporation_date(self) -> dt.date | None:
        value: dt.date | None = self.cleaned_data.get("incorporation_date")
        if value is not None and value > today():
            raise forms.ValidationError("The date of incorporation cannot be in the future.")
        return value

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        us_with_ein = str(cleaned.get("tax_residence_country") or "") == "US" and cleaned.get(
            "tax_number"
        )
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
        labels = {**_address_labels(), **_address_labels("operational_", "Operating")}
        widgets = {**_address_widgets(), **_address_widgets("operational_")}

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
            _require_address(self, "operational_")
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


def same_person(a: Any, first_name: str, last_name: str, date_of_birth: Any) -> bool:
    return (
        a.first_name.strip().casefold() == first_name.strip().casefold()
        and a.last_name.strip().casefold() == last_name.strip().casefold()
        and a.date_of_birth == date_of_birth
    )


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
            **_address_labels(),
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
            **_address_widgets(),
        }

    def __init__(self, *args: Any, others: Sequence[Associate] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.others = list(others)
        if not self.is_bound and self.instance.pk:
            self.initial["roles"] = self.instance.roles
        self.fields["phone"].validators = [validate_e164_phone]
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


# -- individual --------------------------------------------------------------------------


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

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["phone"].validators = [validate_e164_phone]


class AddressForm(StepForm):
    required = REQUIRED_ADDRESS

    class Meta:
        model = Customer
        fields = list(ADDRESS_FIELDS)
        labels = _address_labels()
        widgets = _address_widgets()

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


US_ONLY_CDD = ("estimated_yearly_income", "industry_sector")


class DueDiligenceForm(StepForm):
    """The `cdd` answers; yearly income and industry only for US residents (2.4)."""

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


# -- documents, start, update -----------------------------------------------------------


class DocumentUploadForm(forms.Form):
    """One file for one document slot; the slot key names who and what it is for."""

    slot = forms.CharField(widget=forms.HiddenInput)
    file = forms.FileField(
        label="File",
        help_text="PDF, JPEG or PNG.",
        widget=forms.FileInput(attrs={"accept": documents.ACCEPT}),
        error_messages={
            "required": "Choose a file to upload.",
            "empty": "This file is empty.",
            "invalid": "No file was received. Choose the file again.",
        },
    )

    def __init__(
        self,
        *args: Any,
        slot_keys: Sequence[str] = (),
        too_large: bool = False,
        too_many: bool = False,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
        self.slot_keys = set(slot_keys)
        self.too_large = too_large
        self.too_many = too_many
        limit = documents.max_bytes()
        self.fields["file"].help_text = (
            f"PDF, JPEG or PNG, up to {limit // (1024 * 1024)} MB."
            if limit >= 1024 * 1024
            else f"PDF, JPEG or PNG, up to {limit} bytes."
        )
        if too_large:
            # The upload handler dropped the file: say why instead of "choose a file".
            self.fields["file"].error_messages["required"] = documents.too_large_message()
        self.checked: documents.CheckedFile | None = None

    def clean_slot(self) -> str:
        slot: str = self.cleaned_data["slot"]
        if slot not in self.slot_keys:
            raise forms.ValidationError("This document is not needed for this customer.")
        return slot

    def clean_file(self) -> Any:
        upload = self.cleaned_data.get("file")
        if self.too_many:
            # The upload handler dropped the extra files; store none of them.
            raise forms.ValidationError(
                "Upload one file at a time: this request carried several.", code="too_many"
            )
        if upload:
            self.checked = documents.check_upload(upload)
        return upload


class OnboardingStartForm(forms.Form):
    customer_type = forms.ChoiceField(
        label="What kind of customer is this?",
        choices=[
            (Customer.Type.COMPANY, "A company (or other legal entity)"),
            (Customer.Type.INDIVIDUAL, "An individual person"),
        ],
        widget=forms.RadioSelect,
        error_messages={"required": "Choose company or individual."},
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)


class CustomerDetailsForm(StepForm):
    """Details BVNK lets a partner change after creation (decision 3)."""

    required = REQUIRED_ADDRESS

    class Meta:
        model = Customer
        fields = ["email", "phone", *ADDRESS_FIELDS, "date_of_birth"]
        labels = {"email": "Contact email", "phone": "Contact phone", **_address_labels()}
        help_texts = {"phone": PHONE_HELP}
        widgets = {"date_of_birth": DateInput(), **_address_widgets()}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["phone"].validators = [validate_e164_phone]
        if self.instance.type != Customer.Type.INDIVIDUAL:
            del self.fields["date_of_birth"]
        else:
            self.fields["email"].required = self.fields["date_of_birth"].required = True

    def clean_date_of_birth(self) -> dt.date | None:
        value: dt.date | None = self.cleaned_data.get("date_of_birth")
        if problem := check_adult_birth_date(value):
            raise forms.ValidationError(problem)
        return value

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        self.clean_address()
        return cleaned
