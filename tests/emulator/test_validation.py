"""One test per create-customer validation rule, each naming the failing field."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from tests.emulator.payloads import (
    CUSTOMERS,
    SESSIONS,
    associate,
    company,
    errors_of,
    individual,
    mutate,
    signed_session,
)
from tests.emulator_server import EmulatorProcess

pytestmark = pytest.mark.emulator

TOMORROW = (dt.datetime.now(dt.UTC).date() + dt.timedelta(days=2)).isoformat()
DELETE = ...

COMPANY_RULES: list[tuple[str, Any, str]] = [
    ("type", DELETE, "type"),
    ("type", "PARTNER", "type"),
    ("signedAgreementSessionReference", DELETE, "signedAgreementSessionReference"),
    ("company", DELETE, "company"),
    ("company.name", "  ", "company.name"),
    ("company.entityType", "LIMITED_LIABILITY_COMPANY", "company.entityType"),
    ("company.taxResidenceCountryCode", "XX", "company.taxResidenceCountryCode"),
    ("company.address", DELETE, "company.address"),
    ("company.address.addressLine1", DELETE, "company.address.addressLine1"),
    ("company.address.city", "", "company.address.city"),
    ("company.address.postalCode", DELETE, "company.address.postalCode"),
    ("company.address.countryCode", "USA", "company.address.countryCode"),
    ("company.address.stateCode", DELETE, "company.address.stateCode"),
    ("company.address.stateCode", "ZZ", "company.address.stateCode"),
    ("company.operationalAddress", {"city": "Austin"}, "company.operationalAddress.addressLine1"),
    ("company.incorporationDate", "2015/05/01", "company.incorporationDate"),
    ("company.incorporationDate", "2015-02-30", "company.incorporationDate"),
    ("company.incorporationDate", TOMORROW, "company.incorporationDate"),
    (
        "company.industryReference",
        "00000000-0000-0000-0000-000000000000",
        "company.industryReference",
    ),
    ("company.monthlyExpectedVolumesReference", "nope", "company.monthlyExpectedVolumesReference"),
    ("company.registrationNumber", "INVALID", "company.registrationNumber"),
    ("company.associates", [], "company.associates"),
    ("company.associates[0].firstName", DELETE, "company.associates[0].firstName"),
    ("company.associates[0].dateOfBirth", "31-01-1980", "company.associates[0].dateOfBirth"),
    ("company.associates[1].dateOfBirth", TOMORROW, "company.associates[1].dateOfBirth"),
    ("company.associates[0].nationality", "Germany", "company.associates[0].nationality"),
    ("company.associates[0].titles", ["OWNER"], "company.associates[0].titles"),
    ("company.associates[0].titles", [], "company.associates[0].titles"),
    (
        "company.associates[0].contactInfo.emailAddress",
        "not-an-email",
        "company.associates[0].contactInfo.emailAddress",
    ),
    (
        "company.associates[1].address.stateCode",
        "XY",
        "company.associates[1].address.stateCode",
    ),
    ("company.associates[0].ownershipPercentage", 101, "company.associates[0].ownershipPercentage"),
    (
        "company.associates[0].ownershipPercentage",
        "50%",
        "company.associates[0].ownershipPercentage",
    ),
    ("company.associates[0].ownershipPercentage", 70, "company.associates"),  # total 110
    ("company.associates[1].titles", ["UBO"], "company.associates"),  # no REPRESENTATIVE
]


@pytest.mark.parametrize(("path", "value", "field"), COMPANY_RULES)
def test_company_rule(emulator: EmulatorProcess, path: str, value: Any, field: str) -> None:
    body = mutate(company(signed_session(emulator)), path, value)
    assert field in errors_of(emulator.post(CUSTOMERS, json=body))


def test_missing_title_names_the_title(emulator: EmulatorProcess) -> None:
    body = mutate(company(signed_session(emulator)), "company.associates[0].titles", ["UBO"])
    errors = errors_of(emulator.post(CUSTOMERS, json=body))
    assert errors["company.associates"] == [
        "At least one associate with title DIRECTOR is required"
    ]


def test_eu_company_needs_a_registration_number(emulator: EmulatorProcess) -> None:
    body = company(signed_session(emulator, country="DE"))
    body["company"]["taxResidenceCountryCode"] = "DE"
    body["company"]["address"] = {
        "addressLine1": "Unter den Linden 1",
        "city": "Berlin",
        "postalCode": "10117",
        "countryCode": "DE",
    }
    del body["company"]["registrationNumber"]
    assert "company.registrationNumber" in errors_of(emulator.post(CUSTOMERS, json=body))


def test_us_company_with_an_ein_needs_no_registration_number(emulator: EmulatorProcess) -> None:
    body = company(signed_session(emulator))
    del body["company"]["registrationNumber"]
    body["company"]["taxNumber"] = "12-3456789"
    assert emulator.post(CUSTOMERS, json=body).status_code == 201


def test_us_company_with_a_malformed_ein_needs_a_registration_number(
    emulator: EmulatorProcess,
) -> None:
    body = company(signed_session(emulator))
    del body["company"]["registrationNumber"]
    body["company"]["taxNumber"] = "12-345"
    found = errors_of(emulator.post(CUSTOMERS, json=body))
    assert "company.registrationNumber" in found and "company.taxNumber" in found


def test_lower_case_type_and_unknown_keys_are_accepted(emulator: EmulatorProcess) -> None:
    body = company(signed_session(emulator), type="company", somethingNew={"x": 1})
    body["company"]["associates"].append(associate("Kim", "Lee", ["director"], hobby="golf"))
    body["company"]["associates"][0]["ownershipPercentage"] = 50
    body["company"]["associates"][1]["ownershipPercentage"] = 25.5
    response = emulator.post(CUSTOMERS, json=body)
    assert response.status_code == 201, response.text
    assert response.json()["type"] == "COMPANY"


def test_all_errors_are_reported_together(emulator: EmulatorProcess) -> None:
    body = mutate(company(signed_session(emulator)), "company.entityType", "BANK")
    body = mutate(body, "company.address.stateCode", ...)
    errors = errors_of(emulator.post(CUSTOMERS, json=body))
    assert {"company.entityType", "company.address.stateCode"} <= errors.keys()


INDIVIDUAL_RULES: list[tuple[str, Any, str]] = [
    ("individual", DELETE, "individual"),
    ("individual.firstName", DELETE, "individual.firstName"),
    ("individual.lastName", "", "individual.lastName"),
    ("individual.dateOfBirth", TOMORROW, "individual.dateOfBirth"),
    ("individual.nationality", DELETE, "individual.nationality"),
    ("individual.birthCountryCode", "ZZ", "individual.birthCountryCode"),
    ("individual.emailAddress", "jane@", "individual.emailAddress"),
    ("individual.address.stateCode", "Texas", "individual.address.stateCode"),
    ("individual.address.postalCode", DELETE, "individual.address.postalCode"),
    ("individual.taxIdentification", DELETE, "individual.taxIdentification"),
    ("individual.taxIdentification.number", "INVALID", "individual.taxIdentification.number"),
    (
        "individual.taxIdentification.taxResidenceCountryCode",
        "us",
        "individual.taxIdentification.taxResidenceCountryCode",
    ),
    ("individual.cdd", DELETE, "individual.cdd"),
    ("individual.cdd.pepStatus", "MAYBE", "individual.cdd.pepStatus"),
    ("individual.cdd.employmentStatus", "SELF-EMPLOYED", "individual.cdd.employmentStatus"),
    ("individual.cdd.sourceOfFunds", "GIFT", "individual.cdd.sourceOfFunds"),
    ("individual.cdd.intendedUseOfAccount", DELETE, "individual.cdd.intendedUseOfAccount"),
    (
        "individual.cdd.expectedMonthlyVolume.currency",
        "GBP",
        "individual.cdd.expectedMonthlyVolume.currency",
    ),
    (
        "individual.cdd.expectedMonthlyVolume.amount",
        "ten",
        "individual.cdd.expectedMonthlyVolume.amount",
    ),
    (
        "individual.cdd.expectedMonthlyVolume.amount",
        "-5",
        "individual.cdd.expectedMonthlyVolume.amount",
    ),
    ("individual.cdd.estimatedYearlyIncome", DELETE, "individual.cdd.estimatedYearlyIncome"),
    ("individual.cdd.employmentIndustrySector", DELETE, "individual.cdd.employmentIndustrySector"),
    ("individual.cdd.employmentIndustrySector", "SPACE", "individual.cdd.employmentIndustrySector"),
]


@pytest.mark.parametrize(("path", "value", "field"), INDIVIDUAL_RULES)
def test_individual_rule(emulator: EmulatorProcess, path: str, value: Any, field: str) -> None:
    body = mutate(individual(signed_session(emulator, "INDIVIDUAL")), path, value)
    assert field in errors_of(emulator.post(CUSTOMERS, json=body))


def test_legacy_2024_individual_shape_is_refused(emulator: EmulatorProcess) -> None:
    body = individual(signed_session(emulator, "INDIVIDUAL"))
    address = body["individual"]["address"]
    address["postCode"] = address.pop("postalCode")
    errors = errors_of(emulator.post(CUSTOMERS, json=body))
    assert "individual.address.postalCode" in errors


def test_non_us_individual_needs_no_income_or_sector(emulator: EmulatorProcess) -> None:
    body = individual(signed_session(emulator, "INDIVIDUAL", country="FR"))
    body["individual"]["address"] = {
        "addressLine1": "1 Rue de Rivoli",
        "city": "Paris",
        "postalCode": "75001",
        "countryCode": "FR",
    }
    del body["individual"]["cdd"]["estimatedYearlyIncome"]
    del body["individual"]["cdd"]["employmentIndustrySector"]
    body["individual"]["cdd"]["expectedMonthlyVolume"] = {"amount": 10000.01, "currency": "EUR"}
    assert emulator.post(CUSTOMERS, json=body).status_code == 201


def test_malformed_json_and_non_object_bodies(emulator: EmulatorProcess) -> None:
    response = emulator.post(
        CUSTOMERS, data=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert "body" in errors_of(response)
    assert "body" in errors_of(emulator.post(CUSTOMERS, json=[1, 2]))


# -- agreement sessions --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"countryCode": "US", "useCase": "FIAT"}, "customerType"),
        (
            {"customerType": "COMPANY", "countryCode": "United States", "useCase": "FIAT"},
            "countryCode",
        ),
        ({"customerType": "COMPANY", "countryCode": "US", "useCase": "LOANS"}, "useCase"),
    ],
)
def test_session_create_rule(emulator: EmulatorProcess, body: dict[str, Any], field: str) -> None:
    assert field in errors_of(emulator.post(SESSIONS, json=body))


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"status": "ACCEPTED", "ipAddress": "1.2.3.4"}, "status"),
        ({"status": "SIGNED"}, "ipAddress"),
        ({"status": "SIGNED", "ipAddress": "999.1.1.1"}, "ipAddress"),
    ],
)
def test_session_update_rule(emulator: EmulatorProcess, body: dict[str, Any], field: str) -> None:
    created = emulator.post(
        SESSIONS, json={"customerType": "Individual", "countryCode": "US", "useCase": "FIAT"}
    )
    reference = created.json()["reference"]
    assert field in errors_of(emulator.put(f"{SESSIONS}/{reference}", json=body))
