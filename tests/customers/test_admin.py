from __future__ import annotations

import pytest
from django.urls import reverse

from customers.models import StatusChange
from customers.services import customer_change_status
from tests.conftest import make_associate, make_company

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
