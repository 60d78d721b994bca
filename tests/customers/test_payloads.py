"""Model to BVNK payload mapping (customers/payloads.py) and BVNK errors mapped back."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from customers import payloads
from customers.models import Customer
from customers.onboarding import refusals
from tests.customers.conftest import (
    INDUSTRY,
    VOLUME,
    add_associate,
    company_draft,
    individual_draft,
    sign,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_passwords")]


def test_company_create_payload_is_exactly_bvnks_shape() -> None:
    customer = company_draft(
        operational_address_line1="500 Market Street",
        operational_city="San Francisco",
        operational_postal_code="94105",
        operational_state_code="CA",
        operational_country="US",
        state_code="XX",  # A stray state on a non-US address is never sent.
    )
    add_associate(
        customer,
        "Ada",
        last_name="Lovelace",
        date_of_birth=dt.date(1980, 3, 14),
        birth_country="FR",
        phone="+447911123456",
        is_beneficial_owner=True,
        is_controlling_person=True,
        ownership_percentage=Decimal("62.50"),
        tax_number="AB123456C",
        tax_residence_country="GB",
        id_document_type="PASSPORT",
        id_document_number="123456789",
        id_document_issuing_country="GB",
        id_document_expiry=dt.date(2030, 1, 31),
    )
    add_associate(
        customer,
        "Cleo",
        last_name="Ray",
        date_of_birth=dt.date(1975, 7, 1),
        address_line1="9 Elm Street",
        city="Austin",
        postal_code="78701",
        state_code="TX",
        country="US",
        nationality="US",
        birth_country="",
        is_signer=True,
        ownership_percentage=Decimal("10"),  # Not an owner: not sent.
    )
    sign(customer, reference="c1d91c8b-f4a6-469e-953d-7344fdb6858c")

    assert payloads.customer_create(customer).to_wire() == {
        "type": "COMPANY",
        "externalReference": str(customer.external_reference),
        "signedAgreementSessionReference": "c1d91c8b-f4a6-469e-953d-7344fdb6858c",
        "company": {
            "name": "Northwind Trading Ltd",
            "description": "Wholesale of tea",
            "entityType": "LLC",
            "taxResidenceCountryCode": "GB",
            "registrationNumber": "09876543",
            "taxNumber": "GB123456789",
            "industryReference": INDUSTRY,
            "monthlyExpectedVolumesReference": VOLUME,
            "address": {
                "addressLine1": "1 King Street",
                "city": "London",
                "postalCode": "EC2V 8AU",
                "countryCode": "GB",
            },
            "operationalAddress": {
                "addressLine1": "500 Market Street",
                "city": "San Francisco",
                "postalCode": "94105",
                "stateCode": "CA",
                "countryCode": "US",
            },
            "incorporationDate": "2015-06-01",
            "website": "https://northwind.example",
            "associates": [
                {
                    "firstName": "Ada",
                    "lastName": "Lovelace",
                    "dateOfBirth": "1980-03-14",
                    "nationality": "GB",
                    "birthCountryCode": "FR",
                    "address": {
                        "addressLine1": "2 Queen Street",
                        "city": "London",
                        "postalCode": "EC4N 1SP",
                        "countryCode": "GB",
                    },
                    "contactInfo": {
                        "emailAddress": "ada@example.com",
                        "phoneNumber": "+447911123456",
                    },
                    "taxIdentification": {"number": "AB123456C", "taxResidenceCountryCode": "GB"},
                    "documentInfo": {
                        "number": "123456789",
                        "type": "PASSPORT",
                        "issuingCountryCode": "GB",
                        "expiryDate": "2030-01-31",
                    },
                    "titles": ["UBO", "DIRECTOR"],
                    "ownershipPercentage": 62.5,
                },
                {
                    "firstName": "Cleo",
                    "lastName": "Ray",
                    "dateOfBirth": "1975-07-01",
                    "nationality": "US",
                    "address": {
                        "addressLine1": "9 Elm Street",
                        "city": "Austin",
                        "postalCode": "78701",
                        "stateCode": "TX",
                        "countryCode": "US",
                    },
                    "contactInfo": {"emailAddress": "cleo@example.com"},
                    "titles": ["REPRESENTATIVE"],
                },
            ],
        },
    }


def test_individual_create_payload_is_exactly_bvnks_shape() -> None:
    customer = individual_draft(address_line2="Apt 4")
    sign(customer, country="US", reference="c1d91c8b-f4a6-469e-953d-7344fdb6858c")
    customer.refresh_from_db()  # As the submission task reads it: money with its 2 places.

    assert payloads.customer_create(customer).to_wire() == {
        "type": "INDIVIDUAL",
        "externalReference": str(customer.external_reference),
        "signedAgreementSessionReference": "c1d91c8b-f4a6-469e-953d-7344fdb6858c",
        "individual": {
            "firstName": "Jane",
            "lastName": "Doe",
            "dateOfBirth": "1984-06-30",
            "birthCountryCode": "US",
            "nationality": "US",
            "emailAddress": "jane@example.com",
            "phoneNumber": "+12025550143",
            "address": {
                "addressLine1": "1 Main Street",
                "addressLine2": "Apt 4",
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
                "expectedMonthlyVolume": {"amount": "1000.00", "currency": "USD"},
                "estimatedYearlyIncome": "INCOME_0_TO_50K",
                "employmentIndustrySector": "INVESTMENT",
            },
        },
    }


def test_us_only_answers_are_not_sent_for_other_residents() -> None:
    customer = individual_draft(country="DE", state_code="", postal_code="10115", city="Berlin")
    sign(customer, country="DE")
    cdd = payloads.customer_create(customer).to_wire()["individual"]["cdd"]
    assert "estimatedYearlyIncome" not in cdd and "employmentIndustrySector" not in cdd


def test_the_newest_signed_session_is_used_and_one_is_required() -> None:
    customer = individual_draft()
    with pytest.raises(payloads.IncompleteCustomer):
        payloads.customer_create(customer)
    sign(customer, country="US", reference="old")
    sign(customer, country="US", reference="new")
    assert payloads.customer_create(customer).signed_agreement_session_reference == "new"


def test_agreement_session_request(settings) -> None:
    settings.BVNK_USE_CASE = "STABLECOIN_PAYOUTS"
    company = company_draft(tax_residence_country="US", country="GB")
    assert payloads.agreement_session_create(company).to_wire() == {
        "customerType": "COMPANY",
        "countryCode": "US",
        "useCase": "STABLECOIN_PAYOUTS",
    }
    person = individual_draft(country="DE", tax_residence_country="US")
    assert payloads.agreement_session_create(person).country_code == "DE"
    with pytest.raises(payloads.IncompleteCustomer):
        payloads.agreement_session_create(Customer.objects.create(type="INDIVIDUAL"))


def test_update_payload_for_an_individual_and_a_company() -> None:
    person = individual_draft(phone="")
    assert payloads.customer_update(person).to_wire() == {
        "contactInfo": {"emailAddress": "jane@example.com"},
        "address": {
            "addressLine1": "1 Main Street",
            "city": "Austin",
            "postalCode": "78701",
            "stateCode": "TX",
            "countryCode": "US",
        },
        "dateOfBirth": "1984-06-30",
    }
    company = company_draft()
    assert set(payloads.customer_update(company).to_wire()) == {"address"}


# -- BVNK's field errors back onto steps --------------------------------------------------


def test_company_error_paths_map_to_steps_associates_and_fields() -> None:
    customer = company_draft()
    first = add_associate(customer, "Ada")
    second = add_associate(customer, "Ben")
    mapped = refusals.map_bvnk_errors(
        customer,
        {
            "company.registrationNumber": ["Registration number is invalid"],
            "company.operationalAddress.stateCode": ["must be a US state code: ZZ"],
            "company.associates[1].dateOfBirth": ["must be a date in the past"],
            "company.associates[0].contactInfo.emailAddress": ["must be well-formed"],
            "company.associates": ["At least one associate with title UBO is required"],
            "signedAgreementSessionReference": ["is already assigned to the customer"],
            "externalReference": ["already exists"],
            "company.associates[7].firstName": ["no such associate"],
        },
        payloads.payload_associates(customer),
    )
    assert mapped["steps"] == {
        "company": {"registration_number": ["Registration number is invalid"]},
        "address": {"operational_state_code": ["must be a US state code: ZZ"]},
        "associates": {
            "__all__": ["associates: At least one associate with title UBO is required"]
        },
        "agreement": {
            "__all__": ["signedAgreementSessionReference: is already assigned to the customer"]
        },
    }
    assert mapped["associates"] == {
        str(second.pk): {"date_of_birth": ["must be a date in the past"]},
        str(first.pk): {"email": ["must be well-formed"]},
    }
    assert mapped["other"] == {
        "externalReference": ["already exists"],
        "company.associates[7].firstName": ["no such associate"],
    }


def test_individual_error_paths_map_to_steps_and_fields() -> None:
    customer = individual_draft()
    mapped = refusals.map_bvnk_errors(
        customer,
        {
            "individual.address.stateCode": ["must be a US state code: ZZ"],
            "individual.taxIdentification.number": ["Tax identification number is invalid"],
            "individual.cdd.expectedMonthlyVolume.amount": ["must be greater than 0"],
            "individual.emailAddress": ["must be a well-formed email address"],
            "individual.placeOfBirth": ["not collected by the portal"],
        },
        [],
    )
    assert mapped["steps"] == {
        "address": {"state_code": ["must be a US state code: ZZ"]},
        "tax": {"tax_number": ["Tax identification number is invalid"]},
        "due-diligence": {"expected_monthly_volume": ["must be greater than 0"]},
        "contact": {"email": ["must be a well-formed email address"]},
    }
    assert mapped["other"] == {"individual.placeOfBirth": ["not collected by the portal"]}
