"""Typed request and response shapes of the BVNK v1 customers API.

Request types build exactly the JSON of BVNK's v1 docs (customers, agreement sessions,
documents, questionnaires) with `to_wire()`: camelCase keys, dates as YYYY-MM-DD, money as decimal
strings, empty optional values left out. Response types read BVNK's JSON with
`from_wire()`, ignoring unknown keys and tolerating missing optional ones, as BVNK asks
("ignore unknown keys"). A missing `reference` is the one thing a response cannot lack.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from customers.bvnk import wire

# ---------------------------------------------------------------------------------------
# Helpers


def _compact(data: dict[str, Any]) -> dict[str, Any]:
    """Drop keys whose value is None, an empty string or an empty container."""
    return {key: value for key, value in data.items() if value not in (None, "", [], {}, ())}


def _date(value: date | None) -> str | None:
    return value.isoformat() if value is not None else None


def _decimal(value: Decimal | None) -> str | None:
    """Format a Decimal as a plain decimal string (never exponent notation)."""
    return format(value, "f") if value is not None else None


def _number(value: Decimal | None) -> int | float | None:
    """Return a Decimal as a JSON number: an integer when whole, else a float."""
    if value is None:
        return None
    return int(value) if value == value.to_integral_value() else float(value)


def parse_datetime(value: Any) -> datetime | None:
    """Parse an ISO-8601 timestamp (up to 9 fractional digits, `Z` or offset) to aware UTC.

    A timestamp without an offset is taken as UTC (BVNK's report webhook omits the `Z`).
    """
    if not value or not isinstance(value, str):
        return None
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    head, dot, rest = text.partition(".")
    if dot:
        # Python keeps microseconds: cut the fraction to 6 digits, keep the offset.
        digits = len(rest) - len(rest.lstrip("0123456789"))
        rest = rest[: min(digits, 6)] + rest[digits:]
        text = f"{head}.{rest}"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def parse_date(value: Any) -> date | None:
    """Parse a YYYY-MM-DD date (or the date part of a timestamp); None when unreadable."""
    if not value or not isinstance(value, str):
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        return None


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _str(value: Any) -> str:
    return "" if value is None else str(value)


# ---------------------------------------------------------------------------------------
# Shared value objects (requests and responses)


@dataclass(frozen=True, slots=True, kw_only=True)
class Address:
    """A postal address; `country` and `state` are BVNK's full names."""

    address_line1: str
    city: str
    postal_code: str
    country_code: str
    address_line2: str = ""
    state_code: str = ""
    country: str = ""
    state: str = ""

    def to_wire(self) -> dict[str, Any]:
        return _compact(
            {
                "addressLine1": self.address_line1,
                "addressLine2": self.address_line2,
                "city": self.city,
                "postalCode": self.postal_code,
                "stateCode": self.state_code,
                "countryCode": self.country_code,
                "country": self.country,
                "state": self.state,
            }
        )

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> Address:
        return cls(
            address_line1=_str(data.get("addressLine1")),
            address_line2=_str(data.get("addressLine2")),
            city=_str(data.get("city")),
            postal_code=_str(data.get("postalCode")),
            state_code=_str(data.get("stateCode")),
            country_code=_str(data.get("countryCode")),
            country=_str(data.get("country")),
            state=_str(data.get("state")),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class ContactInfo:
    """An email address and phone number (`contactInfo`)."""

    email_address: str = ""
    phone_number: str = ""

    def to_wire(self) -> dict[str, Any]:
        return _compact({"emailAddress": self.email_address, "phoneNumber": self.phone_number})


@dataclass(frozen=True, slots=True, kw_only=True)
class TaxIdentification:
    """A tax number and the country it belongs to (`taxIdentification`)."""

    number: str
    tax_residence_country_code: str

    def to_wire(self) -> dict[str, Any]:
        return _compact(
            {"number": self.number, "taxResidenceCountryCode": self.tax_residence_country_code}
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class DocumentInfo:
    """An associate's identity document (`documentInfo`); the expiry key is INFERRED."""

    number: str
    type: str
    issuing_country_code: str
    expiry_date: date | None = None

    def to_wire(self) -> dict[str, Any]:
        return _compact(
            {
                "number": self.number,
                "type": self.type,
                "issuingCountryCode": self.issuing_country_code,
                wire.DOCUMENT_INFO_EXPIRY_KEY: _date(self.expiry_date),
            }
        )


# ---------------------------------------------------------------------------------------
# Requests


@dataclass(frozen=True, slots=True, kw_only=True)
class AgreementSessionCreate:
    """Body of `POST .../customers/agreement/sessions`."""

    customer_type: str
    country_code: str
    use_case: str

    def to_wire(self) -> dict[str, Any]:
        return {
            "customerType": self.customer_type,
            "countryCode": self.country_code,
            "useCase": self.use_case,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class AssociateIn:
    """One entry of `company.associates`; `titles` hold wire role titles."""

    first_name: str
    last_name: str
    date_of_birth: date
    nationality: str
    birth_country_code: str
    address: Address
    titles: tuple[str, ...]
    contact_info: ContactInfo | None = None
    tax_identification: TaxIdentification | None = None
    document_info: DocumentInfo | None = None
    ownership_percentage: Decimal | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "titles", tuple(self.titles))
        unknown = set(self.titles) - set(wire.ASSOCIATE_ROLE_TITLES.values())
        if not self.titles or unknown:
            raise ValueError(f"associate titles must be among {wire.ASSOCIATE_ROLE_TITLES}")

    def to_wire(self) -> dict[str, Any]:
        return _compact(
            {
                "firstName": self.first_name,
                "lastName": self.last_name,
                "dateOfBirth": _date(self.date_of_birth),
                "nationality": self.nationality,
                "birthCountryCode": self.birth_country_code,
                "address": self.address.to_wire(),
                "contactInfo": self.contact_info.to_wire() if self.contact_info else None,
                "taxIdentification": (
                    self.tax_identification.to_wire() if self.tax_identification else None
                ),
                "documentInfo": self.document_info.to_wire() if self.document_info else None,
                "titles": list(self.titles),
                # A JSON number (INFERRED); only money goes as a decimal string.
                wire.ASSOCIATE_OWNERSHIP_PERCENTAGE_KEY: _number(self.ownership_percentage),
            }
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class CompanyIn:
    """The `company` object of a create."""

    name: str
    entity_type: str
    tax_residence_country_code: str
    industry_reference: str
    monthly_expected_volumes_reference: str
    address: Address
    associates: tuple[AssociateIn, ...]
    incorporation_date: date
    description: str = ""
    registration_number: str = ""
    tax_number: str = ""
    operational_address: Address | None = None
    business_operations_start_date: date | None = None
    website: str = ""

    def to_wire(self) -> dict[str, Any]:
        return _compact(
            {
                "name": self.name,
                "description": self.description,
                "entityType": self.entity_type,
                "taxResidenceCountryCode": self.tax_residence_country_code,
                "registrationNumber": self.registration_number,
                "taxNumber": self.tax_number,
                "industryReference": self.industry_reference,
                "monthlyExpectedVolumesReference": self.monthly_expected_volumes_reference,
                "address": self.address.to_wire(),
                "operationalAddress": (
                    self.operational_address.to_wire() if self.operational_address else None
                ),
                "incorporationDate": _date(self.incorporation_date),
                "businessOperationsStartDate": _date(self.business_operations_start_date),
                "website": self.website,
                "associates": [associate.to_wire() for associate in self.associates],
            }
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class CddIn:
    """An individual's customer due diligence answers (`individual.cdd`)."""

    employment_status: str
    source_of_funds: str
    pep_status: str
    intended_use_of_account: str
    expected_monthly_volume_amount: Decimal
    expected_monthly_volume_currency: str
    estimated_yearly_income: str = ""
    employment_industry_sector: str = ""

    def to_wire(self) -> dict[str, Any]:
        return _compact(
            {
                "employmentStatus": self.employment_status,
                "sourceOfFunds": self.source_of_funds,
                "pepStatus": self.pep_status,
                "intendedUseOfAccount": self.intended_use_of_account,
                "expectedMonthlyVolume": {
                    # Sent as a decimal string; BVNK answers with a JSON number.
                    "amount": _decimal(self.expected_monthly_volume_amount),
                    "currency": self.expected_monthly_volume_currency,
                },
                "estimatedYearlyIncome": self.estimated_yearly_income,
                "employmentIndustrySector": self.employment_industry_sector,
            }
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class IndividualIn:
    """The `individual` object of a create (its current shape)."""

    first_name: str
    last_name: str
    date_of_birth: date
    nationality: str
    birth_country_code: str
    email_address: str
    address: Address
    tax_identification: TaxIdentification
    cdd: CddIn
    phone_number: str = ""
    description: str = ""
    place_of_birth: str = ""
    document_number: str = ""

    def to_wire(self) -> dict[str, Any]:
        return _compact(
            {
                "firstName": self.first_name,
                "lastName": self.last_name,
                "dateOfBirth": _date(self.date_of_birth),
                "birthCountryCode": self.birth_country_code,
                "nationality": self.nationality,
                "emailAddress": self.email_address,
                "phoneNumber": self.phone_number,
                "description": self.description,
                "placeOfBirth": self.place_of_birth,
                "documentNumber": self.document_number,
                "address": self.address.to_wire(),
                "taxIdentification": self.tax_identification.to_wire(),
                "cdd": self.cdd.to_wire(),
            }
        )


@dataclass(frozen=True, slots=True)
class StoredBody:
    """A request body built earlier and kept (the outbox's payload), sent exactly as stored.

    A retry after a lost answer must repeat the first attempt's body byte for byte (BVNK
    refuses a repeated key with another body), even if the models it came from changed.
    """

    body: dict[str, Any]

    def to_wire(self) -> dict[str, Any]:
        return self.body


@dataclass(frozen=True, slots=True, kw_only=True)
class CustomerCreate:
    """Body of `POST /platform/v1/customers`; no `useCase` on v1."""

    type: str
    external_reference: str
    signed_agreement_session_reference: str
    company: CompanyIn | None = None
    individual: IndividualIn | None = None

    def __post_init__(self) -> None:
        if self.type not in wire.CUSTOMER_TYPES:
            raise ValueError(f"customer type must be one of {sorted(wire.CUSTOMER_TYPES)}")
        has_bodies = (self.company is not None, self.individual is not None)
        if has_bodies != (self.type == "COMPANY", self.type == "INDIVIDUAL"):
            raise ValueError(f"a {self.type} create carries exactly the matching body")

    def to_wire(self) -> dict[str, Any]:
        return _compact(
            {
                "type": self.type,
                "externalReference": self.external_reference,
                "signedAgreementSessionReference": self.signed_agreement_session_reference,
                "company": self.company.to_wire() if self.company else None,
                "individual": self.individual.to_wire() if self.individual else None,
            }
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class CustomerUpdate:
    """Body of `PUT /platform/v1/customers/{reference}`; only the fields set go."""

    contact_info: ContactInfo | None = None
    address: Address | None = None
    date_of_birth: date | None = None
    name: str = ""
    description: str = ""

    def to_wire(self) -> dict[str, Any]:
        return _compact(
            {
                "name": self.name,
                "description": self.description,
                "contactInfo": self.contact_info.to_wire() if self.contact_info else None,
                "address": self.address.to_wire() if self.address else None,
                "dateOfBirth": _date(self.date_of_birth),
            }
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class DocumentUpload:
    """One element of the v1 document upload array; content goes base64."""

    type: str
    name: str
    content: bytes = field(repr=False)  # Never print a customer's document.
    sub_type: str = ""
    customer_person_reference: str = ""
    country_code: str = ""
    description: str = ""
    external_reference: str = ""

    def to_wire(self) -> dict[str, Any]:
        return _compact(
            {
                "customerPersonReference": self.customer_person_reference,
                "type": self.type,
                "subType": self.sub_type,
                "name": self.name,
                "description": self.description,
                "countryCode": self.country_code,
                "externalReference": self.external_reference,
                "content": base64.b64encode(self.content).decode("ascii"),
            }
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class QuestionnaireAnswers:
    """Answers to one questionnaire (body shape INFERRED: BVNK does not document it).

    `sections` maps a section id to {item id: answer}; a string or boolean answer is
    sent as `value`, a list of strings as `values`.
    """

    code: str
    sections: Mapping[str, Mapping[str, str | bool | Sequence[str]]]

    def to_wire(self) -> dict[str, Any]:
        sections: dict[str, Any] = {}
        for section_id, items in self.sections.items():
            wire_items: dict[str, Any] = {}
            for item_id, answer in items.items():
                if isinstance(answer, str | bool):
                    wire_items[item_id] = {"value": answer}
                else:
                    wire_items[item_id] = {"values": list(answer)}
            sections[section_id] = {"items": wire_items}
        return {"code": self.code, "sections": sections}


# ---------------------------------------------------------------------------------------
# Responses


@dataclass(frozen=True, slots=True, kw_only=True)
class Agreement:
    """One agreement offered in a session, with the links to show the end user."""

    name: str
    display_name: str
    url: str
    privacy_policy_url: str

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> Agreement:
        return cls(
            name=_str(data.get("name")),
            display_name=_str(data.get("displayName")),
            url=_str(data.get("url")),
            privacy_policy_url=_str(data.get("privacyPolicyUrl")),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class AgreementSession:
    """An agreement session as create and GET return it."""

    reference: str
    status: str
    customer_type: str
    use_case: str
    country_code: str
    expires_on: datetime | None
    agreements: tuple[Agreement, ...]

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> AgreementSession:
        return cls(
            reference=str(data["reference"]),
            status=_str(data.get("status")),
            customer_type=_str(data.get("customerType")),
            use_case=_str(data.get("useCase")),
            country_code=_str(data.get("countryCode")),
            expires_on=parse_datetime(data.get("expiresOn")),
            agreements=tuple(
                Agreement.from_wire(item)
                for item in _list(data.get("agreements"))
                if isinstance(item, dict)
            ),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class CustomerCreated:
    """The create answer; its status is not the lifecycle truth (GET and webhooks are)."""

    reference: str
    status: str
    type: str
    questionnaire_codes: tuple[str, ...]

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> CustomerCreated:
        return cls(
            reference=str(data["reference"]),
            status=_str(data.get("status")),
            type=_str(data.get("type")),
            questionnaire_codes=tuple(wire.questionnaire_codes(_dict(data.get("infoRequired")))),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class PersonRef:
    """A person BVNK knows under a customer: an associate or the individual themself."""

    reference: str
    first_name: str
    last_name: str
    date_of_birth: date | None

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> PersonRef:
        return cls(
            reference=_str(data.get("reference")),
            first_name=_str(data.get("firstName")),
            last_name=_str(data.get("lastName")),
            date_of_birth=parse_date(data.get("dateOfBirth")),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Customer:
    """A customer as `GET /platform/v1/customers/{reference}` returns it."""

    reference: str
    external_reference: str
    status: str
    type: str
    name: str
    verification_url: str
    verification_status: str
    questionnaire_codes: tuple[str, ...]
    info_required: dict[str, Any]
    persons: tuple[PersonRef, ...]
    raw: dict[str, Any] = field(repr=False)

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> Customer:
        company = _dict(data.get("company"))
        individual = _dict(data.get("individual"))
        verification = _dict(data.get("verification"))
        info_required = _dict(data.get("infoRequired"))
        person_dicts = [
            _dict(item.get("person"))
            for item in _list(company.get("associates"))
            if isinstance(item, dict)
        ]
        if individual.get("person"):
            person_dicts.append(_dict(individual.get("person")))
        persons = tuple(PersonRef.from_wire(person) for person in person_dicts if person)
        name = _str(data.get("name") or company.get("name"))
        if not name and persons and individual:
            name = f"{persons[-1].first_name} {persons[-1].last_name}".strip()
        return cls(
            reference=str(data["reference"]),
            external_reference=_str(data.get("externalReference")),
            status=_str(data.get("status")),
            type=_str(data.get("type")),
            name=name,
            verification_url=_str(verification.get("url")),
            verification_status=_str(verification.get("status")),
            questionnaire_codes=tuple(wire.questionnaire_codes(info_required)),
            info_required=info_required,
            persons=persons,
            raw=dict(data),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class CustomerSummary:
    """One item of the customer list."""

    reference: str
    status: str
    type: str
    name: str
    description: str
    model: str
    external_reference: str

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> CustomerSummary:
        return cls(
            reference=str(data["reference"]),
            status=_str(data.get("status")),
            type=_str(data.get("type")),
            name=_str(data.get("name")),
            description=_str(data.get("description")),
            model=_str(data.get("model")),
            external_reference=_str(data.get("externalReference")),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class DocumentAccepted:
    """One document BVNK queued (202). BVNK documents no body: every field optional."""

    reference: str
    status: str
    type: str
    sub_type: str
    customer_person_reference: str

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> DocumentAccepted:
        return cls(
            reference=_str(data.get("reference") or data.get("documentReference")),
            status=_str(data.get("status")),
            type=_str(data.get("type")),
            sub_type=_str(data.get("subType")),
            customer_person_reference=_str(data.get("customerPersonReference")),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class QuestionnaireItem:
    """One question of a questionnaire section; `options` are the allowed values."""

    id: str
    title: str
    type: str
    required: bool
    options: tuple[str, ...]

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> QuestionnaireItem:
        options: list[str] = []
        for option in _list(data.get("options")):
            if isinstance(option, dict):
                value = option.get("value") or option.get("code") or option.get("id")
                if value is not None:
                    options.append(str(value))
            elif option is not None:
                options.append(str(option))
        return cls(
            id=_str(data.get("id") or data.get("code") or data.get("key")),
            title=_str(data.get("title") or data.get("name") or data.get("label")),
            type=_str(data.get("type")),
            required=bool(data.get("required") or data.get("isRequired")),
            options=tuple(options),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class QuestionnaireSection:
    """One section of a questionnaire definition."""

    id: str
    title: str
    items: tuple[QuestionnaireItem, ...]

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> QuestionnaireSection:
        items = data.get("items") if "items" in data else data.get("questions")
        return cls(
            id=_str(data.get("id") or data.get("code") or data.get("key")),
            title=_str(data.get("title") or data.get("name")),
            items=tuple(
                QuestionnaireItem.from_wire(item) for item in _list(items) if isinstance(item, dict)
            ),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class QuestionnaireDefinition:
    """A questionnaire schema (shape INFERRED: undocumented, so `raw` is kept)."""

    code: str
    title: str
    sections: tuple[QuestionnaireSection, ...]
    raw: dict[str, Any] = field(repr=False)

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> QuestionnaireDefinition:
        return cls(
            code=str(data["code"]),
            title=_str(data.get("title") or data.get("name")),
            sections=tuple(
                QuestionnaireSection.from_wire(section)
                for section in _list(data.get("sections"))
                if isinstance(section, dict)
            ),
            raw=dict(data),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class ReferenceItem:
    """An entry of a BVNK reference list: an industry with its sub-industries under
    `children` (BVNK API reference, getindustries), or a monthly expected volume."""

    reference: str
    name: str
    children: tuple[ReferenceItem, ...] = ()

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> ReferenceItem:
        return cls(
            reference=str(data["reference"]),
            name=_str(data.get("name")),
            children=tuple(
                cls.from_wire(child) for child in _list(data.get("children")) if _is_item(child)
            ),
        )


def _is_item(data: Any) -> bool:
    return isinstance(data, dict) and bool(data.get("reference"))


# -- wallets v2 (wire.PATH_WALLETS) ------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class WalletProfile:
    """A profile a customer's wallet may use: its currencies and, for fiat, its methods."""

    id: str
    currencies: tuple[str, ...]
    methods: tuple[str, ...]

    @property
    def is_crypto(self) -> bool:
        return not self.methods

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> WalletProfile:
        return cls(
            id=str(data["id"]),
            currencies=tuple(str(c) for c in _list(data.get("currencies"))),
            methods=tuple(str(m) for m in _list(data.get("methods"))),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class WalletCreate:
    """Body of `POST /ledger/v2/wallets`; crypto may leave the profile out (docs)."""

    currency: str
    name: str
    customer_id: str
    profile_id: str = ""

    def to_wire(self) -> dict[str, Any]:
        return _compact(
            {
                "currency": self.currency,
                "name": self.name,
                "customerId": self.customer_id,
                "profileId": self.profile_id,
            }
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Wallet:
    """A wallet as BVNK answers a create, a read or its status-change webhook."""

    id: str
    name: str
    status: str
    currency: str
    customer_id: str
    payment_instruments: tuple[dict[str, Any], ...]
    raw: dict[str, Any] = field(repr=False)

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> Wallet:
        balance = _dict(data.get("balance"))
        customer = _dict(data.get("customer"))
        return cls(
            id=str(data["id"]),
            name=_str(data.get("name")),
            status=_str(data.get("status")).upper(),
            currency=_str(balance.get("currency") or data.get("currency")),
            customer_id=_str(customer.get("id") or data.get("customerId")),
            payment_instruments=tuple(
                dict(item)
                for item in _list(data.get("paymentInstruments"))
                if isinstance(item, dict)
            ),
            raw=dict(data),
        )
