"""Model to BVNK payload mapping, in one place.

Builds the client's typed request dataclasses (customers/bvnk/types.py) from the portal's
models. Every value whose spelling BVNK has not confirmed (associate role titles, entity
types, the ownership key) comes from customers/bvnk/wire.py, which notes each one's
evidence; nothing here invents a wire value.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import TypeVar

from django.conf import settings

from .bvnk import wire
from .bvnk.types import (
    Address,
    AgreementSessionCreate,
    AssociateIn,
    CddIn,
    CompanyIn,
    ContactInfo,
    CustomerCreate,
    CustomerUpdate,
    DocumentInfo,
    IndividualIn,
    TaxIdentification,
)
from .models import AgreementSession, Associate, ComplianceDocument, Customer

T = TypeVar("T")

# INFERRED: BVNK does not document its document review statuses; these are the candidate
# spellings, mapped onto the portal's upload statuses. Read by the upload's answer and by
# the document-status webhook.
DOCUMENT_STATUSES = {
    "PENDING": ComplianceDocument.UploadStatus.SENT,
    "IN_REVIEW": ComplianceDocument.UploadStatus.SENT,
    "UPLOADED": ComplianceDocument.UploadStatus.SENT,
    "APPROVED": ComplianceDocument.UploadStatus.APPROVED,
    "ACCEPTED": ComplianceDocument.UploadStatus.APPROVED,
    "VERIFIED": ComplianceDocument.UploadStatus.APPROVED,
    "REJECTED": ComplianceDocument.UploadStatus.REJECTED,
    "DECLINED": ComplianceDocument.UploadStatus.REJECTED,
}


class IncompleteCustomer(ValueError):
    """The draft lacks something a create needs; the review page says what."""


def country_code(country: object) -> str:
    """Return the ISO code of a django-countries value ("" when blank)."""
    return str(getattr(country, "code", country) or "")


def _required(value: T | None, what: str) -> T:
    if value is None or value == "":
        raise IncompleteCustomer(f"{what} is missing")
    return value


def payload_associates(customer: Customer) -> list[Associate]:
    """Return the associates in the order they are sent (BVNK's `associates[i]`)."""
    return list(customer.associates.order_by("created_at", "id"))


def signed_session(customer: Customer) -> AgreementSession | None:
    """Return the newest signed agreement session of the customer, if any."""
    return (
        customer.agreement_sessions.filter(status=AgreementSession.Status.SIGNED)
        .order_by("-created_at", "-id")
        .first()
    )


def agreement_country(customer: Customer) -> str:
    """Return the country an agreement session is opened for.

    A company signs for its tax residence (BVNK picks the US or EEA agreement from the
    session's country); an individual for the country they live in. Each falls back on
    the other country when the first is not filled in yet.
    """
    if customer.is_company:
        return country_code(customer.tax_residence_country) or country_code(customer.country)
    return country_code(customer.country) or country_code(customer.tax_residence_country)


def agreement_session_create(customer: Customer) -> AgreementSessionCreate:
    country = agreement_country(customer)
    if not country:
        raise IncompleteCustomer("The customer's country is missing")
    return AgreementSessionCreate(
        customer_type=str(customer.type),
        country_code=country,
        use_case=settings.BVNK_USE_CASE,
    )


def address(
    *,
    line1: str,
    line2: str,
    city: str,
    postal_code: str,
    state_code: str,
    country: object,
) -> Address | None:
    """Return an Address, or None when no first line was entered."""
    if not line1:
        return None
    code = country_code(country)
    return Address(
        address_line1=line1,
        address_line2=line2,
        city=city,
        postal_code=postal_code,
        # Section 2.5: a state only belongs to US addresses.
        state_code=state_code if code == "US" else "",
        country_code=code,
    )


def registered_address(obj: Customer | Associate) -> Address | None:
    return address(
        line1=obj.address_line1,
        line2=obj.address_line2,
        city=obj.city,
        postal_code=obj.postal_code,
        state_code=obj.state_code,
        country=obj.country,
    )


def operational_address(customer: Customer) -> Address | None:
    return address(
        line1=customer.operational_address_line1,
        line2=customer.operational_address_line2,
        city=customer.operational_city,
        postal_code=customer.operational_postal_code,
        state_code=customer.operational_state_code,
        country=customer.operational_country,
    )


def associate_in(associate: Associate) -> AssociateIn:
    """Map one associate; roles become `titles` through wire.ASSOCIATE_ROLE_TITLES."""
    home = registered_address(associate)
    contact = None
    if associate.email or associate.phone:
        contact = ContactInfo(email_address=associate.email, phone_number=associate.phone)
    tax = None
    if associate.tax_number:
        tax = TaxIdentification(
            number=associate.tax_number,
            tax_residence_country_code=country_code(associate.tax_residence_country),
        )
    document = None
    if associate.id_document_type and associate.id_document_number:
        document = DocumentInfo(
            number=associate.id_document_number,
            # The v1 person document spelling (wire.IDENTITY_DOCUMENT_TYPES), unconfirmed by BVNK.
            type=associate.id_document_type,
            issuing_country_code=country_code(associate.id_document_issuing_country),
            expiry_date=associate.id_document_expiry,
        )
    return AssociateIn(
        first_name=associate.first_name,
        last_name=associate.last_name,
        date_of_birth=_required(associate.date_of_birth, f"{associate}: date of birth"),
        nationality=country_code(associate.nationality),
        birth_country_code=country_code(associate.birth_country),
        address=_required(home, f"{associate}: address"),
        titles=tuple(wire.ASSOCIATE_ROLE_TITLES[role] for role in associate.roles),
        contact_info=contact,
        tax_identification=tax,
        document_info=document,
        ownership_percentage=(
            associate.ownership_percentage if associate.is_beneficial_owner else None
        ),
    )


def company_in(customer: Customer, associates: Sequence[Associate]) -> CompanyIn:
    return CompanyIn(
        name=customer.legal_name,
        entity_type=customer.entity_type,
        tax_residence_country_code=country_code(customer.tax_residence_country),
        industry_reference=customer.industry_reference,
        monthly_expected_volumes_reference=customer.monthly_volumes_reference,
        address=_required(registered_address(customer), "Registered address"),
        associates=tuple(associate_in(associate) for associate in associates),
        incorporation_date=_required(customer.incorporation_date, "Date of incorporation"),
        description=customer.description,
        registration_number=customer.registration_number,
        tax_number=customer.tax_number,
        operational_address=operational_address(customer),
        website=customer.website,
    )


def is_us_resident(customer: Customer) -> bool:
    return country_code(customer.country) == "US"


def cdd_in(customer: Customer) -> CddIn:
    us = is_us_resident(customer)
    return CddIn(
        employment_status=customer.employment_status,
        source_of_funds=customer.source_of_funds,
        pep_status=customer.pep_status,
        intended_use_of_account=customer.intended_use,
        expected_monthly_volume_amount=_required(
            customer.expected_monthly_volume, "Expected monthly volume"
        ),
        expected_monthly_volume_currency=customer.expected_volume_currency,
        # Section 2.4: asked of US residents only.
        estimated_yearly_income=customer.estimated_yearly_income if us else "",
        employment_industry_sector=customer.industry_sector if us else "",
    )


def individual_in(customer: Customer) -> IndividualIn:
    return IndividualIn(
        first_name=customer.first_name,
        last_name=customer.last_name,
        date_of_birth=_required(customer.date_of_birth, "Date of birth"),
        nationality=country_code(customer.nationality),
        birth_country_code=country_code(customer.birth_country),
        email_address=customer.email,
        phone_number=customer.phone,
        address=_required(registered_address(customer), "Address"),
        tax_identification=TaxIdentification(
            number=customer.tax_number,
            tax_residence_country_code=country_code(customer.tax_residence_country),
        ),
        cdd=cdd_in(customer),
    )


def customer_create(
    customer: Customer, *, associates: Sequence[Associate] | None = None
) -> CustomerCreate:
    """Build the body of `POST /platform/v1/customers` for a complete draft."""
    session = signed_session(customer)
    if session is None:
        raise IncompleteCustomer("No signed agreement session")
    if customer.is_company:
        if associates is None:
            associates = payload_associates(customer)
        return CustomerCreate(
            type=str(customer.type),
            external_reference=str(customer.external_reference),
            signed_agreement_session_reference=session.bvnk_reference,
            company=company_in(customer, associates),
        )
    return CustomerCreate(
        type=str(customer.type),
        external_reference=str(customer.external_reference),
        signed_agreement_session_reference=session.bvnk_reference,
        individual=individual_in(customer),
    )


def customer_update(customer: Customer) -> CustomerUpdate:
    """Build the update's body: contact details, address, date of birth (all BVNK takes)."""
    contact = None
    if customer.email or customer.phone:
        contact = ContactInfo(email_address=customer.email, phone_number=customer.phone)
    return CustomerUpdate(
        contact_info=contact,
        address=registered_address(customer),
        date_of_birth=customer.date_of_birth if not customer.is_company else None,
    )


# -- BVNK's copy read back: the details a partner may change, by the portal's names -------

# The fields of the update (customer_update) and where BVNK's read of a customer holds
# them: under `individual.details.contactInfo` and `individual.person` for a person,
# under `company` for a company (the emulator's GET /customers/{reference}).
UPDATE_FIELDS = (
    "email",
    "phone",
    "address_line1",
    "address_line2",
    "city",
    "postal_code",
    "state_code",
    "country",
    "date_of_birth",
)
DETAIL_LABELS = {
    "email": "contact email",
    "phone": "contact phone",
    "address_line1": "address line 1",
    "address_line2": "address line 2",
    "city": "city",
    "postal_code": "postal code",
    "state_code": "state",
    "country": "country",
    "date_of_birth": "date of birth",
}
_ADDRESS_KEYS = {
    "address_line1": "addressLine1",
    "address_line2": "addressLine2",
    "city": "city",
    "postal_code": "postalCode",
    "state_code": "stateCode",
    "country": "countryCode",
}


def _dict(value: object) -> dict[str, object]:
    return value if isinstance(value, dict) else {}


def bvnk_details(customer: Customer) -> dict[str, str]:
    """The updatable details in BVNK's last read of `customer` (those it returned), as text."""
    data = customer.bvnk_data or {}
    found: dict[str, object] = {}
    if customer.is_company:
        root = _dict(data.get("company"))
        contact, address_, person = _dict(root.get("contactInfo")), root.get("address"), {}
    else:
        root = _dict(data.get("individual"))
        person = _dict(root.get("person"))
        contact = _dict(_dict(root.get("details")).get("contactInfo"))
        address_ = person.get("address")
        if "dateOfBirth" in person:
            found["date_of_birth"] = person["dateOfBirth"]
    if "emailAddress" in contact:
        found["email"] = contact["emailAddress"]
    if "phoneNumber" in contact:
        found["phone"] = contact["phoneNumber"]
    if isinstance(address_, dict):
        for name, key in _ADDRESS_KEYS.items():
            found[name] = address_.get(key)
    return {name: "" if value is None else str(value) for name, value in found.items()}


def portal_details(customer: Customer) -> dict[str, str]:
    """The updatable details as the portal holds them, as text (dates in ISO form)."""
    values: dict[str, str] = {}
    for name in UPDATE_FIELDS:
        value = getattr(customer, name)
        if isinstance(value, dt.date):
            value = value.isoformat()
        values[name] = "" if value is None else str(value)
    if customer.is_company:
        del values["date_of_birth"]
    return values


def details_drift(customer: Customer) -> list[str]:
    """The updatable fields whose value BVNK returned differs from the portal's."""
    ours, theirs = portal_details(customer), bvnk_details(customer)
    return [
        name
        for name in UPDATE_FIELDS
        if name in ours and name in theirs and ours[name].strip() != theirs[name].strip()
    ]


def details_drift_rows(customer: Customer) -> list[tuple[str, str, str]]:
    """(label, the portal's value, BVNK's value) for each detail recorded as differing."""
    ours, theirs = portal_details(customer), bvnk_details(customer)
    return [
        (DETAIL_LABELS[name], ours.get(name, ""), theirs.get(name, ""))
        for name in customer.details_drift
        if name in DETAIL_LABELS
    ]
