"""Request objects shared by the BVNK client tests."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from customers.bvnk import (
    Address,
    AgreementSessionCreate,
    AssociateIn,
    CddIn,
    CompanyIn,
    ContactInfo,
    CustomerCreate,
    DocumentInfo,
    IndividualIn,
    TaxIdentification,
    wire,
)

EMAIL = "jane@example.com"
INDUSTRY = "1e4b6d21-06d8-11ef-9d2b-027612b7f6b5"  # Financial services: Payment services
VOLUME = "ef779c41-547e-11ef-8b9c-027612b7f6b5"
SESSION_REF = "c1d91c8b-f4a6-469e-953d-7344fdb6858c"

UBO = wire.ASSOCIATE_ROLE_TITLES["BENEFICIAL_OWNER"]
DIRECTOR = wire.ASSOCIATE_ROLE_TITLES["CONTROLLING_PERSON"]
REPRESENTATIVE = wire.ASSOCIATE_ROLE_TITLES["SIGNER"]


def us_address() -> Address:
    return Address(
        address_line1="1 Main Street",
        city="Austin",
        postal_code="78701",
        state_code="TX",
        country_code="US",
    )


def individual_example(
    *,
    external_reference: str = "probe_v1_1789564047204",
    session: str = SESSION_REF,
    email: str = EMAIL,
) -> CustomerCreate:
    """Return the individual create of BVNK's docs, field for field."""
    return CustomerCreate(
        type="INDIVIDUAL",
        external_reference=external_reference,
        signed_agreement_session_reference=session,
        individual=IndividualIn(
            first_name="Jane",
            last_name="Doe",
            date_of_birth=date(1984, 6, 30),
            birth_country_code="US",
            nationality="US",
            email_address=email,
            address=us_address(),
            tax_identification=TaxIdentification(
                number="123-45-6789", tax_residence_country_code="US"
            ),
            cdd=CddIn(
                employment_status="SALARIED",
                source_of_funds="SALARY",
                pep_status="NOT_PEP",
                intended_use_of_account="TRANSFERS_OWN_WALLET",
                expected_monthly_volume_amount=Decimal("1000"),
                expected_monthly_volume_currency="USD",
                estimated_yearly_income="INCOME_0_TO_50K",
                employment_industry_sector="INVESTMENT",
            ),
        ),
    )


def company_create(
    *,
    external_reference: str = "3f0c1f7e-6a39-4a8c-9c55-0d1b1c2e9a10",
    session: str = SESSION_REF,
    name: str = "LB Ltd.",
    industry: str = INDUSTRY,
    volume: str = VOLUME,
) -> CustomerCreate:
    """Return a company create whose associates hold every role title between them."""
    owner = AssociateIn(
        first_name="Sean",
        last_name="Bond",
        date_of_birth=date(2001, 1, 31),
        nationality="US",
        birth_country_code="US",
        address=us_address(),
        contact_info=ContactInfo(email_address="sean.bond@example.com", phone_number="+123456789"),
        tax_identification=TaxIdentification(number="914764628", tax_residence_country_code="US"),
        titles=(UBO, DIRECTOR),
        ownership_percentage=Decimal("60.5"),
    )
    signer = AssociateIn(
        first_name="Ada",
        last_name="Lane",
        date_of_birth=date(1990, 2, 1),
        nationality="GB",
        birth_country_code="GB",
        address=Address(
            address_line1="1 King Street",
            address_line2="Floor 2",
            city="London",
            postal_code="EC2V 8AU",
            country_code="GB",
        ),
        contact_info=ContactInfo(email_address="ada.lane@example.com"),
        document_info=DocumentInfo(number="P1234567", type="PASSPORT", issuing_country_code="GB"),
        titles=(REPRESENTATIVE,),
    )
    return CustomerCreate(
        type="COMPANY",
        external_reference=external_reference,
        signed_agreement_session_reference=session,
        company=CompanyIn(
            name=name,
            description="Embedded customer",
            entity_type="LLC",
            tax_residence_country_code="US",
            registration_number="21-4532998",
            industry_reference=industry,
            monthly_expected_volumes_reference=volume,
            address=Address(
                address_line1="101 West Broadway",
                address_line2="Suite 1975",
                city="San Diego",
                postal_code="92101",
                state_code="CA",
                country_code="US",
            ),
            incorporation_date=date(2015, 3, 1),
            website="https://lb.example.com",
            associates=(owner, signer),
        ),
    )


def session_create(customer_type: str = "COMPANY") -> AgreementSessionCreate:
    return AgreementSessionCreate(
        customer_type=customer_type, country_code="US", use_case="EMBEDDED_FIAT_ACCOUNTS"
    )
