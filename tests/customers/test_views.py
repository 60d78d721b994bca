from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from customers.models import StatusChange
from customers.services import customer_change_status
from tests.conftest import make_associate, make_company, make_individual

pytestmark = pytest.mark.django_db


def pages() -> list[str]:
    customer = make_company()
    return [reverse("customers:list"), reverse("customers:detail", args=[customer.pk])]


def test_logged_out_users_are_sent_to_login(client) -> None:
    for url in pages():
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login") + "?next=")


@pytest.mark.parametrize(
    ("persona", "expected"), [("nobody", 403), ("viewer", 200), ("agent", 200), ("lead", 200)]
)
def test_staff_pages_need_the_view_permission(client, personas, persona, expected) -> None:
    client.force_login(personas[persona])
    for url in pages():
        assert client.get(url).status_code == expected, url


def test_root_goes_to_my_customers(client, viewer) -> None:
    client.force_login(viewer)
    response = client.get("/")
    assert response.status_code == 302 and response["Location"] == reverse("customers:list")


def test_login_page_and_logging_in(client, viewer) -> None:
    response = client.get(reverse("login"))
    assert response.status_code == 200
    assert b'<label for="id_username">' in response.content
    response = client.post(
        reverse("login"),
        {"username": viewer.username, "password": "correct horse battery staple"},
        follow=True,
    )
    assert response.redirect_chain[-1][0] == reverse("customers:list")
    assert b"<h1>My customers</h1>" in response.content


def test_wrong_password_is_refused(client, viewer) -> None:
    response = client.post(reverse("login"), {"username": viewer.username, "password": "nope"})
    assert response.status_code == 200
    assert b"Please enter a correct username and password" in response.content


def test_list_shows_status_type_name_reference(client, viewer) -> None:
    company = make_company(legal_name="LB Ltd.", bvnk_reference="8a0e1da2-2af3")
    make_individual(first_name="Jane", last_name="Doe")
    customer_change_status(company, "SUBMITTING", source=StatusChange.Source.STAFF)
    client.force_login(viewer)
    html = client.get(reverse("customers:list")).content.decode()
    assert "LB Ltd." in html and "Jane Doe" in html
    assert "8a0e1da2-2af3" in html and "Submitting" in html and "Individual" in html


def test_list_search_and_filters(client, viewer) -> None:
    company = make_company(legal_name="Northwind Traders")
    person = make_individual(first_name="Ada", last_name="Lovelace", email="ada@example.org")
    Customer = type(company)
    Customer.objects.filter(pk=person.pk).update(status="VERIFIED", bvnk_reference="ref-ada")
    client.force_login(viewer)

    def names(**params: str) -> set[str]:
        return {row.name for row in client.get(reverse("customers:list"), params).context["rows"]}

    assert names(q="northwind") == {"Northwind Traders"}
    assert names(q="ada@example.org") == {"Ada Lovelace"}
    assert names(q="ref-ada") == {"Ada Lovelace"}
    assert names(q=str(company.external_reference)) == {"Northwind Traders"}
    assert names(status="VERIFIED") == {"Ada Lovelace"}
    assert names(type="COMPANY") == {"Northwind Traders"}
    assert names(status="NONSENSE") == {"Northwind Traders", "Ada Lovelace"}


def test_list_paginates_with_a_constant_number_of_queries(client, viewer) -> None:
    client.force_login(viewer)
    make_company()
    with CaptureQueriesContext(connection) as few:
        client.get(reverse("customers:list"))
    for _ in range(40):
        make_company()
    first = client.get(reverse("customers:list")).context["listing"].page
    with CaptureQueriesContext(connection) as many:
        response = client.get(reverse("customers:list"), {"after": first.next_cursor})
    assert len(many) == len(few)
    assert len(response.context["listing"].page.rows) == 16


def test_detail_shows_associates_documents_and_timeline(client, viewer, agent) -> None:
    company = make_company(legal_name="LB Ltd.")
    make_associate(company, first_name="Sean", last_name="Bond", is_signer=True)
    customer_change_status(company, "SUBMITTING", source=StatusChange.Source.STAFF, actor=agent)
    customer_change_status(
        company, "INFO_REQUIRED", source=StatusChange.Source.WEBHOOK, source_reference="evt-1"
    )
    client.force_login(viewer)
    html = client.get(reverse("customers:detail", args=[company.pk])).content.decode()
    assert "Sean Bond" in html and "Beneficial owner, Signer" in html
    assert "Draft → <strong>Submitting</strong>" in html
    assert "Submitting → <strong>Info required</strong>" in html
    # Who caused each change, in words; the event's id only behind Technical details.
    assert "BVNK reported it" in html and agent.username in html
    assert "evt-1" not in html


def test_a_customer_page_keeps_itself_current_while_bvnk_may_move_it(client, viewer, agent) -> None:
    company = make_company(legal_name="Waiting Ltd")
    page = reverse("customers:detail", args=[company.pk])
    client.force_login(viewer)
    assert "data-live" not in client.get(page).content.decode(), "a draft is the partner's"

    customer_change_status(company, "SUBMITTING", source=StatusChange.Source.STAFF, actor=agent)
    html = client.get(page).content.decode()
    regions = ("customer-state", "checklist", "summary", "documents", "timeline", "update-details")
    for region in regions:
        assert f'id="{region}" data-live="15"' in html
    assert "/static/js/live.js" in html

    viewed = company.audit_events.filter(action="VIEW").count()
    assert client.get(page, headers={"X-Portal-Live": "1"}).status_code == 200
    assert company.audit_events.filter(action="VIEW").count() == viewed, (
        "a page refreshing itself is not a new view of personal data"
    )
    other = make_company(legal_name="Never Opened Ltd")
    customer_change_status(other, "SUBMITTING", source=StatusChange.Source.STAFF, actor=agent)
    other_page = reverse("customers:detail", args=[other.pk])
    client.get(other_page, headers={"X-Portal-Live": "1"})
    assert other.audit_events.filter(action="VIEW").count() == 1, (
        "the header alone cannot keep a view out of the audit log"
    )

    customer_change_status(company, "INFO_REQUIRED", source=StatusChange.Source.WEBHOOK)
    customer_change_status(company, "PENDING", source=StatusChange.Source.WEBHOOK)
    customer_change_status(company, "REJECTED", source=StatusChange.Source.WEBHOOK)
    assert "data-live" not in client.get(page).content.decode(), "rejected is final"


def test_bvnk_requests_show_only_while_bvnk_waits_on_the_partner(client, viewer) -> None:
    """infoRequired as last heard: shown in INFO_REQUIRED, not once BVNK reviews or decided
    (in case BVNK sends no update clearing it)."""
    customer = make_company(
        legal_name="Asked Ltd",
        status="INFO_REQUIRED",
        bvnk_reference="ref-asked",
        info_required={"documents": [{"type": "PROOF_OF_RESIDENCE", "subType": None}]},
    )
    client.force_login(viewer)
    page = reverse("customers:detail", args=[customer.pk])
    asked = "Upload Proof of address — Asked Ltd"
    assert asked in client.get(page).content.decode()
    customer_change_status(customer, "PENDING", source=StatusChange.Source.WEBHOOK)
    assert asked not in client.get(page).content.decode()


def test_unknown_customer_is_404(client, viewer) -> None:
    client.force_login(viewer)
    assert client.get(reverse("customers:detail", args=[999999])).status_code == 404
