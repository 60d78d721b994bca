"""BVNK's refusals mapped back: its field errors onto the steps, associates and fields.

A refused create stores its errors on the draft (`Customer.submission_errors`), sorted by
step and associate, until each step is saved again; a refused update is shown on the
customer page's details form. The tables here map the wire paths of the create and update
bodies (`customers/payloads.py`) to the portal's step slugs and form fields.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from django.core.exceptions import NON_FIELD_ERRORS

from ..bvnk import wire
from ..models import Associate, BvnkOperation, Customer

_ADDRESS_KEYS = {
    "addressLine1": "address_line1",
    "addressLine2": "address_line2",
    "city": "city",
    "postalCode": "postal_code",
    "stateCode": "state_code",
    "countryCode": "country",
}
ErrorTarget = tuple[str, str]  # (step slug, form field name or NON_FIELD_ERRORS)


def _with_address(
    fields: dict[str, ErrorTarget], key: str, step: str, prefix: str = ""
) -> dict[str, ErrorTarget]:
    fields = dict(fields)
    fields[key] = (step, NON_FIELD_ERRORS)
    for wire_key, name in _ADDRESS_KEYS.items():
        fields[f"{key}.{wire_key}"] = (step, f"{prefix}{name}")
    return fields


# Paths of the create body (its `company` and `individual` objects) -> the step and field
# that hold the value.
COMPANY_PATHS: dict[str, ErrorTarget] = _with_address(
    _with_address(
        {
            "company.name": ("company", "legal_name"),
            "company.description": ("company", "description"),
            "company.entityType": ("company", "entity_type"),
            "company.taxResidenceCountryCode": ("company", "tax_residence_country"),
            "company.registrationNumber": ("company", "registration_number"),
            "company.taxNumber": ("company", "tax_number"),
            "company.industryReference": ("company", "industry_reference"),
            "company.monthlyExpectedVolumesReference": ("company", "monthly_volumes_reference"),
            "company.incorporationDate": ("company", "incorporation_date"),
            "company.website": ("company", "website"),
            "company.associates": ("associates", NON_FIELD_ERRORS),
            "signedAgreementSessionReference": ("agreement", NON_FIELD_ERRORS),
        },
        "company.address",
        "address",
    ),
    "company.operationalAddress",
    "address",
    "operational_",
)
ASSOCIATE_PATHS: dict[str, str] = {
    "firstName": "first_name",
    "lastName": "last_name",
    "dateOfBirth": "date_of_birth",
    "nationality": "nationality",
    "birthCountryCode": "birth_country",
    "contactInfo": "email",
    "contactInfo.emailAddress": "email",
    "contactInfo.phoneNumber": "phone",
    "taxIdentification": "tax_number",
    "taxIdentification.number": "tax_number",
    "taxIdentification.taxResidenceCountryCode": "tax_residence_country",
    "documentNumber": "id_document_number",
    "documentInfo": "id_document_type",
    "documentInfo.number": "id_document_number",
    "documentInfo.type": "id_document_type",
    "documentInfo.issuingCountryCode": "id_document_issuing_country",
    f"documentInfo.{wire.DOCUMENT_INFO_EXPIRY_KEY}": "id_document_expiry",
    "titles": "roles",
    wire.ASSOCIATE_OWNERSHIP_PERCENTAGE_KEY: "ownership_percentage",
    "address": NON_FIELD_ERRORS,
    **{f"address.{key}": name for key, name in _ADDRESS_KEYS.items()},
}
INDIVIDUAL_PATHS: dict[str, ErrorTarget] = _with_address(
    {
        "individual.firstName": ("personal", "first_name"),
        "individual.lastName": ("personal", "last_name"),
        "individual.dateOfBirth": ("personal", "date_of_birth"),
        "individual.nationality": ("personal", "nationality"),
        "individual.birthCountryCode": ("personal", "birth_country"),
        "individual.emailAddress": ("contact", "email"),
        "individual.phoneNumber": ("contact", "phone"),
        "individual.taxIdentification": ("tax", NON_FIELD_ERRORS),
        "individual.taxIdentification.number": ("tax", "tax_number"),
        "individual.taxIdentification.taxResidenceCountryCode": ("tax", "tax_residence_country"),
        "individual.cdd": ("due-diligence", NON_FIELD_ERRORS),
        "individual.cdd.employmentStatus": ("due-diligence", "employment_status"),
        "individual.cdd.sourceOfFunds": ("due-diligence", "source_of_funds"),
        "individual.cdd.pepStatus": ("due-diligence", "pep_status"),
        "individual.cdd.intendedUseOfAccount": ("due-diligence", "intended_use"),
        "individual.cdd.expectedMonthlyVolume": ("due-diligence", "expected_monthly_volume"),
        "individual.cdd.expectedMonthlyVolume.amount": (
            "due-diligence",
            "expected_monthly_volume",
        ),
        "individual.cdd.expectedMonthlyVolume.currency": (
            "due-diligence",
            "expected_volume_currency",
        ),
        "individual.cdd.estimatedYearlyIncome": ("due-diligence", "estimated_yearly_income"),
        "individual.cdd.employmentIndustrySector": ("due-diligence", "industry_sector"),
        "signedAgreementSessionReference": ("agreement", NON_FIELD_ERRORS),
    },
    "individual.address",
    "address",
)
_ASSOCIATE_PATH = re.compile(r"^company\.associates\[(\d+)\](?:\.(.+))?$")


def _message(path: str, message: str, on_field: bool) -> str:
    # A message on its field reads on its own; elsewhere it needs the field's name.
    return message if on_field else f"{path.rsplit('.', 1)[-1]}: {message}"


def map_bvnk_errors(
    customer: Customer,
    field_errors: dict[str, list[str]],
    associates: Sequence[Associate],
) -> dict[str, Any]:
    """Sort BVNK's `details.errors` onto the steps, associates and fields that hold them.

    `associates` must be in the order they were sent, so `associates[i]` names the right
    person even if the list changes later. Paths the portal does not know go to "other"
    and are shown on the review page.
    """
    table = COMPANY_PATHS if customer.is_company else INDIVIDUAL_PATHS
    steps: dict[str, dict[str, list[str]]] = {}
    people: dict[str, dict[str, list[str]]] = {}
    other: dict[str, list[str]] = {}
    for path, messages in field_errors.items():
        messages = messages or ["is invalid"]
        match = _ASSOCIATE_PATH.match(path) if customer.is_company else None
        if match and int(match.group(1)) < len(associates):
            inner = match.group(2) or ""
            name = ASSOCIATE_PATHS.get(inner, NON_FIELD_ERRORS)
            bucket = people.setdefault(str(associates[int(match.group(1))].pk), {})
            bucket.setdefault(name, []).extend(
                _message(inner or "associate", m, name != NON_FIELD_ERRORS) for m in messages
            )
        elif path in table:
            step, name = table[path]
            steps.setdefault(step, {}).setdefault(name, []).extend(
                _message(path, m, name != NON_FIELD_ERRORS) for m in messages
            )
        else:
            other.setdefault(path, []).extend(messages)
    return {"steps": steps, "associates": people, "other": other}


def without_step_errors(errors: dict[str, Any], step: str) -> dict[str, Any]:
    """Return the stored errors minus one step's (after that step was saved again)."""
    if step not in errors.get("steps", {}):
        return errors
    return {**errors, "steps": {k: v for k, v in errors["steps"].items() if k != step}}


def without_associate_errors(errors: dict[str, Any], pk: int) -> dict[str, Any]:
    if str(pk) not in errors.get("associates", {}):
        return errors
    people = {k: v for k, v in errors["associates"].items() if k != str(pk)}
    return {**errors, "associates": people}


# Paths of the update body (contact details, address, date of birth) -> the fields of the
# customer page's details form.
UPDATE_PATHS: dict[str, str] = {
    "contactInfo": NON_FIELD_ERRORS,
    "contactInfo.emailAddress": "email",
    "contactInfo.phoneNumber": "phone",
    "dateOfBirth": "date_of_birth",
    "address": NON_FIELD_ERRORS,
    **{f"address.{key}": name for key, name in _ADDRESS_KEYS.items()},
}


def map_update_errors(field_errors: dict[str, list[str]]) -> dict[str, list[str]]:
    """Sort BVNK's refusal of an update onto the details form's fields."""
    mapped: dict[str, list[str]] = {}
    for path, messages in field_errors.items():
        name = UPDATE_PATHS.get(path, NON_FIELD_ERRORS)
        mapped.setdefault(name, []).extend(
            _message(path, message, name != NON_FIELD_ERRORS)
            for message in messages or ["is invalid"]
        )
    return mapped


def update_refusal(customer: Customer) -> dict[str, list[str]]:
    """BVNK's refusal of the customer's latest update, on the details form's fields.

    Empty unless the latest update operation FAILED; a correction saved since is a newer
    operation (with a new key), so the errors go away as soon as it is queued.
    """
    latest = (
        customer.operations.filter(kind=BvnkOperation.Kind.UPDATE_CUSTOMER)
        .order_by("-created_at", "-pk")
        .first()
    )
    if latest is None or latest.state != BvnkOperation.State.FAILED:
        return {}
    errors = map_update_errors(latest.field_errors)
    errors.setdefault(NON_FIELD_ERRORS, []).insert(
        0, "BVNK refused the last update of these details: correct them and save again."
    )
    return errors
