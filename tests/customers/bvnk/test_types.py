"""Request JSON and response parsing of the BVNK types (customers, sessions, documents)."""

from __future__ import annotations

import base64
import json
from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from customers.bvnk import (
    Address,
    AgreementSession,
    AssociateIn,
    ContactInfo,
    Customer,
    CustomerCreate,
    CustomerCreated,
    CustomerSummary,
    CustomerUpdate,
    DocumentAccepted,
    DocumentUpload,
    QuestionnaireAnswers,
    QuestionnaireDefinition,
    ReferenceItem,
    wire,
)
from customers.bvnk.types import parse_datetime
from tests.customers.bvnk import samples

INDIVIDUAL_EXAMPLE_JSON = """
{
  "type": "INDIVIDUAL",
  "externalReference": "probe_v1_1789564047204",
  "signedAgreementSessionReference": "c1d91c8b-f4a6-469e-953d-7344fdb6858c",
  "individual": {
    "firstName": "Jane", "lastName": "Doe", "dateOfBirth": "1984-06-30",
    "birthCountryCode": "US", "nationality": "US",
    "emailAddress": "jane@example.com",
    "address": {"addressLine1": "1 Main Street", "city": "Austin", "postalCode": "78701",
                "stateCode": "TX", "countryCode": "US"},
    "taxIdentification": {"number": "123-45-6789", "taxResidenceCountryCode": "US"},
    "cdd": {"employmentStatus": "SALARIED", "sourceOfFunds": "SALARY", "pepStatus": "NOT_PEP",
            "intendedUseOfAccount": "TRANSFERS_OWN_WALLET",
            "expectedMonthlyVolume": {"amount": "1000", "currency": "USD"},
            "estimatedYearlyIncome": "INCOME_0_TO_50K", "employmentIndustrySector": "INVESTMENT"}
  }
}
"""


def test_individual_example_of_2_4_serialises_exactly() -> None:
    assert samples.individual_example().to_wire() == json.loads(INDIVIDUAL_EXAMPLE_JSON)


def test_company_create_serialises_associates_with_wire_titles() -> None:
    body = samples.company_create().to_wire()
    assert body == {
        "type": "COMPANY",
        "externalReference": "3f0c1f7e-6a39-4a8c-9c55-0d1b1c2e9a10",
        "signedAgreementSessionReference": samples.SESSION_REF,
        "company": {
            "name": "LB Ltd.",
            "description": "Embedded customer",
            "entityType": "LLC",
            "taxResidenceCountryCode": "US",
            "registrationNumber": "21-4532998",
            "industryReference": samples.INDUSTRY,
            "monthlyExpectedVolumesReference": samples.VOLUME,
            "address": {
                "addressLine1": "101 West Broadway",
                "addressLine2": "Suite 1975",
                "city": "San Diego",
                "postalCode": "92101",
                "stateCode": "CA",
                "countryCode": "US",
            },
            "incorporationDate": "2015-03-01",
            "website": "https://lb.example.com",
            "associates": [
                {
                    "firstName": "Sean",
                    "lastName": "Bond",
                    "dateOfBirth": "2001-01-31",
                    "nationality": "US",
                    "birthCountryCode": "US",
                    "address": {
                        "addressLine1": "1 Main Street",
                        "city": "Austin",
                        "postalCode": "78701",
                        "stateCode": "TX",
                        "countryCode": "US",
                    },
                    "contactInfo": {
                        "emailAddress": "sean.bond@example.com",
                        "phoneNumber": "+123456789",
                    },
                    "taxIdentification": {
                        "number": "914764628",
                        "taxResidenceCountryCode": "US",
                    },
                    "titles": ["UBO", "DIRECTOR"],
                    "ownershipPercentage": 60.5,
                },
                {
                    "firstName": "Ada",
                    "lastName": "Lane",
                    "dateOfBirth": "1990-02-01",
                    "nationality": "GB",
                    "birthCountryCode": "GB",
                    "address": {
                        "addressLine1": "1 King Street",
                        "addressLine2": "Floor 2",
                        "city": "London",
                        "postalCode": "EC2V 8AU",
                        "countryCode": "GB",
                    },
                    "contactInfo": {"emailAddress": "ada.lane@example.com"},
                    "documentInfo": {
                        "number": "P1234567",
                        "type": "PASSPORT",
                        "issuingCountryCode": "GB",
                    },
                    "titles": ["REPRESENTATIVE"],
                },
            ],
        },
    }
    titles = {title for a in body["company"]["associates"] for title in a["titles"]}
    assert titles == set(wire.ASSOCIATE_ROLE_TITLES.values())
    assert "useCase" not in body  # 2.2: the use case belongs to the agreement session.


def test_create_validates_type_and_body() -> None:
    individual = samples.individual_example().individual
    with pytest.raises(ValueError, match="customer type"):
        CustomerCreate(
            type="company", external_reference="x", signed_agreement_session_reference="s"
        )
    with pytest.raises(ValueError, match="matching body"):
        CustomerCreate(
            type="COMPANY",
            external_reference="x",
            signed_agreement_session_reference="s",
            individual=individual,
        )


def test_associate_refuses_unknown_titles() -> None:
    with pytest.raises(ValueError, match="titles"):
        AssociateIn(
            first_name="A",
            last_name="B",
            date_of_birth=date(1990, 1, 1),
            nationality="US",
            birth_country_code="US",
            address=samples.us_address(),
            titles=("SIGNER",),
        )


def test_update_sends_only_set_fields() -> None:
    update = CustomerUpdate(
        contact_info=ContactInfo(email_address="new@example.com"),
        address=Address(
            address_line1="2 Main Street",
            city="Austin",
            postal_code="78702",
            country_code="US",
            country="United States",
            state_code="TX",
        ),
        date_of_birth=date(1984, 7, 1),
    )
    assert update.to_wire() == {
        "contactInfo": {"emailAddress": "new@example.com"},
        "address": {
            "addressLine1": "2 Main Street",
            "city": "Austin",
            "postalCode": "78702",
            "stateCode": "TX",
            "countryCode": "US",
            "country": "United States",
        },
        "dateOfBirth": "1984-07-01",
    }
    assert CustomerUpdate(name="LB Holdings").to_wire() == {"name": "LB Holdings"}
    assert CustomerUpdate().to_wire() == {}


def test_document_upload_is_base64_and_hides_content_from_repr() -> None:
    content = b"%PDF-1.4 fake"
    upload = DocumentUpload(
        type="COMPANY_DOC",
        sub_type="INCORPORATION_CERT",
        name="Certificate.pdf",
        content=content,
        country_code="US",
    )
    assert upload.to_wire() == {
        "type": "COMPANY_DOC",
        "subType": "INCORPORATION_CERT",
        "name": "Certificate.pdf",
        "countryCode": "US",
        "content": base64.b64encode(content).decode(),
    }
    assert upload.to_wire()["content"].startswith("JVBERi0x")
    assert "PDF" not in repr(upload)
    person_doc = DocumentUpload(
        type="PASSPORT",
        sub_type="FRONT_SIDE",
        name="passport.jpg",
        content=b"\xff\xd8",
        customer_person_reference="911685b0-acaa-418d-bd91-ed80b96c62cf",
        description="Passport",
        external_reference="doc-1",
    ).to_wire()
    assert person_doc["customerPersonReference"] == "911685b0-acaa-418d-bd91-ed80b96c62cf"
    assert person_doc["externalReference"] == "doc-1"
    assert person_doc["description"] == "Passport"


def test_questionnaire_answers_nest_values() -> None:
    answers = QuestionnaireAnswers(
        code="financialServicesQuestionnaireFull",
        sections={
            "natureOfBusiness": {"businessDescription": "Payments", "targetMarkets": ["US", "EU"]},
            "documentRequirements": {"hasAmlPolicy": True},
        },
    )
    assert answers.to_wire() == {
        "code": "financialServicesQuestionnaireFull",
        "sections": {
            "natureOfBusiness": {
                "items": {
                    "businessDescription": {"value": "Payments"},
                    "targetMarkets": {"values": ["US", "EU"]},
                }
            },
            "documentRequirements": {"items": {"hasAmlPolicy": {"value": True}}},
        },
    }


def test_agreement_session_request_and_response() -> None:
    assert samples.session_create("INDIVIDUAL").to_wire() == {
        "customerType": "INDIVIDUAL",
        "countryCode": "US",
        "useCase": "EMBEDDED_FIAT_ACCOUNTS",
    }
    session = AgreementSession.from_wire(
        {
            "reference": "c1d91c8b-f4a6-469e-953d-7344fdb6858c",
            "accountReference": "07f1fe9b-c14e-4a1d-a3fa-0768bac98033",
            "status": "PENDING",
            "customerType": "INDIVIDUAL",
            "useCase": "EMBEDDED_FIAT_ACCOUNTS",
            "countryCode": "US",
            "expiresOn": "2027-09-16T13:07:34.439862563Z",
            "agreements": [
                {
                    "status": "PENDING",
                    "name": "EMBEDDED_PARTNER_PLATFORM_CUSTOMERS_US",
                    "displayName": "Embedded US Partner Platform Customers Agreement",
                    "url": "https://help.bvnk.com/hc/en-us/sections/1",
                    "privacyPolicyUrl": "https://help.bvnk.com/hc/en-us/articles/2",
                    "somethingNew": 1,
                }
            ],
        }
    )
    assert session.status == "PENDING"
    assert session.expires_on == datetime(2027, 9, 16, 13, 7, 34, 439862, tzinfo=UTC)
    (agreement,) = session.agreements
    assert agreement.display_name == "Embedded US Partner Platform Customers Agreement"
    assert agreement.privacy_policy_url.endswith("/2")
    bare = AgreementSession.from_wire({"reference": "r"})
    assert bare.expires_on is None
    assert bare.agreements == ()


@pytest.mark.parametrize(
    "info_required",
    [
        {"questionnaireCodes": ["financialServicesQuestionnaireFull"]},
        {"questionnaires": ["financialServicesQuestionnaireFull"]},
        {"questionnaires": [{"code": "financialServicesQuestionnaireFull", "status": "x"}]},
    ],
)
def test_create_response_reads_either_questionnaire_shape(info_required: dict) -> None:
    created = CustomerCreated.from_wire(
        {
            "reference": "r1",
            "status": "INFO_REQUIRED",
            "type": "COMPANY",
            "infoRequired": info_required,
        }
    )
    assert created.questionnaire_codes == ("financialServicesQuestionnaireFull",)
    assert (
        CustomerCreated.from_wire({"reference": "r2", "status": "PENDING"}).questionnaire_codes
        == ()
    )


def test_company_customer_parses_associates_as_persons() -> None:
    data = {
        "reference": "8a0e1da2-2af3-4b9e-a221-e74db4e01b06",
        "status": "INFO_REQUIRED",
        "type": "COMPANY",
        "company": {
            "name": "LB Ltd.",
            "associates": [
                {
                    "person": {
                        "reference": "911685b0-acaa-418d-bd91-ed80b96c62cf",
                        "firstName": "Sean",
                        "lastName": "Bond",
                        "dateOfBirth": "2001-01-31",
                    },
                    "details": {"contactInfo": {"emailAddress": "sean@example.com"}},
                    "titles": ["UBO"],
                }
            ],
        },
        "infoRequired": {"questionnaires": [{"code": "otherQuestionnaireFull"}]},
        "unknownTopLevel": {"a": 1},
    }
    customer = Customer.from_wire(data)
    assert customer.name == "LB Ltd."
    assert customer.questionnaire_codes == ("otherQuestionnaireFull",)
    assert customer.info_required == data["infoRequired"]
    (person,) = customer.persons
    assert person.reference == "911685b0-acaa-418d-bd91-ed80b96c62cf"
    assert person.date_of_birth == date(2001, 1, 31)
    assert customer.raw == data
    assert customer.verification_url == ""


def test_individual_customer_parses_person_and_verification() -> None:
    customer = Customer.from_wire(
        {
            "reference": "2a9c8a29-5030-456d-87c2-7f6cc2ee6bf3",
            "externalReference": "probe_v1_1789564047204",
            "status": "INFO_REQUIRED",
            "type": "INDIVIDUAL",
            "flowType": "API",
            "individual": {
                "person": {
                    "reference": "6273b651-74c1-47c2-84d4-0052238a6232",
                    "firstName": "Jane",
                    "lastName": "Doe",
                    "dateOfBirth": "1984-06-30",
                },
                "cdd": {"expectedMonthlyVolume": {"amount": 1000, "currency": "USD"}},
            },
            "verification": {
                "status": "init",
                "url": "https://in.sumsub.com/websdk/p/sbx_EDHeJPPmWnBSU2Es",
                "expiresAt": "2026-10-16T13:07:54.354482408Z",
            },
        }
    )
    assert customer.external_reference == "probe_v1_1789564047204"
    assert customer.name == "Jane Doe"
    assert customer.verification_status == "init"
    assert customer.verification_url.startswith("https://in.sumsub.com/")
    assert [p.reference for p in customer.persons] == ["6273b651-74c1-47c2-84d4-0052238a6232"]
    assert customer.questionnaire_codes == ()


def test_customer_without_reference_is_refused() -> None:
    with pytest.raises(KeyError):
        Customer.from_wire({"status": "PENDING"})


def test_summary_document_definition_and_reference_item() -> None:
    summary = CustomerSummary.from_wire(
        {
            "reference": "r",
            "status": "VERIFIED",
            "type": "COMPANY",
            "model": "EMBEDDED",
            "name": "LB Ltd.",
            "description": "Embedded customer",
        }
    )
    assert (summary.name, summary.model, summary.external_reference) == ("LB Ltd.", "EMBEDDED", "")
    accepted = DocumentAccepted.from_wire(
        {"reference": "d1", "status": "PENDING", "subType": "FRONT_SIDE"}
    )
    assert (accepted.reference, accepted.sub_type, accepted.type) == ("d1", "FRONT_SIDE", "")
    definition = QuestionnaireDefinition.from_wire(
        {
            "code": "otherQuestionnaireFull",
            "title": "General",
            "sections": [
                {
                    "id": "natureOfBusiness",
                    "title": "Nature of Business",
                    "items": [
                        {
                            "id": "customerBase",
                            "title": "Who?",
                            "type": "select",
                            "required": True,
                            "options": [{"value": "B2B", "title": "Businesses"}, "B2C"],
                        },
                    ],
                }
            ],
        }
    )
    (section,) = definition.sections
    (item,) = section.items
    assert (section.id, item.id, item.required, item.options) == (
        "natureOfBusiness",
        "customerBase",
        True,
        ("B2B", "B2C"),
    )
    assert definition.raw["code"] == "otherQuestionnaireFull"
    assert ReferenceItem.from_wire({"reference": "u", "name": "Banking", "x": 1}) == ReferenceItem(
        reference="u", name="Banking"
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-09-16T13:07:50.438748Z", datetime(2026, 9, 16, 13, 7, 50, 438748, tzinfo=UTC)),
        ("2026-09-18T00:31:17.014444515Z", datetime(2026, 9, 18, 0, 31, 17, 14444, tzinfo=UTC)),
        ("2025-12-12T14:15:10Z", datetime(2025, 12, 12, 14, 15, 10, tzinfo=UTC)),
        ("2025-08-12T12:15:47.7656623082", datetime(2025, 8, 12, 12, 15, 47, 765662, tzinfo=UTC)),
        ("2025-08-12T14:15:47.5+02:00", datetime(2025, 8, 12, 12, 15, 47, 500000, tzinfo=UTC)),
        ("not a date", None),
        (None, None),
    ],
)
def test_parse_datetime(text: str | None, expected: datetime | None) -> None:
    assert parse_datetime(text) == expected


def test_amounts_are_plain_decimal_strings() -> None:
    create = samples.individual_example()
    assert create.individual is not None
    cdd = create.individual.cdd
    assert (
        replace(cdd, expected_monthly_volume_amount=Decimal("1E+4")).to_wire()[
            "expectedMonthlyVolume"
        ]["amount"]
        == "10000"
    )
    assert (
        replace(cdd, expected_monthly_volume_amount=Decimal("10000.01")).to_wire()[
            "expectedMonthlyVolume"
        ]["amount"]
        == "10000.01"
    )
