from __future__ import annotations

import pytest
from django.urls import reverse

from customers.models import StatusChange
from customers.services import customer_change_status
from tests.conftest import make_associate, make_company
from tests.customers.conftest import add_document, individual_draft

pytestmark = pytest.mark.django_db

MODELS = [
    "customer",
    "associate",
    "compliancedocument",
    "agreementsession",
    "statuschange",
    "bvnkcall",
]


@pytest.fixture
def company():
    company = make_company()
    make_associate(company)
    customer_change_status(company, "SUBMITTING", source=StatusChange.Source.STAFF)
    return company


@pytest.mark.parametrize("model", MODELS)
def test_changelists_load_for_a_compliance_lead(client, lead, company, model) -> None:
    client.force_login(lead)
    response = client.get(reverse(f"admin:customers_{model}_changelist"), {"q": "Acme"})
    assert response.status_code == 200


def test_customer_change_page_has_inlines_and_read_only_bvnk_fields(client, lead, company):
    client.force_login(lead)
    response = client.get(reverse("admin:customers_customer_change", args=[company.pk]))
    assert response.status_code == 200
    html = response.content.decode()
    assert "associates-TOTAL_FORMS" in html
    assert 'name="bvnk_reference"' not in html and 'name="status"' not in html
    assert 'name="legal_name"' in html


def test_status_history_cannot_be_edited(client, lead, company) -> None:
    client.force_login(lead)
    change = company.status_changes.get()
    response = client.post(
        reverse("admin:customers_statuschange_delete", args=[change.pk]), {"post": "yes"}
    )
    assert response.status_code == 403
    assert StatusChange.objects.filter(pk=change.pk).exists()


def test_admin_needs_staff(client, agent) -> None:
    client.force_login(agent)
    response = client.get(reverse("admin:index"))
    assert response.status_code == 302 and "login" in response["Location"]


def test_details_bvnk_holds_are_read_only_once_the_customer_is_there(client, lead) -> None:
    customer = individual_draft(status="VERIFIED", bvnk_reference="cus-1", email="jane@example.com")
    make_associate(customer)
    client.force_login(lead)
    url = reverse("admin:customers_customer_change", args=[customer.pk])
    html = client.get(url).content.decode()
    for name in ("email", "first_name", "date_of_birth", "tax_number", "address_line1"):
        assert f'name="{name}"' not in html, name
    assert 'name="associates-0-first_name"' not in html
    assert reverse("customers:detail", args=[customer.pk]) in html  # where to change them
    # A forged post changes nothing and queues nothing.
    response = client.post(url, {"email": "forged@example.com", "_save": "Save"})
    assert response.status_code in (200, 302)
    customer.refresh_from_db()
    assert customer.email == "jane@example.com" and not customer.operations.exists()
    associate = customer.associates.get()
    page = client.get(reverse("admin:customers_associate_change", args=[associate.pk]))
    assert 'name="first_name"' not in page.content.decode()


def test_differing_details_are_shown_and_resolved_from_the_admin(client, lead) -> None:
    theirs = {"individual": {"details": {"contactInfo": {"emailAddress": "b@example.com"}}}}
    customer = individual_draft(
        status="VERIFIED",
        bvnk_reference="cus-1",
        email="a@example.com",
        bvnk_data=theirs,
        details_drift=["email"],
    )
    client.force_login(lead)
    page = client.get(reverse("admin:customers_customer_change", args=[customer.pk]))
    assert "Contact email: a@example.com here, b@example.com at BVNK" in page.content.decode()
    client.post(
        reverse("admin:customers_customer_changelist"),
        {"action": "resolve_take_bvnk_details", "_selected_action": [customer.pk]},
    )
    customer.refresh_from_db()
    assert customer.email == "b@example.com" and customer.details_drift == []
    assert not customer.operations.exists()


def _with_history(customer, *, changes: int, documents: int) -> None:
    """A customer BVNK reviewed many times: status changes and documents to list."""
    for n in range(changes):
        status = ("PENDING", "ACTIONS_REQUIRED")[n % 2]
        customer_change_status(
            customer, status, source=StatusChange.Source.WEBHOOK, source_reference=f"evt-{n}"
        )
    for n in range(documents):
        add_document(customer, "PROOF_OF_RESIDENCE", name=f"bill-{n:03}.pdf")


def test_the_customer_change_page_stays_under_100_kb_with_a_long_history(client, lead) -> None:
    """Inlines list the latest rows only, with a link to all of them."""
    company = make_company(legal_name="Long History Ltd", status="INFO_REQUIRED")
    company.bvnk_reference = "ref-long-history"
    company.save()
    for n in range(6):
        make_associate(company, first_name=f"Person{n}", last_name="Owner")
    _with_history(company, changes=200, documents=120)
    client.force_login(lead)
    response = client.get(reverse("admin:customers_customer_change", args=[company.pk]))
    size = len(response.content)
    assert response.status_code == 200
    assert size < 100_000, f"the change page is {size // 1024} KB"
    html = response.content.decode()
    assert "evt-199" in html, "the latest status change is listed"
    assert "bill-119.pdf" in html, "the latest document is listed"
    assert f"customer__id__exact={company.pk}" in html, "a link leads to all of them"
    for changelist in ("statuschange", "compliancedocument", "associate"):
        everything = client.get(
            reverse(f"admin:customers_{changelist}_changelist"), {"customer__id__exact": company.pk}
        )
        assert everything.status_code == 200, changelist
