"""Onboarding forms: the step forms' shared base, and the forms outside the steps.

They validate and hand back values; customers.services writes them.

Each step form runs in one of two modes. Strict ("Save and continue") asks for everything
the step needs. Lenient ("Save draft", "Back") checks only the format of what was typed,
so a half-filled page can be kept and come back to; the review page lists what is still
missing before anything can be submitted.

The step forms build on `StepForm` and the address and birth-date helpers here: a
company's in `company_forms.py`, an individual's in
`individual_forms.py`. Here too: the document upload, the start page and the
details a partner may update after creation.
"""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Collection, Iterable, Sequence
from typing import Any, cast

from django import forms
from django.forms.utils import ErrorDict
from django.utils import timezone

from .. import documents
from ..models import Customer
from ..validators import (
    normalise_phone,
    normalise_us_tin,
    normalise_us_zip,
    validate_e164_phone,
    validate_name,
)
from .slots import IDENTITY_NAMES, Slot, SlotGroup

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
PHONE_HELP = (
    "In the national format of the country given (07911 123456 for the UK), "
    "or international with + (+447911123456)."
)
NAME_FIELDS = ("first_name", "last_name", "legal_name")

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


def _in_sentence(label: str) -> str:
    """Lower-case a label's first letter for use mid-sentence, unless it starts an acronym."""
    return label[:1].lower() + label[1:] if label[1:2].islower() else label


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
            if name in NAME_FIELDS:
                field.validators.append(validate_name)
            if name == "phone":
                # Read in clean() with the country it belongs to (`clean_phone_number`).
                field.validators = [v for v in field.validators if v is not validate_e164_phone]
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

    def clean_phone_number(self, *countries: Any) -> None:
        """Store the phone in E.164, read in the national format of the first known country."""
        value = self.cleaned_data.get("phone")
        if not value or "phone" in self.errors:
            return
        country = next((str(c) for c in countries if c), "")
        try:
            self.cleaned_data["phone"] = normalise_phone(value, country)
        except forms.ValidationError as error:
            self.add_error("phone", error)

    def clean_address(self, prefix: str = "") -> None:
        """US addresses need a valid state and ZIP code; a state on any other is dropped."""
        country = self.cleaned_data.get(f"{prefix}country")
        state_name = f"{prefix}state_code"
        if str(country or "") == "US":
            self.require(state_name, "Choose the state for a US address.")
            zip_name = f"{prefix}postal_code"
            if self.cleaned_data.get(zip_name) and zip_name not in self.errors:
                try:
                    self.cleaned_data[zip_name] = normalise_us_zip(self.cleaned_data[zip_name])
                except forms.ValidationError as error:
                    self.add_error(zip_name, error)
            state = self.cleaned_data.get(state_name)
            if state and state not in US_STATES and state_name not in self.errors:
                self.add_error(state_name, "Choose a US state from the list.")
        elif state_name in self.cleaned_data:
            self.cleaned_data[state_name] = ""

    def values(self) -> dict[str, Any]:
        """Return the model field values to store: what this step owns, nothing else."""
        names = [*self._meta.fields, *self.extra_values]  # type: ignore[misc]
        return {name: self.cleaned_data[name] for name in names if name in self.cleaned_data}


def clean_us_tin(form: forms.BaseForm) -> None:
    """A US tax number is an SSN or ITIN: check its shape and store it as NNN-NN-NNNN."""
    cleaned = form.cleaned_data
    if str(cleaned.get("tax_residence_country") or "") != "US" or not cleaned.get("tax_number"):
        return
    try:
        cleaned["tax_number"] = normalise_us_tin(cleaned["tax_number"])
    except forms.ValidationError as error:
        form.add_error("tax_number", error)


def address_widgets(prefix: str = "") -> dict[str, forms.Widget]:
    return {f"{prefix}state_code": forms.Select(choices=STATE_CHOICES)}


def address_labels(prefix: str = "", label_prefix: str = "") -> dict[str, str]:
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


def require_address(form: StepForm, prefix: str = "") -> None:
    for name in REQUIRED_ADDRESS:
        form.require(f"{prefix}{name}")
    form.clean_address(prefix)


# -- documents, start, update -----------------------------------------------------------


class DocumentsForm(forms.Form):
    """One file input per document slot of a step: any of them chosen, all sent at once.

    Each file is checked on its own (content, size, malware scan in `documents.check_upload`).
    The form reports a problem on the slot it concerns and keeps the files that passed in
    `accepted`, so the view stores those even when another file was refused.
    """

    def __init__(
        self,
        *args: Any,
        groups: Sequence[SlotGroup] = (),
        too_large: Collection[str] = (),
        repeated: Collection[str] = (),
        too_many: bool = False,
        leaving: bool = False,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
        self.leaving = leaving  # Continue or Back: no file chosen is fine.
        self.slots = {slot.key: slot for group in groups for slot in group.slots}
        # The identity chooser of each slot whose document type is one of several.
        self.chooser = {
            slot.key: group.id_type_field
            for group in groups
            if group.id_types
            for slot in group.slots
            if slot.alternative
        }
        for group in groups:
            if group.id_types:
                self.fields[group.id_type_field] = forms.ChoiceField(
                    label=f"Which identity document for {group.title}?",
                    choices=group.id_types,
                    widget=forms.RadioSelect,
                    required=False,
                    initial=group.id_type_chosen,
                )
        self.too_large = set(too_large)
        self.repeated = set(repeated)
        self.too_many = too_many
        self.accepted: list[tuple[Slot, Any, documents.CheckedFile]] = []
        for key, slot in self.slots.items():
            self.fields[key] = forms.FileField(
                label=slot.label,
                required=False,
                widget=forms.FileInput(
                    attrs={"accept": documents.ACCEPT, "id": f"{slot.html_id}-file"}
                ),
                error_messages={
                    "empty": "This file is empty.",
                    "invalid": "No file was received. Choose the file again.",
                },
            )

    @property
    def help_text(self) -> str:
        limit = documents.max_bytes()
        size = f"{limit // (1024 * 1024)} MB" if limit >= 1024 * 1024 else f"{limit} bytes"
        return f"PDF, JPEG or PNG, up to {size} each."

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if self.too_many:
            # The upload handler dropped the files past the limit: store none of them.
            raise forms.ValidationError(
                f"Too many files in one upload: send at most {documents.MAX_FILES_PER_REQUEST}.",
                code="too_many",
            )
        for key, slot in self.slots.items():
            upload = cleaned.get(key)
            if key in self.repeated:
                self.add_error(
                    key, "Choose one file for this document; several were sent. None was stored."
                )
            elif key in self.too_large:
                # The upload handler dropped the file while it arrived.
                self.add_error(key, documents.too_large_message())
            elif upload and not self._chosen(key, slot):
                chosen = _in_sentence(IDENTITY_NAMES[self.cleaned_data[self.chooser[key]]])
                mine = _in_sentence(IDENTITY_NAMES[slot.document_type])
                self.add_error(
                    key,
                    f"This file is for the {mine}, but the {chosen} is chosen as the identity "
                    "document; it was not stored. Choose the document, then the file again.",
                )
            elif upload:
                try:
                    checked = documents.check_upload(upload)
                except forms.ValidationError as error:
                    self.add_error(key, error)
                else:
                    self.accepted.append((slot, upload, checked))
        unknown = [k for k in self.files if k not in self.slots]
        if unknown:
            self.add_error(None, "A file was sent for a document this customer does not need.")
        if not self.accepted and not self.errors and not self.leaving:
            raise forms.ValidationError("Choose at least one file to upload.", code="required")
        return cleaned

    def _chosen(self, key: str, slot: Slot) -> bool:
        """Whether the file's slot belongs to the identity document chosen (or no choice)."""
        if key not in self.chooser:
            return True
        chosen = self.cleaned_data.get(self.chooser[key])
        return not chosen or chosen == slot.document_type


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
    """Details BVNK lets a partner change once created: contact, address, date of birth."""

    required = REQUIRED_ADDRESS

    class Meta:
        model = Customer
        fields = ["email", "phone", *ADDRESS_FIELDS, "date_of_birth"]
        labels = {"email": "Contact email", "phone": "Contact phone", **address_labels()}
        help_texts = {"phone": PHONE_HELP}
        widgets = {"date_of_birth": DateInput(), **address_widgets()}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
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
        self.clean_phone_number(cleaned.get("country"), self.instance.country)
        return cleaned
