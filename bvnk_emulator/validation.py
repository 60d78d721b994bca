"""Request validation for the v1 customers API (creates, sessions, uploads).

Each validator returns the normalized data it keeps (unknown keys dropped) or raises
ValidationError naming every failing field by its dotted path.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import ipaddress
import re
from decimal import Decimal, InvalidOperation
from typing import Any

from bvnk_emulator import reference_data as ref
from bvnk_emulator.errors import FieldErrors, ValidationError, add_error

Json = dict[str, Any]

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_EIN = re.compile(r"^\d{2}-?\d{7}$")
MAX_TEXT = 255
# Magic value: lets the portal exercise BVNK field errors on an otherwise valid body.
INVALID_MAGIC = "INVALID"


def _join(prefix: str, key: str) -> str:
    return f"{prefix}.{key}" if prefix else key


class Checker:
    """Collect field errors while reading values out of a JSON object."""

    def __init__(self) -> None:
        self.errors: FieldErrors = {}

    def add(self, path: str, message: str) -> None:
        """Record an error for a field path."""
        add_error(self.errors, path, message)

    def raise_if_errors(self) -> None:
        """Raise ValidationError when any error was recorded."""
        if self.errors:
            raise ValidationError(self.errors)

    def obj(self, data: Json, key: str, prefix: str, *, required: bool) -> Json | None:
        """Return a nested object, or None when absent."""
        value = data.get(key)
        if value is None:
            if required:
                self.add(_join(prefix, key), "must not be null")
            return None
        if not isinstance(value, dict):
            self.add(_join(prefix, key), "must be an object")
            return None
        return value

    def text(
        self, data: Json, key: str, prefix: str, *, required: bool, max_length: int = MAX_TEXT
    ) -> str | None:
        """Return a string field, stripped; blank counts as missing."""
        value = data.get(key)
        path = _join(prefix, key)
        if value is None or (isinstance(value, str) and not value.strip()):
            if required:
                self.add(path, "must not be blank")
            return None
        if not isinstance(value, str):
            self.add(path, "must be a string")
            return None
        if len(value) > max_length:
            self.add(path, f"size must be between 0 and {max_length}")
            return None
        return value.strip()

    def enum(
        self, data: Json, key: str, prefix: str, values: tuple[str, ...], *, required: bool
    ) -> str | None:
        """Return an enum value from a fixed list."""
        value = self.text(data, key, prefix, required=required)
        if value is not None and value not in values:
            self.add(_join(prefix, key), f"must be one of: {', '.join(values)}")
            return None
        return value

    def country(self, data: Json, key: str, prefix: str, *, required: bool) -> str | None:
        """Return an ISO 3166-1 alpha-2 country code."""
        value = self.text(data, key, prefix, required=required)
        if value is not None and value not in ref.COUNTRIES:
            self.add(_join(prefix, key), f"must be an ISO 3166-1 alpha-2 country code: {value}")
            return None
        return value

    def date(self, data: Json, key: str, prefix: str, *, required: bool) -> str | None:
        """Return a YYYY-MM-DD date that is not in the future."""
        value = self.text(data, key, prefix, required=required)
        if value is None:
            return None
        path = _join(prefix, key)
        try:
            parsed = dt.date.fromisoformat(value) if _DATE.match(value) else None
        except ValueError:
            parsed = None
        if parsed is None:
            self.add(path, "must be a date in the format YYYY-MM-DD")
            return None
        if parsed > dt.datetime.now(dt.UTC).date():
            self.add(path, "must be a date in the past or in the present")
            return None
        return value

    def email(self, data: Json, key: str, prefix: str, *, required: bool) -> str | None:
        """Return an email address."""
        value = self.text(data, key, prefix, required=required)
        if value is not None and not _EMAIL.match(value):
            self.add(_join(prefix, key), "must be a well-formed email address")
            return None
        return value

    def address(self, data: Json, key: str, prefix: str, *, required: bool) -> Json | None:
        """Return an Address; US addresses need a valid stateCode."""
        raw = self.obj(data, key, prefix, required=required)
        if raw is None:
            return None
        path = _join(prefix, key)
        address = {
            "addressLine1": self.text(raw, "addressLine1", path, required=True),
            "addressLine2": self.text(raw, "addressLine2", path, required=False),
            "city": self.text(raw, "city", path, required=True),
            "postalCode": self.text(raw, "postalCode", path, required=True, max_length=20),
            "countryCode": self.country(raw, "countryCode", path, required=True),
            "stateCode": None,
        }
        if address["countryCode"] == "US":
            state = self.text(raw, "stateCode", path, required=True)
            if state is not None and state.upper() not in ref.US_STATES:
                self.add(f"{path}.stateCode", f"must be a US state code: {state}")
            elif state is not None:
                address["stateCode"] = state.upper()
        else:
            address["stateCode"] = self.text(raw, "stateCode", path, required=False)
        return address

    def contact_info(self, data: Json, key: str, prefix: str, *, required: bool) -> Json | None:
        """Return a contactInfo object {emailAddress, phoneNumber}."""
        raw = self.obj(data, key, prefix, required=required)
        if raw is None:
            return None
        path = _join(prefix, key)
        return {
            "emailAddress": self.email(raw, "emailAddress", path, required=required),
            "phoneNumber": self.text(raw, "phoneNumber", path, required=False, max_length=32),
        }

    def tax_identification(self, data: Json, prefix: str, *, required: bool) -> Json | None:
        """Return taxIdentification {number, taxResidenceCountryCode}."""
        raw = self.obj(data, "taxIdentification", prefix, required=required)
        if raw is None:
            return None
        path = _join(prefix, "taxIdentification")
        number = self.text(raw, "number", path, required=True)
        if number == INVALID_MAGIC:
            self.add(f"{path}.number", "Tax identification number is invalid")
        return {
            "number": number,
            "taxResidenceCountryCode": self.country(
                raw, "taxResidenceCountryCode", path, required=True
            ),
        }


def parse_customer_type(value: Any) -> str | None:
    """Return COMPANY or INDIVIDUAL for any casing, else None."""
    if isinstance(value, str) and value.strip().upper() in ref.CUSTOMER_TYPES:
        return value.strip().upper()
    return None


def validate_session_create(body: Any) -> Json:
    """Validate `POST .../agreement/sessions`."""
    check = Checker()
    body = _require_object(body)
    customer_type = parse_customer_type(body.get("customerType"))
    if customer_type is None:
        check.add("customerType", "must be one of: INDIVIDUAL, COMPANY")
    country = check.country(body, "countryCode", "", required=True)
    use_case = check.enum(body, "useCase", "", ref.USE_CASES, required=True)
    check.raise_if_errors()
    return {"customerType": customer_type, "countryCode": country, "useCase": use_case}


def validate_session_update(body: Any) -> Json:
    """Validate `PUT .../agreement/sessions/{reference}` {status, ipAddress}."""
    check = Checker()
    body = _require_object(body)
    status = check.enum(body, "status", "", ("SIGNED", "DECLINED"), required=True)
    ip = check.text(body, "ipAddress", "", required=True, max_length=64)
    if ip is not None:
        try:
            ipaddress.ip_address(ip)
        except ValueError:
            check.add("ipAddress", "must be an IPv4 or IPv6 address")
    check.raise_if_errors()
    return {"status": status, "ipAddress": ip}


def validate_customer_create(body: Any) -> tuple[Json, Checker]:
    """Validate the body of `POST /platform/v1/customers`.

    Returns the normalized customer and the checker, so the caller can add the
    checks that need state (external reference, agreement session) before raising.
    """
    check = Checker()
    body = _require_object(body)
    customer_type = parse_customer_type(body.get("type"))
    if customer_type is None:
        check.add("type", "must be one of: COMPANY, INDIVIDUAL")
    customer: Json = {
        "type": customer_type,
        "externalReference": check.text(body, "externalReference", "", required=False),
        "signedAgreementSessionReference": check.text(
            body, "signedAgreementSessionReference", "", required=True
        ),
        "riskScore": check.enum(body, "riskScore", "", ref.RISK_SCORES, required=False),
    }
    if customer_type == "COMPANY":
        raw = check.obj(body, "company", "", required=True)
        customer["company"] = _company(check, raw) if raw is not None else None
    elif customer_type == "INDIVIDUAL":
        raw = check.obj(body, "individual", "", required=True)
        customer["individual"] = _individual(check, raw) if raw is not None else None
    return customer, check


def _company(check: Checker, raw: Json) -> Json:
    p = "company"
    company: Json = {
        "name": check.text(raw, "name", p, required=True),
        "description": check.text(raw, "description", p, required=False, max_length=1000),
        "entityType": check.enum(raw, "entityType", p, ref.ENTITY_TYPES, required=True),
        "taxResidenceCountryCode": check.country(raw, "taxResidenceCountryCode", p, required=True),
        "taxNumber": check.text(raw, "taxNumber", p, required=False),
        "industryReference": check.text(raw, "industryReference", p, required=True),
        "monthlyExpectedVolumesReference": check.text(
            raw, "monthlyExpectedVolumesReference", p, required=True
        ),
        "address": check.address(raw, "address", p, required=True),
        "operationalAddress": check.address(raw, "operationalAddress", p, required=False),
        "incorporationDate": check.date(raw, "incorporationDate", p, required=True),
        "businessOperationsStartDate": check.date(
            raw, "businessOperationsStartDate", p, required=False
        ),
        "website": check.text(raw, "website", p, required=False),
    }
    # 2.3: EU companies need a registration number; US ones may give an EIN instead.
    us = company["taxResidenceCountryCode"] == "US"
    us_with_ein = us and bool(_EIN.match(company["taxNumber"] or ""))
    if us and company["taxNumber"] and not us_with_ein:
        check.add(f"{p}.taxNumber", "EIN must be 9 digits (NN-NNNNNNN)")
    company["registrationNumber"] = check.text(
        raw, "registrationNumber", p, required=not us_with_ein
    )
    if company["registrationNumber"] == INVALID_MAGIC:
        check.add(f"{p}.registrationNumber", "Registration number is invalid")
    if company["industryReference"] and company["industryReference"] not in (
        ref.INDUSTRY_REFERENCES
    ):
        check.add(f"{p}.industryReference", "Unknown industry reference")
    volumes = company["monthlyExpectedVolumesReference"]
    if volumes and volumes not in ref.VOLUME_REFERENCES:
        check.add(f"{p}.monthlyExpectedVolumesReference", "Unknown monthly expected volumes")
    company["associates"] = _associates(check, raw.get("associates"))
    return company


def _associates(check: Checker, raw: Any) -> list[Json]:
    path = "company.associates"
    if not isinstance(raw, list) or not raw:
        check.add(path, "must contain at least one associate")
        return []
    associates = []
    titles_seen: set[str] = set()
    total_ownership = 0.0
    for index, item in enumerate(raw):
        p = f"{path}[{index}]"
        if not isinstance(item, dict):
            check.add(p, "must be an object")
            continue
        titles = _titles(check, item.get("titles"), f"{p}.titles")
        titles_seen.update(titles)
        ownership = item.get("ownershipPercentage")
        if ownership is not None:
            if isinstance(ownership, bool) or not isinstance(ownership, int | float):
                check.add(f"{p}.ownershipPercentage", "must be a number")
                ownership = None
            elif not 0 <= ownership <= 100:
                check.add(f"{p}.ownershipPercentage", "must be between 0 and 100")
                ownership = None
            else:
                total_ownership += ownership
        document_info = check.obj(item, "documentInfo", p, required=False)
        if document_info is not None:
            check.country(document_info, "issuingCountryCode", f"{p}.documentInfo", required=False)
            document_info = {k: v for k, v in document_info.items() if isinstance(v, str)}
        associates.append(
            {
                "firstName": check.text(item, "firstName", p, required=True),
                "lastName": check.text(item, "lastName", p, required=True),
                "dateOfBirth": check.date(item, "dateOfBirth", p, required=True),
                "birthCountryCode": check.country(item, "birthCountryCode", p, required=False),
                "nationality": check.country(item, "nationality", p, required=True),
                "address": check.address(item, "address", p, required=True),
                "contactInfo": check.contact_info(item, "contactInfo", p, required=True),
                "taxIdentification": check.tax_identification(item, p, required=False),
                "documentNumber": check.text(item, "documentNumber", p, required=False),
                "documentInfo": document_info,
                "titles": titles,
                "ownershipPercentage": ownership,
            }
        )
    for title in ref.ASSOCIATE_TITLES:
        if title not in titles_seen:
            check.add(path, f"At least one associate with title {title} is required")
    if total_ownership > 100:
        check.add(path, "Total ownershipPercentage must not exceed 100")
    return associates


def _titles(check: Checker, raw: Any, path: str) -> list[str]:
    if not isinstance(raw, list) or not raw:
        check.add(path, f"must list at least one of: {', '.join(ref.ASSOCIATE_TITLES)}")
        return []
    titles = []
    for value in raw:
        title = value.strip().upper() if isinstance(value, str) else None
        if title not in ref.ASSOCIATE_TITLES:
            check.add(path, f"must be one of: {', '.join(ref.ASSOCIATE_TITLES)}")
            continue
        if title not in titles:
            titles.append(title)
    return titles


def _individual(check: Checker, raw: Json) -> Json:
    p = "individual"
    individual: Json = {
        "firstName": check.text(raw, "firstName", p, required=True, max_length=100),
        "lastName": check.text(raw, "lastName", p, required=True, max_length=100),
        "dateOfBirth": check.date(raw, "dateOfBirth", p, required=True),
        "nationality": check.country(raw, "nationality", p, required=True),
        "birthCountryCode": check.country(raw, "birthCountryCode", p, required=True),
        "emailAddress": check.email(raw, "emailAddress", p, required=True),
        "phoneNumber": check.text(raw, "phoneNumber", p, required=False, max_length=32),
        "description": check.text(raw, "description", p, required=False, max_length=1000),
        "placeOfBirth": check.text(raw, "placeOfBirth", p, required=False),
        "documentNumber": check.text(raw, "documentNumber", p, required=False),
        "address": check.address(raw, "address", p, required=True),
        "taxIdentification": check.tax_identification(raw, p, required=True),
    }
    us_resident = (individual["address"] or {}).get("countryCode") == "US"
    cdd = check.obj(raw, "cdd", p, required=True)
    individual["cdd"] = _cdd(check, cdd, us_resident=us_resident) if cdd is not None else None
    return individual


def _cdd(check: Checker, raw: Json, *, us_resident: bool) -> Json:
    p = "individual.cdd"
    cdd: Json = {
        "employmentStatus": check.enum(
            raw, "employmentStatus", p, ref.EMPLOYMENT_STATUSES, required=True
        ),
        "sourceOfFunds": check.enum(raw, "sourceOfFunds", p, ref.SOURCES_OF_FUNDS, required=True),
        "pepStatus": check.enum(raw, "pepStatus", p, ref.PEP_STATUSES, required=True),
        "intendedUseOfAccount": check.enum(
            raw, "intendedUseOfAccount", p, ref.INTENDED_USES, required=True
        ),
        # C3 makes both required for US individuals.
        "estimatedYearlyIncome": check.enum(
            raw, "estimatedYearlyIncome", p, ref.YEARLY_INCOMES, required=us_resident
        ),
        "employmentIndustrySector": check.enum(
            raw, "employmentIndustrySector", p, ref.INDUSTRY_SECTORS, required=us_resident
        ),
    }
    volume = check.obj(raw, "expectedMonthlyVolume", p, required=True)
    if volume is not None:
        vp = f"{p}.expectedMonthlyVolume"
        cdd["expectedMonthlyVolume"] = {
            "amount": _amount(check, volume.get("amount"), f"{vp}.amount"),
            "currency": check.enum(volume, "currency", vp, ref.CURRENCIES, required=True),
        }
    return cdd


def _amount(check: Checker, raw: Any, path: str) -> str | None:
    """Return a positive decimal amount as a string (sent as a string, returned as a number)."""
    if raw is None or raw == "":
        check.add(path, "must not be null")
        return None
    if isinstance(raw, bool) or not isinstance(raw, str | int | float):
        check.add(path, "must be a decimal number")
        return None
    try:
        amount = Decimal(str(raw))
    except InvalidOperation:
        check.add(path, "must be a decimal number")
        return None
    if not amount.is_finite() or amount <= 0:
        check.add(path, "must be greater than 0")
        return None
    return str(amount)


def validate_update(customer_type: str, current: Json, body: Any) -> tuple[Json, list[str]]:
    """Merge an update body into the stored data; return it and changed fields."""
    check = Checker()
    body = _require_object(body)
    # Tolerate the fields nested under the type key as well as at the top level.
    nested = body.get(customer_type.lower())
    fields = {**(nested if isinstance(nested, dict) else {}), **body}
    data = dict(current)
    changed: list[str] = []

    if "address" in fields:
        raw = fields["address"]
        merged = {**(current.get("address") or {}), **raw} if isinstance(raw, dict) else raw
        address = check.address({"address": merged}, "address", "", required=True)
        if address is not None:
            data["address"] = address
            changed.append("address")
    contact = fields.get("contactInfo")
    if contact is not None:
        if not isinstance(contact, dict):
            check.add("contactInfo", "must be an object")
            contact = {}
        if "emailAddress" in contact:
            email = check.email(contact, "emailAddress", "contactInfo", required=True)
            _set(data, customer_type, "emailAddress", email, changed)
        if "phoneNumber" in contact:
            phone = check.text(contact, "phoneNumber", "contactInfo", required=False)
            _set(data, customer_type, "phoneNumber", phone, changed)
    if "dateOfBirth" in fields:
        if customer_type == "COMPANY":
            check.add("dateOfBirth", "does not apply to COMPANY customers")
        else:
            born = check.date(fields, "dateOfBirth", "", required=True)
            if born is not None:
                data["dateOfBirth"] = born
                changed.append("dateOfBirth")
    if customer_type == "COMPANY":
        for key in ("name", "description", "website"):
            if key in fields:
                value = check.text(fields, key, "", required=key == "name", max_length=1000)
                if value is not None or key != "name":
                    data[key] = value
                    changed.append(key)
        if "operationalAddress" in fields:
            data["operationalAddress"] = check.address(
                fields, "operationalAddress", "", required=False
            )
            changed.append("operationalAddress")
    check.raise_if_errors()
    return data, changed


def _set(data: Json, customer_type: str, key: str, value: Any, changed: list[str]) -> None:
    # Individuals keep contact fields at the top level; companies in contactInfo.
    if customer_type == "INDIVIDUAL":
        data[key] = value
    else:
        data["contactInfo"] = {**(data.get("contactInfo") or {}), key: value}
    changed.append(f"contactInfo.{key}")


def validate_documents(body: Any, person_references: set[str]) -> list[Json]:
    """Validate a document upload array and decode each `content`."""
    check = Checker()
    if not isinstance(body, list) or not body:
        check.add("documents", "must be a non-empty array")
        check.raise_if_errors()
    documents = []
    for index, item in enumerate(body):
        p = f"documents[{index}]"
        if not isinstance(item, dict):
            check.add(p, "must be an object")
            continue
        raw_type = check.enum(item, "type", p, ref.DOCUMENT_TYPES, required=True)
        kind = ref.canonical_document_type(raw_type) if raw_type else None
        sub_type = check.text(item, "subType", p, required=False)
        if kind is not None:
            allowed = ref.DOCUMENT_SUBTYPES[kind]
            if sub_type is None and None not in allowed:
                check.add(f"{p}.subType", f"is required for type {raw_type}")
            elif sub_type is not None and sub_type not in allowed:
                options = ", ".join(s for s in allowed if s)
                check.add(f"{p}.subType", f"must be one of: {options}")
        person = item.get("customerPersonReference")
        if person is not None and person not in person_references:
            check.add(f"{p}.customerPersonReference", f"Unknown person reference: {person}")
        content = _content(check, item.get("content"), f"{p}.content")
        documents.append(
            {
                "type": raw_type,
                "kind": kind,
                "subType": sub_type,
                "name": check.text(item, "name", p, required=True),
                "description": check.text(item, "description", p, required=False),
                "countryCode": check.country(item, "countryCode", p, required=False),
                "externalReference": check.text(item, "externalReference", p, required=False),
                "customerPersonReference": person,
                "content": content,
            }
        )
    check.raise_if_errors()
    return documents


def _content(check: Checker, raw: Any, path: str) -> bytes | None:
    if not isinstance(raw, str) or not raw.strip():
        check.add(path, "must not be blank")
        return None
    try:
        content = base64.b64decode("".join(raw.split()), validate=True)
    except (binascii.Error, ValueError):
        check.add(path, "must be valid base64")
        return None
    if not content:
        check.add(path, "must not be empty")
        return None
    return content


def _require_object(body: Any) -> Json:
    if not isinstance(body, dict):
        raise ValidationError({"body": ["must be a JSON object"]})
    return body
