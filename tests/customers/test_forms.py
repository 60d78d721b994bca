"""Each onboarding form: what it accepts, what it refuses and how it says so."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
import time_machine

from customers.models import Associate, Customer
from customers.onboarding import company_forms, forms, individual_forms
from tests.customers.conftest import INDUSTRIES, INDUSTRY, VOLUME, VOLUMES, adult_birth_date

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_passwords")]
TODAY = dt.date(2026, 11, 27)


@pytest.fixture(autouse=True)
def _today():
    with time_machine.travel(dt.datetime(2026, 11, 27, 12, tzinfo=dt.UTC), tick=False):
        yield


def company() -> Customer:
    return Customer.objects.create(type=Customer.Type.COMPANY)


def individual(**fields: Any) -> Customer:
    return Customer.objects.create(type=Customer.Type.INDIVIDUAL, **fields)


def errors(form: forms.StepForm) -> dict[str, list[str]]:
    assert not form.is_valid()
    return {name: list(messages) for name, messages in form.errors.items()}


# -- company details ----------------------------------------------------------------------

COMPANY = {
    "legal_name": "Northwind Trading Ltd",
    "entity_type": "LLC",
    "registration_number": "09876543",
    "tax_number": "",
    "tax_residence_country": "GB",
    "incorporation_date": "2015-06-01",
    "industry_reference": INDUSTRY,
    "monthly_volumes_reference": VOLUME,
    "website": "northwind.example",
    "description": "",
}


def company_form(data: dict[str, Any], **kwargs: Any) -> company_forms.CompanyDetailsForm:
    kwargs.setdefault("industries", INDUSTRIES)
    kwargs.setdefault("volumes", VOLUMES)
    return company_forms.CompanyDetailsForm(data, instance=company(), **kwargs)


def test_company_details_valid_and_website_assumes_https() -> None:
    form = company_form(COMPANY)
    assert form.is_valid(), form.errors
    values = form.values()
    assert values["website"] == "https://northwind.example"
    assert values["incorporation_date"] == dt.date(2015, 6, 1)
    assert values["industry_reference"] == INDUSTRY


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"legal_name": ""}, "legal_name", "Enter the legal name."),
        ({"entity_type": ""}, "entity_type", "Choose the entity type."),
        ({"entity_type": "LIMITED"}, "entity_type", "Select a valid choice."),
        ({"tax_residence_country": "XX"}, "tax_residence_country", "Select a valid choice."),
        ({"incorporation_date": "2026-12-01"}, "incorporation_date", "cannot be in the future"),
        ({"incorporation_date": "31/02/2020"}, "incorporation_date", "Enter a valid date."),
        ({"industry_reference": "not-on-the-list"}, "industry_reference", "Select a valid"),
        ({"monthly_volumes_reference": ""}, "monthly_volumes_reference", "Choose the expected"),
        ({"website": "not a url"}, "website", "Enter a valid URL."),
        ({"registration_number": ""}, "registration_number", "Enter the registration number"),
    ],
)
def test_company_details_invalid(change, field, message) -> None:
    found = errors(company_form({**COMPANY, **change}))
    assert field in found and message in " ".join(found[field]), found


def test_us_company_may_give_an_ein_instead_of_a_registration_number() -> None:
    data = {
        **COMPANY,
        "tax_residence_country": "US",
        "registration_number": "",
        "tax_number": "12-3456789",
    }
    assert company_form(data).is_valid()


def test_when_bvnk_lists_are_down_the_stored_choice_is_kept_and_help_says_why() -> None:
    customer = company()
    customer.industry_reference = INDUSTRY
    form = company_forms.CompanyDetailsForm(instance=customer, industries=None, volumes=None)
    assert (INDUSTRY, INDUSTRY) in form.fields["industry_reference"].choices
    assert "could not be loaded" in form.fields["monthly_volumes_reference"].help_text
    refused = company_forms.CompanyDetailsForm(
        {**COMPANY, "monthly_volumes_reference": VOLUME},
        instance=customer,
        industries=None,
        volumes=None,
    )
    assert "monthly_volumes_reference" in errors(refused)


def test_lenient_mode_keeps_partial_input_but_still_checks_formats() -> None:
    form = company_form({"legal_name": "Half done"}, lenient=True)
    assert form.is_valid(), form.errors
    assert form.values()["legal_name"] == "Half done"
    bad = company_form({"legal_name": "x", "incorporation_date": "2030-01-01"}, lenient=True)
    assert "incorporation_date" in errors(bad)


def test_forms_never_touch_the_customer_they_were_given() -> None:
    customer = company()
    company_form_ = company_forms.CompanyDetailsForm(
        {**COMPANY, "legal_name": "Changed"},
        instance=customer,
        industries=INDUSTRIES,
        volumes=VOLUMES,
    )
    assert company_form_.is_valid()
    assert customer.legal_name == ""


# -- addresses ----------------------------------------------------------------------------

ADDRESS = {
    "address_line1": "1 Main Street",
    "address_line2": "",
    "city": "Austin",
    "postal_code": "78701",
    "state_code": "TX",
    "country": "US",
}


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"state_code": ""}, "state_code", "Choose the state for a US address."),
        ({"state_code": "ZZ"}, "state_code", "Choose a US state from the list."),
        ({"postal_code": ""}, "postal_code", "Enter the postal code."),
        ({"city": ""}, "city", "Enter the town or city."),
        ({"country": "USA"}, "country", "Select a valid choice."),
    ],
)
def test_address_invalid(change, field, message) -> None:
    form = individual_forms.AddressForm({**ADDRESS, **change}, instance=individual())
    found = errors(form)
    assert message in " ".join(found[field]), found


def test_a_state_is_dropped_from_addresses_outside_the_us() -> None:
    form = individual_forms.AddressForm(
        {**ADDRESS, "country": "GB", "postal_code": "EC2V 8AU"}, instance=individual()
    )
    assert form.is_valid(), form.errors
    assert form.values()["state_code"] == ""


def test_company_operating_address_is_optional_but_complete_when_given() -> None:
    data = {**ADDRESS, **{f"operational_{k}": "" for k in ADDRESS}}
    form = company_forms.CompanyAddressForm(data, instance=company())
    assert form.is_valid(), form.errors
    form = company_forms.CompanyAddressForm(
        {**data, "has_operational_address": "on"}, instance=company()
    )
    found = errors(form)
    assert {"operational_address_line1", "operational_city", "operational_country"} <= set(found)
    operating = {f"operational_{k}": v for k, v in ADDRESS.items()}
    form = company_forms.CompanyAddressForm(
        {**ADDRESS, **operating, "has_operational_address": "on"}, instance=company()
    )
    assert form.is_valid(), form.errors
    assert form.values()["operational_state_code"] == "TX"


def test_unticking_the_operating_address_clears_it() -> None:
    customer = company()
    customer.operational_address_line1 = "Old depot"
    data = {**ADDRESS, "operational_address_line1": "Old depot", "operational_city": "Leeds"}
    form = company_forms.CompanyAddressForm(data, instance=customer)
    assert form.is_valid(), form.errors
    assert form.values()["operational_address_line1"] == "" == form.values()["operational_city"]
    assert (
        company_forms.CompanyAddressForm(instance=customer).initial["has_operational_address"]
        is True
    )


# -- individual steps ---------------------------------------------------------------------

PERSONAL = {
    "first_name": "Jane",
    "last_name": "Doe",
    "date_of_birth": "1984-06-30",
    "nationality": "US",
    "birth_country": "US",
}


def test_personal_details_valid() -> None:
    form = individual_forms.PersonalDetailsForm(PERSONAL, instance=individual())
    assert form.is_valid(), form.errors


@pytest.mark.parametrize(
    ("born", "message"),
    [
        ("2026-11-28", "The date of birth cannot be in the future."),
        ("2008-11-28", "The person must be 18 or older."),
        ("1890-01-01", "more than 120 years ago"),
    ],
)
def test_people_must_be_adults(born, message) -> None:
    form = individual_forms.PersonalDetailsForm(
        {**PERSONAL, "date_of_birth": born}, instance=individual()
    )
    (found,) = errors(form)["date_of_birth"]
    assert message in found


def test_an_eighteenth_birthday_today_is_old_enough() -> None:
    form = individual_forms.PersonalDetailsForm(
        {**PERSONAL, "date_of_birth": "2008-11-27"}, instance=individual()
    )
    assert form.is_valid(), form.errors


def test_personal_details_all_required() -> None:
    found = errors(individual_forms.PersonalDetailsForm({}, instance=individual()))
    assert set(found) == set(PERSONAL)
    assert found["nationality"] == ["Choose the nationality."]


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"email": "", "phone": ""}, "email", "Enter the email address."),
        ({"email": "jane@", "phone": ""}, "email", "Enter a valid email address."),
        ({"email": "jane@example.com", "phone": "07911 123456"}, "phone", "international format"),
        ({"email": "jane@example.com", "phone": "+1555"}, "phone", "not valid for its country"),
    ],
)
def test_contact_invalid(data, field, message) -> None:
    found = errors(individual_forms.ContactForm(data, instance=individual()))
    assert message in " ".join(found[field])


def test_contact_valid() -> None:
    form = individual_forms.ContactForm(
        {"email": "jane@example.com", "phone": "+447911123456"}, instance=individual()
    )
    assert form.is_valid(), form.errors


def test_tax_needs_number_and_country() -> None:
    found = errors(
        individual_forms.TaxForm(
            {"tax_number": "", "tax_residence_country": ""}, instance=individual()
        )
    )
    assert set(found) == {"tax_number", "tax_residence_country"}
    form = individual_forms.TaxForm(
        {"tax_number": "123-45-6789", "tax_residence_country": "US"}, instance=individual()
    )
    assert form.is_valid()


CDD = {
    "employment_status": "SALARIED",
    "source_of_funds": "SALARY",
    "pep_status": "NOT_PEP",
    "intended_use": "INVESTMENTS",
    "expected_monthly_volume": "2500.50",
    "expected_volume_currency": "EUR",
}


def test_due_diligence_for_a_us_resident_asks_income_and_sector() -> None:
    found = errors(individual_forms.DueDiligenceForm(CDD, instance=individual(), us_resident=True))
    assert set(found) == {"estimated_yearly_income", "industry_sector"}
    data = {**CDD, "estimated_yearly_income": "INCOME_50K_TO_100K", "industry_sector": "MINING"}
    form = individual_forms.DueDiligenceForm(data, instance=individual(), us_resident=True)
    assert form.is_valid(), form.errors
    assert form.values()["expected_monthly_volume"] == Decimal("2500.50")


def test_due_diligence_elsewhere_drops_the_us_questions() -> None:
    customer = individual(estimated_yearly_income="INCOME_0_TO_50K", industry_sector="MINING")
    form = individual_forms.DueDiligenceForm(CDD, instance=customer, us_resident=False)
    assert "industry_sector" not in form.fields
    assert form.is_valid(), form.errors
    assert form.values()["estimated_yearly_income"] == "" == form.values()["industry_sector"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"expected_monthly_volume": "0"}, "expected_monthly_volume"),
        ({"expected_monthly_volume": "-5"}, "expected_monthly_volume"),
        ({"expected_monthly_volume": "lots"}, "expected_monthly_volume"),
        ({"expected_volume_currency": "GBP"}, "expected_volume_currency"),
        ({"pep_status": "MAYBE"}, "pep_status"),
        ({"employment_status": ""}, "employment_status"),
    ],
)
def test_due_diligence_invalid(change, field) -> None:
    form = individual_forms.DueDiligenceForm(
        {**CDD, **change}, instance=individual(), us_resident=False
    )
    assert field in errors(form)


# -- associates ---------------------------------------------------------------------------


def person(**change: Any) -> dict[str, Any]:
    data = {
        "roles": ["BENEFICIAL_OWNER", "SIGNER"],
        "ownership_percentage": "25",
        "first_name": "Ada",
        "last_name": "Smith",
        "date_of_birth": "1980-03-14",
        "nationality": "GB",
        "birth_country": "",
        "email": "ada@example.com",
        "phone": "",
        "address_line1": "2 Queen Street",
        "address_line2": "",
        "city": "London",
        "postal_code": "EC4N 1SP",
        "state_code": "",
        "country": "GB",
        "tax_number": "",
        "tax_residence_country": "",
        "id_document_type": "",
        "id_document_number": "",
        "id_document_issuing_country": "",
        "id_document_expiry": "",
    }
    data.update(change)
    return data


def associate_form(
    data: dict[str, Any], others: list[Associate] | None = None
) -> company_forms.AssociateForm:
    return company_forms.AssociateForm(data, others=others or [])


def test_associate_valid_roles_become_flags() -> None:
    form = associate_form(person())
    assert form.is_valid(), form.errors
    values = form.values()
    assert values["is_beneficial_owner"] and values["is_signer"]
    assert not values["is_controlling_person"]
    assert values["ownership_percentage"] == Decimal("25")


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"roles": []}, "roles", "Choose the roles."),
        ({"ownership_percentage": ""}, "ownership_percentage", "ownership percentage"),
        ({"ownership_percentage": "100.5"}, "ownership_percentage", "between 0 and 100"),
        ({"ownership_percentage": "-1"}, "ownership_percentage", "between 0 and 100"),
        ({"date_of_birth": "2010-01-01"}, "date_of_birth", "18 or older"),
        ({"email": ""}, "email", "Enter the email address."),
        ({"country": "US"}, "state_code", "Choose the state"),
        ({"tax_number": "123"}, "tax_residence_country", "Choose the country this tax number"),
        ({"id_document_type": "PASSPORT"}, "id_document_number", "type, number and issuing"),
        ({"id_document_expiry": "2026-11-26"}, "id_document_expiry", "expired"),
    ],
)
def test_associate_invalid(change, field, message) -> None:
    found = errors(associate_form(person(**change)))
    assert message in " ".join(found.get(field, [])), found


def test_ownership_is_dropped_for_people_who_are_not_owners() -> None:
    form = associate_form(person(roles=["SIGNER"], ownership_percentage="30"))
    assert form.is_valid(), form.errors
    assert form.values()["ownership_percentage"] is None


def test_total_ownership_cannot_pass_100() -> None:
    others = [
        Associate(
            first_name="Ben",
            last_name="Jones",
            is_beneficial_owner=True,
            ownership_percentage=Decimal("80"),
        ),
        Associate(
            first_name="Cleo", last_name="Ray", is_signer=True, ownership_percentage=Decimal("50")
        ),
    ]
    found = errors(associate_form(person(ownership_percentage="25"), others))
    assert "adds up to 105%" in found["ownership_percentage"][0]
    assert associate_form(person(ownership_percentage="20"), others).is_valid()


def test_the_same_person_cannot_be_added_twice() -> None:
    twin = Associate(first_name="ADA ", last_name="smith", date_of_birth=dt.date(1980, 3, 14))
    found = errors(associate_form(person(roles=["SIGNER"]), [twin]))
    assert "already an associate" in found["__all__"][0]
    other_birthday = Associate(
        first_name="Ada", last_name="Smith", date_of_birth=adult_birth_date(50)
    )
    assert associate_form(person(roles=["SIGNER"]), [other_birthday]).is_valid()


# -- rendering: accessible errors ---------------------------------------------------------


def test_errors_are_tied_to_their_fields() -> None:
    form = individual_forms.ContactForm({"email": "nope", "phone": ""}, instance=individual())
    form.is_valid()
    html = str(form["email"])
    assert 'aria-invalid="true"' in html and 'aria-describedby="id_email_error"' in html
    assert 'id="id_email_error"' in str(form["email"].errors)


def test_bvnk_errors_show_on_an_unbound_form() -> None:
    form = individual_forms.TaxForm(
        instance=individual(tax_number="INVALID"),
        bvnk_errors={
            "tax_number": ["BVNK: Tax identification number is invalid"],
            "__all__": ["BVNK: x"],
        },
    )
    assert form.errors["tax_number"] == ["BVNK: Tax identification number is invalid"]
    assert form.non_field_errors() == ["BVNK: x"]
    assert 'aria-invalid="true"' in str(form["tax_number"])


def test_update_details_form_for_an_individual_asks_email_and_birth_date() -> None:
    customer = individual(bvnk_reference="ref")
    data = {**ADDRESS, "email": "", "phone": "", "date_of_birth": ""}
    found = errors(forms.CustomerDetailsForm(data, instance=customer))
    assert {"email", "date_of_birth"} <= set(found)
    company_form_ = forms.CustomerDetailsForm(
        {**ADDRESS, "email": "", "phone": ""}, instance=company()
    )
    assert "date_of_birth" not in company_form_.fields
    assert company_form_.is_valid(), company_form_.errors


def test_industry_sectors_read_as_words_not_codes() -> None:
    from customers.bvnk import wire

    assert wire.INDUSTRY_SECTORS["STO_ISSUER"] == "Security token offering (STO) issuer"
    assert wire.INDUSTRY_SECTORS["E_COMMERCE"] == "E-commerce"
    assert all("_" not in label for label in wire.INDUSTRY_SECTORS.values())
    assert len(wire.INDUSTRY_SECTORS) == 43  # the whole list BVNK's sandbox takes


# -- national phone numbers, US formats, names -------------------------------------------


@pytest.mark.parametrize(
    ("country", "typed", "stored"),
    [
        ("GB", "07911 123456", "+447911123456"),
        ("US", "(415) 555-0123", "+14155550123"),
        ("US", "+44 7911 123456", "+447911123456"),  # international format always works
        ("", "+447911123456", "+447911123456"),
    ],
)
def test_contact_phone_is_read_in_the_known_country_and_stored_e164(country, typed, stored) -> None:
    form = individual_forms.ContactForm(
        {"email": "jane@example.com", "phone": typed}, instance=individual(country=country)
    )
    assert form.is_valid(), form.errors
    assert form.values()["phone"] == stored


def test_contact_phone_falls_back_to_the_nationality() -> None:
    form = individual_forms.ContactForm(
        {"email": "jane@example.com", "phone": "07911 123456"},
        instance=individual(nationality="GB"),
    )
    assert form.is_valid(), form.errors
    assert form.values()["phone"] == "+447911123456"


def test_a_number_that_is_not_valid_for_the_country_says_which_country() -> None:
    found = errors(
        individual_forms.ContactForm(
            {"email": "jane@example.com", "phone": "07911 123456"},
            instance=individual(country="US"),
        )
    )
    assert found["phone"] == [
        "This is not a valid phone number for United States of America. Check the digits, "
        "or write it with + and the country code."
    ]


def test_associate_phone_uses_the_address_country() -> None:
    form = associate_form(person(phone="07911 123456"))
    assert form.is_valid(), form.errors
    assert form.values()["phone"] == "+447911123456"
    us = person(phone="(415) 555-0123", country="US", state_code="CA", postal_code="94105")
    form = associate_form(us)
    assert form.is_valid(), form.errors
    assert form.values()["phone"] == "+14155550123"
    assert "phone" in errors(associate_form(person(phone="12")))


def test_customer_details_phone_uses_the_country_typed_on_the_same_page() -> None:
    form = forms.CustomerDetailsForm(
        {
            "email": "ops@example.com",
            "phone": "020 7946 0018",
            "address_line1": "1 High Street",
            "city": "London",
            "postal_code": "EC1A 1BB",
            "country": "GB",
        },
        instance=company(),
    )
    assert form.is_valid(), form.errors
    assert form.values()["phone"] == "+442079460018"


@pytest.mark.parametrize(
    ("typed", "stored"),
    [("94105", "94105"), ("94105-1234", "94105-1234"), ("941051234", "94105-1234")],
)
def test_us_zip_codes_accepted(typed, stored) -> None:
    data = {
        "address_line1": "1 Market St",
        "city": "San Francisco",
        "postal_code": typed,
        "state_code": "CA",
        "country": "US",
    }
    form = individual_forms.AddressForm(data, instance=individual())
    assert form.is_valid(), form.errors
    assert form.values()["postal_code"] == stored


@pytest.mark.parametrize("typed", ["ABCDE", "9410", "94105-12", "941051"])
def test_us_zip_codes_refused(typed) -> None:
    data = {
        "address_line1": "1 Market St",
        "city": "San Francisco",
        "postal_code": typed,
        "state_code": "CA",
        "country": "US",
    }
    found = errors(individual_forms.AddressForm(data, instance=individual()))
    assert found["postal_code"] == ["Enter a US ZIP code of 5 digits, or ZIP+4 such as 94105-1234."]


def test_a_non_us_postal_code_is_not_held_to_the_zip_format() -> None:
    data = {"address_line1": "1 High St", "city": "London", "postal_code": "EC1A 1BB",
            "country": "GB"}  # fmt: skip
    assert individual_forms.AddressForm(data, instance=individual()).is_valid()


@pytest.mark.parametrize(
    ("typed", "stored"), [("123-45-6789", "123-45-6789"), ("123456789", "123-45-6789")]
)
def test_us_ssn_is_accepted_with_or_without_dashes(typed, stored) -> None:
    form = individual_forms.TaxForm(
        {"tax_number": typed, "tax_residence_country": "US"}, instance=individual()
    )
    assert form.is_valid(), form.errors
    assert form.values()["tax_number"] == stored


@pytest.mark.parametrize("typed", ["123-45-678", "12345678", "ABC-DE-FGHI", "1234-5-6789"])
def test_us_ssn_refused(typed) -> None:
    found = errors(
        individual_forms.TaxForm(
            {"tax_number": typed, "tax_residence_country": "US"}, instance=individual()
        )
    )
    assert found["tax_number"] == ["Enter the SSN or ITIN as 9 digits, for example 123-45-6789."]


def test_a_non_us_tax_number_keeps_its_own_shape() -> None:
    form = individual_forms.TaxForm(
        {"tax_number": "AB123456C", "tax_residence_country": "GB"}, instance=individual()
    )
    assert form.is_valid(), form.errors
    assert form.values()["tax_number"] == "AB123456C"


def test_associate_us_tax_number_is_an_ssn() -> None:
    found = errors(associate_form(person(tax_number="123-45-678", tax_residence_country="US")))
    assert "SSN or ITIN" in " ".join(found["tax_number"])
    form = associate_form(person(tax_number="123456789", tax_residence_country="US"))
    assert form.is_valid(), form.errors
    assert form.values()["tax_number"] == "123-45-6789"


def test_us_company_ein_is_normalised() -> None:
    data = {**COMPANY, "tax_residence_country": "US", "registration_number": "",
            "tax_number": "123456789"}  # fmt: skip
    form = company_form(data)
    assert form.is_valid(), form.errors
    assert form.values()["tax_number"] == "12-3456789"


@pytest.mark.parametrize("typed", ["12-345", "1-23456789", "12-34567890", "AB-CDEFGHI"])
def test_us_company_ein_refused(typed) -> None:
    data = {**COMPANY, "tax_residence_country": "US", "tax_number": typed}
    found = errors(company_form(data))
    assert found["tax_number"] == ["Enter the EIN as 9 digits, for example 12-3456789."]


def test_us_company_needs_a_registration_number_or_a_valid_ein() -> None:
    data = {**COMPANY, "tax_residence_country": "US", "registration_number": "", "tax_number": ""}
    found = errors(company_form(data))
    assert "Enter the registration number" in " ".join(found["registration_number"])
    bad_ein = {**data, "tax_number": "12-345"}
    found = errors(company_form(bad_ein))
    assert "registration_number" in found and "tax_number" in found


MARKUP = "Names cannot contain < or > or control characters; " \
    "letters, accents, spaces, apostrophes, hyphens and & are fine."  # fmt: skip


@pytest.mark.parametrize(
    "name", ["<script>alert(1)</script>", "<b>Ada</b>", "Ada\x1b[31m", "A\tda", "Ada\u0085Lovelace"]
)
def test_names_refuse_markup_and_control_characters(name) -> None:
    found = errors(
        individual_forms.PersonalDetailsForm({**PERSONAL, "first_name": name},
                                             instance=individual())
    )  # fmt: skip
    assert found["first_name"] == [MARKUP]
    assert errors(associate_form(person(last_name=name)))["last_name"] == [MARKUP]
    assert errors(company_form({**COMPANY, "legal_name": name}))["legal_name"] == [MARKUP]


@pytest.mark.parametrize("name", ["O'Brien", "Jean-Luc", "Zoë Ñúñez", "Ļaura Ō'Hara"])
def test_names_allow_apostrophes_hyphens_and_accents(name) -> None:
    form = individual_forms.PersonalDetailsForm(
        {**PERSONAL, "first_name": name, "last_name": name}, instance=individual()
    )
    assert form.is_valid(), form.errors
    assert associate_form(person(first_name=name)).is_valid()


def test_company_names_allow_ampersands() -> None:
    assert company_form({**COMPANY, "legal_name": "Smith & Sons Ltd"}).is_valid()
    assert company_form({**COMPANY, "legal_name": "Café d'Azur S.A."}).is_valid()
