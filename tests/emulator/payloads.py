"""Valid request bodies and small flows shared by the emulator tests."""

from __future__ import annotations

import base64
import copy
import uuid
from typing import Any

from tests.emulator_server import EmulatorProcess, wait_until

# A sub-industry under "Financial services" in the emulator's list; the two documented
# examples (Food/Beverages and Software) ask for the "other" questionnaire.
FINANCIAL_SERVICES = "1e4b6d21-06d8-11ef-9d2b-027612b7f6b5"
FOOD_BEVERAGES = "30ea15fc-06d8-11ef-b6e1-027612b7f6b5"
SOFTWARE = "56e65ebc-06fa-11ef-bbf8-02d3d923cf2b"
VOLUME = "ef779c41-547e-11ef-8b9c-027612b7f6b5"
PDF = base64.b64encode(b"%PDF-1.4\n% emulator test document\n").decode()

CUSTOMERS = "/platform/v1/customers"
SESSIONS = "/platform/v1/customers/agreement/sessions"

US_ADDRESS = {
    "addressLine1": "101 West Broadway",
    "addressLine2": "Suite 1975",
    "city": "San Diego",
    "postalCode": "92101",
    "stateCode": "CA",
    "countryCode": "US",
}


def associate(first: str, last: str, titles: list[str], **extra: Any) -> dict[str, Any]:
    """Return a valid associate."""
    return {
        "firstName": first,
        "lastName": last,
        "dateOfBirth": "1980-01-31",
        "birthCountryCode": "US",
        "nationality": "US",
        "address": dict(US_ADDRESS),
        "contactInfo": {"emailAddress": f"{first.lower()}@example.com", "phoneNumber": "+1555"},
        "taxIdentification": {"number": "914764628", "taxResidenceCountryCode": "US"},
        "titles": titles,
        **extra,
    }


def company(session: str, *, name: str = "LB Ltd.", **overrides: Any) -> dict[str, Any]:
    """Return a valid COMPANY create body bound to `session`."""
    body: dict[str, Any] = {
        "type": "COMPANY",
        "externalReference": str(uuid.uuid4()),
        "signedAgreementSessionReference": session,
        "company": {
            "name": name,
            "description": "Embedded customer",
            "entityType": "LLC",
            "taxResidenceCountryCode": "US",
            "registrationNumber": "21-4532998",
            "industryReference": FINANCIAL_SERVICES,
            "monthlyExpectedVolumesReference": VOLUME,
            "address": dict(US_ADDRESS),
            "incorporationDate": "2015-05-01",
            "associates": [
                associate("Sean", "Bond", ["UBO", "DIRECTOR"], ownershipPercentage=60),
                associate("Ada", "Reed", ["REPRESENTATIVE"], ownershipPercentage=40),
            ],
        },
    }
    body.update(overrides)
    return body


def individual(session: str, *, last_name: str = "Doe", **overrides: Any) -> dict[str, Any]:
    """Return a valid US INDIVIDUAL create body bound to `session`."""
    body: dict[str, Any] = {
        "type": "INDIVIDUAL",
        "externalReference": str(uuid.uuid4()),
        "signedAgreementSessionReference": session,
        "individual": {
            "firstName": "Jane",
            "lastName": last_name,
            "dateOfBirth": "1984-06-30",
            "birthCountryCode": "US",
            "nationality": "US",
            "emailAddress": "jane@example.com",
            "address": {
                "addressLine1": "1 Main Street",
                "city": "Austin",
                "postalCode": "78701",
                "stateCode": "TX",
                "countryCode": "US",
            },
            "taxIdentification": {"number": "123-45-6789", "taxResidenceCountryCode": "US"},
            "cdd": {
                "employmentStatus": "SALARIED",
                "sourceOfFunds": "SALARY",
                "pepStatus": "NOT_PEP",
                "intendedUseOfAccount": "TRANSFERS_OWN_WALLET",
                "expectedMonthlyVolume": {"amount": "1000", "currency": "USD"},
                "estimatedYearlyIncome": "INCOME_0_TO_50K",
                "employmentIndustrySector": "INVESTMENT",
            },
        },
    }
    body.update(overrides)
    return body


def mutate(body: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """Return a copy of `body` with a dotted path (with [i] indexes) set, or deleted on ...."""
    body = copy.deepcopy(body)
    parts = path.replace("]", "").replace("[", ".").split(".")
    target: Any = body
    for part in parts[:-1]:
        target = target[int(part)] if part.isdigit() else target[part]
    last = parts[-1]
    key: Any = int(last) if last.isdigit() else last
    if value is ...:
        del target[key]
    else:
        target[key] = value
    return body


def signed_session(
    emulator: EmulatorProcess, customer_type: str = "COMPANY", country: str = "US"
) -> str:
    """Create an agreement session, sign it through the API and return its reference."""
    response = emulator.post(
        SESSIONS,
        json={"customerType": customer_type, "countryCode": country, "useCase": "FIAT"},
    )
    assert response.status_code == 201, response.text
    reference = response.json()["reference"]
    signed = emulator.put(
        f"{SESSIONS}/{reference}", json={"status": "SIGNED", "ipAddress": "1.2.3.4"}
    )
    assert signed.status_code == 204, signed.text
    return reference


def create_company(emulator: EmulatorProcess, **kwargs: Any) -> dict[str, Any]:
    """Create a company customer and return its GET body."""
    response = emulator.post(CUSTOMERS, json=company(signed_session(emulator), **kwargs))
    assert response.status_code == 201, response.text
    return emulator.get(f"{CUSTOMERS}/{response.json()['reference']}").json()


def create_individual(emulator: EmulatorProcess, **kwargs: Any) -> dict[str, Any]:
    """Create an individual customer and return its GET body."""
    session = signed_session(emulator, "INDIVIDUAL")
    response = emulator.post(CUSTOMERS, json=individual(session, **kwargs))
    assert response.status_code == 201, response.text
    return emulator.get(f"{CUSTOMERS}/{response.json()['reference']}").json()


def errors_of(response: Any) -> dict[str, list[str]]:
    """Return details.errors of a 400 envelope, checking the envelope on the way."""
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["code"] == "ACCOUNTS-2000"
    assert body["status"] == "Bad Request"
    assert body["message"] == "Invalid request"
    return body["details"]["errors"]


def document(
    doc_type: str, sub_type: str | None = None, person: str | None = None, **extra: Any
) -> dict[str, Any]:
    """Return one document upload entry."""
    entry = {"type": doc_type, "name": f"{doc_type}.pdf", "countryCode": "US", "content": PDF}
    if sub_type:
        entry["subType"] = sub_type
    if person:
        entry["customerPersonReference"] = person
    entry.update(extra)
    return entry


def company_documents(customer: dict[str, Any]) -> list[dict[str, Any]]:
    """Return every document a company needs: company docs and associates' identity."""
    docs = [
        document("COMPANY_DOC", sub)
        for sub in (
            "INCORPORATION_CERT",
            "INCORPORATION_ARTICLES",
            "DIRECTORS_REGISTRY",
            "PROOF_OF_ADDRESS",
        )
    ]
    first, second = (a["person"]["reference"] for a in customer["company"]["associates"])
    docs.append(document("PASSPORT", "FRONT_SIDE", first))
    docs.append(document("ID_CARD", "FRONT_SIDE", second))
    docs.append(document("ID_CARD", "BACK_SIDE", second))
    return docs


def complete_answers(code: str = "financialServicesQuestionnaireFull") -> list[dict[str, Any]]:
    """Return a complete questionnaire submission for the financial-services code."""
    return [
        {
            "code": code,
            "sections": {
                "natureOfBusiness": {
                    "items": {
                        "businessDescription": {"value": "Payments for marketplaces"},
                        "targetMarkets": {"values": ["US", "EU"]},
                        "customerBase": {"value": "B2B"},
                        "monthlyTransactions": {"value": "UP_TO_1000"},
                        "regulatedActivities": {"values": ["PAYMENTS"]},
                    }
                },
                "documentRequirements": {
                    "items": {
                        "hasAmlPolicy": {"value": True},
                        "isRegulated": {"value": "false"},
                        "auditedAccounts": {"value": True},
                    }
                },
            },
        }
    ]


def status_of(emulator: EmulatorProcess, reference: str) -> str:
    """Return a customer's current status."""
    return str(emulator.get(f"{CUSTOMERS}/{reference}").json()["status"])


def wait_for_status(
    emulator: EmulatorProcess, reference: str, status: str, timeout: float = 5.0
) -> None:
    """Poll until the customer reaches `status`."""
    wait_until(lambda: status_of(emulator, reference) == status, timeout)
