"""Response bodies in BVNK's v1 shapes (customers, lists, sessions, documents)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from bvnk_emulator import reference_data as ref
from bvnk_emulator.store import Row

Json = dict[str, Any]


def compact(value: Any) -> Any:
    """Drop keys whose value is None, recursively (BVNK leaves absent fields out)."""
    if isinstance(value, dict):
        return {k: compact(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [compact(v) for v in value]
    return value


def number(amount: str | None) -> int | float | None:
    """Return a decimal string as a JSON number (sent as a string, returned as a number)."""
    if amount is None:
        return None
    value = Decimal(amount)
    return int(value) if value == value.to_integral_value() else float(value)


def address(data: Json | None) -> Json | None:
    """Return an address with BVNK's added `country` and `state` names."""
    if not data:
        return None
    out = dict(data)
    out["country"] = ref.COUNTRIES.get(data.get("countryCode") or "")
    if data.get("countryCode") == "US" and data.get("stateCode"):
        out["state"] = ref.US_STATES.get(data["stateCode"])
    return out


def customer_name(customer: Row) -> str:
    """Return the display name used by listings and the name filter."""
    data = customer["data"]
    if customer["type"] == "COMPANY":
        return str(data.get("name") or "")
    return f"{data.get('firstName') or ''} {data.get('lastName') or ''}".strip()


def person_references(customer: Row) -> set[str]:
    """Return the person references that documents may be attached to."""
    data = customer["data"]
    if customer["type"] == "COMPANY":
        return {a["reference"] for a in data.get("associates", [])}
    return {data["personReference"]}


def _person(data: Json, reference: str) -> Json:
    return {
        "reference": reference,
        "firstName": data.get("firstName"),
        "lastName": data.get("lastName"),
        "dateOfBirth": data.get("dateOfBirth"),
        "address": address(data.get("address")),
    }


def _associate(associate: Json) -> Json:
    return {
        "person": _person(associate, associate["reference"]),
        "details": {
            "birthCountryCode": associate.get("birthCountryCode"),
            "nationality": associate.get("nationality"),
            "contactInfo": associate.get("contactInfo"),
            "documentNumber": associate.get("documentNumber"),
            "documentInfo": associate.get("documentInfo"),
            "taxIdentification": associate.get("taxIdentification"),
        },
        "titles": associate.get("titles"),
        "ownershipPercentage": associate.get("ownershipPercentage"),
    }


def _company(data: Json) -> Json:
    keys = (
        "name",
        "description",
        "entityType",
        "taxResidenceCountryCode",
        "registrationNumber",
        "taxNumber",
        "industryReference",
        "monthlyExpectedVolumesReference",
        "incorporationDate",
        "businessOperationsStartDate",
        "website",
        "contactInfo",
    )
    company = {key: data.get(key) for key in keys}
    company["address"] = address(data.get("address"))
    company["operationalAddress"] = address(data.get("operationalAddress"))
    company["associates"] = [_associate(a) for a in data.get("associates", [])]
    return company


def _individual(data: Json) -> Json:
    cdd = dict(data.get("cdd") or {})
    volume = cdd.get("expectedMonthlyVolume")
    if volume:
        cdd["expectedMonthlyVolume"] = {**volume, "amount": number(volume.get("amount"))}
    return {
        "person": _person(data, data["personReference"]),
        "details": {
            "nationality": data.get("nationality"),
            "birthCountryCode": data.get("birthCountryCode"),
            "placeOfBirth": data.get("placeOfBirth"),
            "documentNumber": data.get("documentNumber"),
            "contactInfo": {
                "emailAddress": data.get("emailAddress"),
                "phoneNumber": data.get("phoneNumber"),
            },
            "taxIdentification": data.get("taxIdentification"),
        },
        "cdd": cdd,
        "description": data.get("description"),
    }


def verification(customer: Row, public_url: str) -> Json:
    """Return the `verification` block pointing at the emulator's stand-in page."""
    state = customer["state"]["verification"]
    return {
        "status": state["status"],
        "url": f"{public_url}/verification/{customer['verification_token']}",
        "expiresAt": state["expiresAt"],
    }


def customer_body(customer: Row, info_required: Json, public_url: str) -> Json:
    """Return the full GET body of a customer."""
    body: Json = {
        "reference": customer["reference"],
        "externalReference": customer["external_reference"],
        "status": customer["status"],
        "type": customer["type"],
        "flowType": "API",
        "riskScore": customer["risk_score"],
    }
    if customer["type"] == "COMPANY":
        body["company"] = _company(customer["data"])
    else:
        body["individual"] = _individual(customer["data"])
    body["verification"] = verification(customer, public_url)
    body["infoRequired"] = info_required
    body["createdAt"] = customer["created_at"]
    body["updatedAt"] = customer["updated_at"]
    return compact(body)


def list_item(customer: Row) -> Json:
    """Return one entry of the customer list."""
    return compact(
        {
            "reference": customer["reference"],
            "externalReference": customer["external_reference"],
            "status": customer["status"],
            "type": customer["type"],
            "model": "EMBEDDED",
            "name": customer_name(customer),
            "description": customer["data"].get("description"),
        }
    )


def spring_page(
    content: list[Json], *, page: int, size: int, total: int, sort_keys: list[str]
) -> Json:
    """Return a Spring Data `Page` body."""
    sort = {"empty": not sort_keys, "sorted": bool(sort_keys), "unsorted": not sort_keys}
    total_pages = (total + size - 1) // size if size else 0
    return {
        "content": content,
        "pageable": {
            "pageNumber": page,
            "pageSize": size,
            "sort": sort,
            "offset": page * size,
            "paged": True,
            "unpaged": False,
        },
        "last": page >= total_pages - 1,
        "totalPages": total_pages,
        "totalElements": total,
        "first": page == 0,
        "size": size,
        "number": page,
        "sort": sort,
        "numberOfElements": len(content),
        "empty": not content,
    }


def session_body(session: Row) -> Json:
    """Return an agreement session with its current status."""
    return {**session["body"], "status": session["status"]}


def document_body(document: Row, reason_key: str = "rejectionReason") -> Json:
    """Return a document as listed by `GET .../customers/documents`."""
    meta = document["meta"]
    reason = {reason_key: meta.get("rejectionReason")} if document["status"] == "REJECTED" else {}
    return compact(
        {
            "reference": document["reference"],
            "customerReference": document["customer_reference"],
            "customerPersonReference": document["person_reference"],
            "type": document["type"],
            "subType": document["sub_type"],
            "name": document["name"],
            "description": meta.get("description"),
            "countryCode": meta.get("countryCode"),
            "externalReference": meta.get("externalReference"),
            "status": document["status"],
            **reason,
            "size": len(document["content"]),
            "createdAt": document["created_at"],
            "updatedAt": document["updated_at"],
        }
    )


def questionnaire_body(submission: Row) -> Json:
    """Return a questionnaire submission as listed by `GET .../customers/questionnaires`."""
    return {
        "reference": submission["reference"],
        "customerReference": submission["customer_reference"],
        "code": submission["code"],
        "status": submission["status"],
        "missingItems": submission["missing"],
        "sections": submission["sections"],
        "submittedAt": submission["created_at"],
    }
