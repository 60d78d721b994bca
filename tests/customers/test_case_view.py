"""The customer page as a case view: tabs that work without JavaScript, one per section."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from customers import case_view
from customers.models import StatusChange
from customers.services import customer_change_status
from tests.conftest import make_associate, make_company, make_individual

pytestmark = pytest.mark.django_db


def panels(html: str) -> dict[str, bool]:
    """Each panel's slug, and whether the server shows it."""
    found = re.findall(r'<div class="tab-panel" id="panel-([a-z]+)"[^>]*?( hidden)?>', html)
    return {slug: not hidden for slug, hidden in found}


def test_every_tab_has_a_panel_and_the_first_is_shown(client, viewer) -> None:
    company = make_company(legal_name="Tabbed Ltd")
    client.force_login(viewer)
    html = client.get(reverse("customers:detail", args=[company.pk])).content.decode()
    assert panels(html) == {tab.slug: tab.slug == "overview" for tab in case_view.TABS}
    for tab in case_view.TABS:
        assert f'<a id="tab-{tab.slug}" href="?tab={tab.slug}"' in html
    assert "/static/js/tabs.js" in html


def test_the_query_string_chooses_the_tab_without_javascript(client, viewer) -> None:
    company = make_company(legal_name="Chosen Ltd")
    make_associate(company, first_name="Ada", last_name="Owner")
    client.force_login(viewer)
    page = reverse("customers:detail", args=[company.pk])
    html = client.get(page, {"tab": "people"}).content.decode()
    assert [slug for slug, shown in panels(html).items() if shown] == ["people"]
    assert 'href="?tab=people" aria-controls="panel-people" aria-current="page"' in html
    unknown = client.get(page, {"tab": "nonsense"}).content.decode()
    assert [slug for slug, shown in panels(unknown).items() if shown] == ["overview"]


def test_an_individual_has_no_people_tab(client, viewer) -> None:
    customer = make_individual()
    client.force_login(viewer)
    html = client.get(reverse("customers:detail", args=[customer.pk])).content.decode()
    assert "people" not in panels(html)
    assert [tab.slug for tab in case_view.tabs_for(customer)] == [
        "overview",
        "requests",
        "documents",
        "wallets",
        "activity",
        "details",
    ]


def test_the_head_says_whom_the_case_waits_on_and_what_is_next(client, viewer) -> None:
    company = make_company(
        legal_name="Asked Ltd",
        status="INFO_REQUIRED",
        bvnk_reference="ref-asked-head",
        info_required={"documents": [{"type": "PROOF_OF_RESIDENCE", "subType": None}]},
    )
    customer_change_status(company, "INFO_REQUIRED", source=StatusChange.Source.WEBHOOK)
    client.force_login(viewer)
    page = reverse("customers:detail", args=[company.pk])
    html = client.get(page).content.decode()
    assert "Waiting on you" in html
    assert "Next: Upload Proof of address" in html
    requests = client.get(page, {"tab": "requests"}).content.decode()
    assert "What BVNK asks for" in requests
    customer_change_status(company, "PENDING", source=StatusChange.Source.WEBHOOK)
    html = client.get(page).content.decode()
    assert "Waiting on BVNK" in html and "Waiting on you" not in html
