"""The onboarding pages: starting, steps, resuming, associates, review, submit, permissions."""

from __future__ import annotations

from decimal import Decimal
from unittest import mock

import pytest
from django.urls import reverse

from customers.models import Associate, Customer, StatusChange
from customers.onboarding import steps as onboarding
from tests.customers.conftest import (
    INDUSTRY,
    VOLUME,
    add_associate,
    company_draft,
    complete_company,
    complete_individual,
    individual_draft,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_passwords")]


def step_url(customer: Customer, slug: str) -> str:
    return reverse("customers:onboarding-step", args=[customer.pk, slug])


def post_step(client, customer, slug, data, action="continue"):
    return client.post(step_url(customer, slug), {**data, "action": action})


# -- starting -------------------------------------------------------------------------------


def test_add_customer_button_only_for_those_who_may(client, personas) -> None:
    for persona, shown in (("viewer", False), ("agent", True), ("lead", True)):
        client.force_login(personas[persona])
        html = client.get(reverse("customers:list")).content.decode()
        assert (reverse("customers:onboarding-start") in html) is shown, persona


@pytest.mark.parametrize(("kind", "first"), [("COMPANY", "company"), ("INDIVIDUAL", "personal")])
def test_start_creates_a_draft_and_opens_its_first_step(client, agent, kind, first) -> None:
    client.force_login(agent)
    response = client.post(reverse("customers:onboarding-start"), {"customer_type": kind})
    customer = Customer.objects.get()
    assert (customer.type, customer.status, customer.created_by) == (kind, "DRAFT", agent)
    assert response["Location"] == step_url(customer, first)


def test_start_without_a_choice_explains(client, agent) -> None:
    client.force_login(agent)
    response = client.post(reverse("customers:onboarding-start"), {})
    assert response.status_code == 200
    assert "Choose company or individual." in response.content.decode()
    assert not Customer.objects.exists()


# -- a step: validate, save, continue, back -------------------------------------------------

PERSONAL = {
    "first_name": "Jane",
    "last_name": "Doe",
    "date_of_birth": "1984-06-30",
    "nationality": "US",
    "birth_country": "US",
}


def test_a_valid_step_is_saved_and_leads_to_the_next(client, agent) -> None:
    customer = Customer.objects.create(type="INDIVIDUAL")
    client.force_login(agent)
    response = post_step(client, customer, "personal", PERSONAL)
    assert response["Location"] == step_url(customer, "contact")
    customer.refresh_from_db()
    assert customer.full_name == "Jane Doe" and str(customer.date_of_birth) == "1984-06-30"


def test_an_invalid_step_shows_errors_accessibly_and_saves_nothing_but_the_name(
    client, agent
) -> None:
    customer = Customer.objects.create(type="INDIVIDUAL")
    client.force_login(agent)
    response = post_step(client, customer, "personal", {**PERSONAL, "date_of_birth": "2020-01-01"})
    html = response.content.decode()
    assert response.status_code == 200
    assert "<title>Error: Personal details" in html
    assert html.count("<h1>") == 1
    assert 'role="alert"' in html and 'href="#id_date_of_birth"' in html
    assert 'aria-invalid="true"' in html and 'aria-describedby="id_date_of_birth_error"' in html
    assert "The person must be 18 or older." in html
    customer.refresh_from_db()
    # The name names the draft as soon as it is typed (My customers); nothing else is kept.
    assert (customer.first_name, customer.last_name) == (
        PERSONAL["first_name"],
        PERSONAL["last_name"],
    )
    assert customer.date_of_birth is None and not customer.nationality


def test_back_and_save_draft_keep_incomplete_input(client, agent) -> None:
    customer = Customer.objects.create(type="INDIVIDUAL")
    client.force_login(agent)
    post_step(client, customer, "personal", PERSONAL)
    response = post_step(
        client, customer, "contact", {"email": "", "phone": "+447911123456"}, "back"
    )
    assert response["Location"] == step_url(customer, "personal")
    customer.refresh_from_db()
    assert customer.phone == "+447911123456"
    response = post_step(client, customer, "contact", {"email": "jane@", "phone": ""}, "save")
    assert "Enter a valid email address." in response.content.decode()  # formats still count


def test_going_back_shows_saved_values_and_loses_nothing(client, agent) -> None:
    customer = Customer.objects.create(type="INDIVIDUAL")
    client.force_login(agent)
    post_step(client, customer, "personal", PERSONAL)
    post_step(client, customer, "contact", {"email": "jane@example.com", "phone": ""})
    html = client.get(step_url(customer, "personal")).content.decode()
    assert 'value="Jane"' in html and 'value="1984-06-30"' in html
    post_step(client, customer, "personal", {**PERSONAL, "first_name": "Janet"})
    customer.refresh_from_db()
    assert (customer.first_name, customer.email) == ("Janet", "jane@example.com")


def test_save_draft_stays_on_the_step(client, agent) -> None:
    customer = Customer.objects.create(type="INDIVIDUAL")
    client.force_login(agent)
    response = post_step(client, customer, "personal", {"first_name": "Jo"}, "save")
    assert response["Location"] == step_url(customer, "personal")
    customer.refresh_from_db()
    assert customer.first_name == "Jo"


def test_company_step_uses_bvnks_cached_lists(client, agent, reference_lists) -> None:
    customer = Customer.objects.create(type="COMPANY")
    client.force_login(agent)
    html = client.get(step_url(customer, "company")).content.decode()
    # Sub-industries grouped under their industry, the value the sub-industry's reference.
    assert '<optgroup label="Financial services">' in html
    assert f'<option value="{INDUSTRY}">Payment services</option>' in html
    data = {
        "legal_name": "Acme Ltd",
        "entity_type": "CORPORATION",
        "registration_number": "123",
        "tax_residence_country": "GB",
        "incorporation_date": "2001-02-03",
        "industry_reference": INDUSTRY,
        "monthly_volumes_reference": VOLUME,
        "website": "acme.example",
    }
    assert post_step(client, customer, "company", data)["Location"] == step_url(customer, "address")
    customer.refresh_from_db()
    assert customer.website == "https://acme.example"


def test_company_step_says_when_bvnk_lists_cannot_load(client, agent, settings) -> None:
    settings.BVNK_BASE_URL = "http://127.0.0.1:9"  # nothing listens there
    settings.BVNK_CONNECT_TIMEOUT = 0.5
    customer = Customer.objects.create(type="COMPANY", legal_name="Acme Ltd")
    client.force_login(agent)
    response = client.get(step_url(customer, "company"))
    html = response.content.decode()
    assert response.status_code == 200
    assert "BVNK could not be reached just now" in html
    assert "could not be loaded just now" in html
    # The rest of the step can still be saved as a draft.
    response = post_step(client, customer, "company", {"legal_name": "Acme Two"}, "save")
    assert response.status_code == 302
    customer.refresh_from_db()
    assert customer.legal_name == "Acme Two"


# -- resume and stepper ------------------------------------------------------------------


def test_resume_goes_to_the_first_incomplete_step(client, agent) -> None:
    customer = individual_draft(tax_number="")
    client.force_login(agent)
    assert client.get(reverse("customers:onboarding-resume", args=[customer.pk]))[
        "Location"
    ] == step_url(customer, "tax")
    done = complete_individual()
    response = client.get(reverse("customers:onboarding-resume", args=[done.pk]))
    assert response["Location"] == step_url(done, "review")


def test_resume_links_on_my_customers_and_the_customer_page(client, agent) -> None:
    draft = individual_draft()
    submitted = individual_draft(last_name="Roe")
    Customer.objects.filter(pk=submitted.pk).update(status="PENDING")
    client.force_login(agent)
    resume = reverse("customers:onboarding-resume", args=[draft.pk])
    html = client.get(reverse("customers:list")).content.decode()
    assert resume in html
    assert reverse("customers:onboarding-resume", args=[submitted.pk]) not in html
    assert resume in client.get(reverse("customers:detail", args=[draft.pk])).content.decode()


def test_stepper_shows_completed_current_and_to_do(client, agent) -> None:
    customer = individual_draft(tax_number="")
    client.force_login(agent)
    html = client.get(step_url(customer, "address")).content.decode()
    assert 'aria-current="step"' in html
    stepper = html.split('aria-label="Onboarding steps"')[1].split("</nav>")[0]
    assert stepper.count("(completed)") == 3  # personal, contact, due diligence
    assert stepper.count("(current step)") == 1
    assert stepper.count("(to do)") == 4  # tax, documents, agreement, review


def test_submitted_customers_cannot_be_edited(client, agent) -> None:
    customer = individual_draft()
    Customer.objects.filter(pk=customer.pk).update(status="PENDING")
    client.force_login(agent)
    response = post_step(client, customer, "personal", {**PERSONAL, "first_name": "X"})
    assert response["Location"] == reverse("customers:detail", args=[customer.pk])
    customer.refresh_from_db()
    assert customer.first_name == "Jane"


def test_steps_with_unmet_preconditions_send_you_back(client, agent) -> None:
    company = company_draft(tax_residence_country="", country="")
    client.force_login(agent)
    response = client.get(step_url(company, "identity-documents"))
    assert response["Location"] == step_url(company, "associates")
    response = client.get(step_url(company, "agreement"))
    assert response["Location"] == step_url(company, "company")


# -- associates -----------------------------------------------------------------------------


def associate_data(**change):
    data = {
        "roles": ["BENEFICIAL_OWNER", "CONTROLLING_PERSON", "SIGNER"],
        "ownership_percentage": "100",
        "first_name": "Ada",
        "last_name": "Smith",
        "date_of_birth": "1980-03-14",
        "nationality": "GB",
        "email": "ada@example.com",
        "address_line1": "2 Queen Street",
        "city": "London",
        "postal_code": "EC4N 1SP",
        "country": "GB",
    }
    data.update(change)
    return data


def test_add_edit_and_remove_an_associate(client, agent) -> None:
    company = company_draft()
    client.force_login(agent)
    add = reverse("customers:onboarding-associate-add", args=[company.pk])
    response = client.post(add, associate_data())
    assert response["Location"] == step_url(company, "associates")
    ada = Associate.objects.get()
    assert ada.roles == ["BENEFICIAL_OWNER", "CONTROLLING_PERSON", "SIGNER"]

    edit = reverse("customers:onboarding-associate-edit", args=[company.pk, ada.pk])
    assert 'value="Ada"' in client.get(edit).content.decode()
    client.post(edit, associate_data(roles=["SIGNER"], first_name="Adah"))
    ada.refresh_from_db()
    assert (ada.first_name, ada.roles, ada.ownership_percentage) == ("Adah", ["SIGNER"], None)

    remove = reverse("customers:onboarding-associate-remove", args=[company.pk, ada.pk])
    assert "Remove Adah Smith?" in client.get(remove).content.decode()
    client.post(remove)
    assert not Associate.objects.exists()


def test_associate_rules_are_listed_until_met(client, agent) -> None:
    company = company_draft()
    add_associate(company, "Ada", is_beneficial_owner=True, ownership_percentage=70)
    client.force_login(agent)
    html = client.get(step_url(company, "associates")).content.decode()
    assert "Add at least one controlling person." in html and "Add at least one signer." in html
    response = client.post(
        reverse("customers:onboarding-associate-add", args=[company.pk]),
        associate_data(first_name="Ben", ownership_percentage="40"),
    )
    assert "ownership adds up to 110%" in response.content.decode()
    client.post(
        reverse("customers:onboarding-associate-add", args=[company.pk]),
        associate_data(first_name="Ben", ownership_percentage="30"),
    )
    assert onboarding.Progress(company).missing(onboarding.COMPANY_STEPS[2]) == []


def test_a_duplicate_person_is_refused(client, agent) -> None:
    company = company_draft()
    add_associate(company, "Ada", date_of_birth="1980-03-14", is_signer=True)
    client.force_login(agent)
    response = client.post(
        reverse("customers:onboarding-associate-add", args=[company.pk]),
        associate_data(first_name="ada", ownership_percentage="10"),
    )
    assert "is already an associate" in response.content.decode()
    assert Associate.objects.count() == 1


def test_associates_of_another_customer_are_not_found(client, agent) -> None:
    company = company_draft()
    stranger = add_associate(company_draft(), "Eve")
    client.force_login(agent)
    url = reverse("customers:onboarding-associate-edit", args=[company.pk, stranger.pk])
    assert client.get(url).status_code == 404


def test_power_of_attorney_is_asked_when_a_signer_does_not_control() -> None:
    company = complete_company()
    progress = onboarding.Progress(company)
    assert progress.missing(onboarding.COMPANY_STEPS[3]) == []
    add_associate(company, "Dan", is_signer=True)
    progress = onboarding.Progress(company)
    assert "Power of attorney" in progress.missing(onboarding.COMPANY_STEPS[3])


# -- review and submit ---------------------------------------------------------------------


def test_review_lists_every_value_and_what_is_missing(client, agent, reference_lists) -> None:
    company = complete_company(signed=False)
    company.associates.filter(first_name="Cleo").update(is_signer=False)
    client.force_login(agent)
    html = client.get(step_url(company, "review")).content.decode()
    assert "Still missing before you can submit" in html
    assert "Add at least one signer." in html
    assert "Have the customer sign BVNK&#x27;s agreement." in html
    assert (
        "Northwind Trading Ltd" in html
        and "Financial services: Payment services" in html
        and "1 June 2015" in html
    )
    assert "Ada Smith" in html and "scan.pdf" in html
    assert f'href="{step_url(company, "company")}"' in html  # "Change" links
    assert "disabled" in html.split("Submit to BVNK")[0].rsplit("<button", 1)[1]


def test_review_of_a_complete_draft_offers_submit(client, agent) -> None:
    customer = complete_individual()
    client.force_login(agent)
    html = client.get(step_url(customer, "review")).content.decode()
    assert "Everything BVNK needs is here." in html
    assert reverse("customers:onboarding-submit", args=[customer.pk]) in html


def test_submit_marks_submitting_and_enqueues_one_task_after_commit(
    client, agent, django_capture_on_commit_callbacks
) -> None:
    customer = complete_individual()
    client.force_login(agent)
    with mock.patch("customers.outbox.publishing.enqueue") as enqueue:
        with django_capture_on_commit_callbacks() as callbacks:
            response = client.post(reverse("customers:onboarding-submit", args=[customer.pk]))
            enqueue.assert_not_called()  # Not before the transaction commits.
        assert len(callbacks) == 1
        callbacks[0]()
    # The create is an outbox row written with the submission, carrying its body and key.
    operation = customer.operations.get()
    enqueue.assert_called_once_with([operation.pk])
    assert (operation.kind, operation.state, operation.created_by) == (
        "CREATE_CUSTOMER",
        "PENDING",
        agent,
    )
    assert operation.payload["body"]["externalReference"] == str(customer.external_reference)
    assert response["Location"] == reverse("customers:detail", args=[customer.pk])
    customer.refresh_from_db()
    assert (customer.status, customer.submission_count) == ("SUBMITTING", 1)
    change = customer.status_changes.get()
    assert (change.old_status, change.new_status, change.actor) == ("DRAFT", "SUBMITTING", agent)
    assert change.source == StatusChange.Source.STAFF


def test_an_incomplete_draft_is_not_submitted(client, agent, django_capture_on_commit_callbacks):
    customer = complete_individual(signed=False)
    client.force_login(agent)
    with django_capture_on_commit_callbacks() as callbacks:
        response = client.post(reverse("customers:onboarding-submit", args=[customer.pk]))
    assert callbacks == []
    assert response["Location"] == step_url(customer, "review")
    customer.refresh_from_db()
    assert customer.status == "DRAFT"


def test_submitting_twice_sends_once(client, agent, django_capture_on_commit_callbacks) -> None:
    customer = complete_individual()
    client.force_login(agent)
    with django_capture_on_commit_callbacks() as callbacks:
        client.post(reverse("customers:onboarding-submit", args=[customer.pk]))
        client.post(reverse("customers:onboarding-submit", args=[customer.pk]))
    assert len(callbacks) == 1


# -- permissions ---------------------------------------------------------------------------


def test_logged_out_users_go_to_login(client) -> None:
    customer = individual_draft()
    for url in (
        reverse("customers:onboarding-start"),
        reverse("customers:onboarding-resume", args=[customer.pk]),
        step_url(customer, "personal"),
        step_url(customer, "review"),
    ):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


@pytest.mark.parametrize(
    ("persona", "expected"), [("nobody", 403), ("viewer", 403), ("agent", 200), ("lead", 200)]
)
def test_only_agents_and_leads_create_and_edit(client, personas, persona, expected) -> None:
    company = company_draft()
    ada = add_associate(company, "Ada", is_signer=True)
    client.force_login(personas[persona])
    for url in (
        reverse("customers:onboarding-start"),
        step_url(company, "address"),
        step_url(company, "associates"),
        reverse("customers:onboarding-associate-add", args=[company.pk]),
        reverse("customers:onboarding-associate-edit", args=[company.pk, ada.pk]),
        step_url(company, "company-documents"),
    ):
        assert client.get(url).status_code == expected, url
    if expected == 403:
        assert post_step(client, company, "address", {"city": "Paris"}, "save").status_code == 403
        assert (
            client.post(
                reverse("customers:onboarding-start"), {"customer_type": "COMPANY"}
            ).status_code
            == 403
        )
        assert (
            client.post(reverse("customers:onboarding-submit", args=[company.pk])).status_code
            == 403
        )
        assert Customer.objects.count() == 1


def test_viewers_see_the_review_read_only(client, viewer) -> None:
    customer = complete_individual()
    client.force_login(viewer)
    response = client.get(step_url(customer, "review"))
    html = response.content.decode()
    assert response.status_code == 200
    assert reverse("customers:onboarding-submit", args=[customer.pk]) not in html
    assert f'href="{step_url(customer, "personal")}"' not in html


# -- update details of a created customer -----------------------------------------------


def test_update_details_saves_and_enqueues_the_put_after_commit(
    client, agent, django_capture_on_commit_callbacks
) -> None:
    customer = individual_draft(bvnk_reference="ref-1")
    Customer.objects.filter(pk=customer.pk).update(status="INFO_REQUIRED")
    client.force_login(agent)
    detail = client.get(reverse("customers:detail", args=[customer.pk])).content.decode()
    assert reverse("customers:update-details", args=[customer.pk]) in detail
    data = {
        "email": "new@example.com",
        "phone": "+447911123456",
        "address_line1": "2 Main Street",
        "city": "Austin",
        "postal_code": "78701",
        "state_code": "TX",
        "country": "US",
        "date_of_birth": "1984-06-30",
    }
    with (
        mock.patch("customers.outbox.publishing.enqueue") as enqueue,
        django_capture_on_commit_callbacks(execute=True),
    ):
        response = client.post(reverse("customers:update-details", args=[customer.pk]), data)
    assert response["Location"] == reverse("customers:detail", args=[customer.pk])
    operation = customer.operations.get()
    enqueue.assert_called_once_with([operation.pk])
    assert (operation.kind, operation.created_by) == ("UPDATE_CUSTOMER", agent)
    assert operation.payload["body"]["contactInfo"]["emailAddress"] == "new@example.com"
    customer.refresh_from_db()
    assert (customer.email, customer.address_line1) == ("new@example.com", "2 Main Street")
    assert customer.status_changes.count() == 0


def test_update_details_refuses_drafts_and_invalid_values(client, agent) -> None:
    draft = individual_draft()
    client.force_login(agent)
    assert (
        "Update details"
        not in client.get(reverse("customers:detail", args=[draft.pk])).content.decode()
    )
    response = client.post(reverse("customers:update-details", args=[draft.pk]), {"email": "bad"})
    assert (
        response.status_code == 200 and "Enter a valid email address." in response.content.decode()
    )


def test_update_details_with_nothing_changed_sends_nothing(
    client, agent, django_capture_on_commit_callbacks
) -> None:
    customer = company_draft(bvnk_reference="ref-2")
    Customer.objects.filter(pk=customer.pk).update(status="VERIFIED")
    client.force_login(agent)
    data = {
        "address_line1": "1 King Street",
        "city": "London",
        "postal_code": "EC2V 8AU",
        "country": "GB",
    }
    with django_capture_on_commit_callbacks() as callbacks:
        response = client.post(
            reverse("customers:update-details", args=[customer.pk]), data, follow=True
        )
    assert callbacks == []
    assert "Nothing changed" in response.content.decode()


def test_the_submission_is_sent_by_the_outbox_not_by_celery_retries() -> None:
    from customers import tasks

    # Back-offs live in the operation row (tests/customers/test_outbox.py); the task only
    # claims and sends, on a queue of its own.
    task = tasks.send_bvnk_operation
    assert not getattr(task, "autoretry_for", ())
    assert task.app.amqp.router.route({}, task.name)["queue"].name == "bvnk"


def test_an_unreachable_bvnk_is_asked_again_only_after_a_minute(settings) -> None:
    from customers.models import BvnkCall

    settings.BVNK_BASE_URL = "http://127.0.0.1:9"
    assert onboarding.reference_lists().unavailable
    calls = BvnkCall.objects.count()
    assert calls == 2  # one try per list
    assert onboarding.reference_lists().unavailable
    assert BvnkCall.objects.count() == calls


@pytest.mark.parametrize(
    ("value", "shown"),
    [(Decimal("2500.00"), "2,500"), (Decimal("2500.5"), "2,500.50"), (12, "12"), (None, "—")],
)
def test_amounts_read_as_people_write_them(value, shown) -> None:
    assert onboarding.display(None, value) == shown
