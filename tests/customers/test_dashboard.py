"""My customers: tabs, search, filters, sort, keyset pages, saved views, CSV export."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from customers.dashboard import counting, csv_export
from customers.dashboard import listing as dashboard
from customers.models import AuditEvent, Customer, SavedView
from tests.conftest import make_associate, make_company, make_individual

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_passwords")]

S = Customer.Status


def listing(client, **params):
    response = client.get(reverse("customers:list"), params)
    assert response.status_code == 200
    return response.context["listing"]


def names(client, **params) -> list[str]:
    return [dashboard.row_name(row) for row in listing(client, **params).page.rows]


@pytest.fixture
def mix(agent):
    """A handful of customers in different states, one of each thing the filters use."""
    northwind = make_company(legal_name="Northwind Traders", created_by=agent)
    ada = make_individual(
        first_name="Ada",
        last_name="Lovelace",
        email="ada@analytical.example",
        status=S.VERIFIED,
        bvnk_reference="ref-ada",
    )
    info = make_company(
        legal_name="Contoso Ltd",
        status=S.INFO_REQUIRED,
        bvnk_reference="ref-contoso",
        blocking_summary="2 documents, 1 questionnaire missing",
        waiting_on=Customer.WaitingOn.PARTNER,
    )
    failed = make_company(
        legal_name="Fabrikam GmbH",
        status=S.SUBMITTING,
        needs_attention=True,
        blocking_summary="Create customer failed: registrationNumber",
        waiting_on=Customer.WaitingOn.PARTNER,
        created_by=agent,
    )
    pending = make_individual(
        first_name="Grace",
        last_name="Hopper",
        status=S.PENDING,
        bvnk_reference="ref-grace",
        blocking_summary="Waiting for BVNK review",
        waiting_on=Customer.WaitingOn.BVNK,
    )
    old = timezone.now() - dt.timedelta(days=40)
    Customer.objects.filter(pk=pending.pk).update(status_changed_at=old, created_at=old)
    return {"northwind": northwind, "ada": ada, "info": info, "failed": failed, "pending": pending}


def test_tabs_count_each_status_and_needs_attention(client, viewer, mix) -> None:
    client.force_login(viewer)
    tabs = {tab.key: count for tab, count, _ in listing(client).tabs}
    assert tabs[""].exact == 5
    assert tabs["attention"].exact == 1
    assert tabs[S.DRAFT].exact == 1
    assert tabs[S.INFO_REQUIRED].exact == 1
    assert tabs[S.VERIFIED].exact == 1
    assert tabs[S.REJECTED].exact == 0
    assert names(client, tab="attention") == ["Fabrikam GmbH"]
    assert names(client, tab=S.PENDING) == ["Grace Hopper"]
    assert names(client, tab="nonsense") == names(client)


def test_search_by_name_email_and_references(client, viewer, mix) -> None:
    client.force_login(viewer)
    make_associate(mix["northwind"], email="Owner@Northwind.example")
    assert names(client, q="northwind") == ["Northwind Traders"]
    assert names(client, q="LOVELACE") == ["Ada Lovelace"]
    # A full email address, the customer's own or an associate's, case and spaces aside.
    assert names(client, q=" ADA@analytical.example ") == ["Ada Lovelace"]
    assert names(client, q="owner@northwind.example") == ["Northwind Traders"]
    assert names(client, q="analytical.example") == []  # emails are encrypted: whole only
    assert names(client, q="ref-contoso") == ["Contoso Ltd"]
    assert names(client, q=str(mix["failed"].external_reference)) == ["Fabrikam GmbH"]
    # BVNK's reference by its start (the list cuts it short), not by a part in the middle.
    assert names(client, q="ref-cont") == ["Contoso Ltd"]
    with_reference = Customer.objects.filter(bvnk_reference__startswith="ref-")
    assert sorted(names(client, q="ref-")) == sorted(str(c) for c in with_reference)
    assert names(client, q="contoso") == ["Contoso Ltd"]
    assert names(client, q="f-contoso") == []


def test_search_by_email_finds_rows_hashed_under_an_older_key(client, viewer, settings):
    """After a search key is put in front, and before rehashing, an email finds its row."""
    settings.SEARCH_INDEX_KEYS = ["o" * 40]
    make_individual(first_name="Ada", last_name="Lovelace", email="ada@analytical.example")
    settings.SEARCH_INDEX_KEYS = ["n" * 40, "o" * 40]
    client.force_login(viewer)
    assert names(client, q="ada@analytical.example") == ["Ada Lovelace"]


def test_filters_combine(client, viewer, agent, mix) -> None:
    client.force_login(viewer)
    assert set(names(client, type="INDIVIDUAL")) == {"Ada Lovelace", "Grace Hopper"}
    assert names(client, status=S.VERIFIED) == ["Ada Lovelace"]
    assert names(client, attention="1") == ["Fabrikam GmbH"]
    assert set(names(client, created_by=str(agent.pk))) == {"Northwind Traders", "Fabrikam GmbH"}
    assert names(client, created_by=str(agent.pk), type="COMPANY", q="fab") == ["Fabrikam GmbH"]
    today = timezone.localdate()
    recent = {"created_from": str(today - dt.timedelta(days=7))}
    assert "Grace Hopper" not in names(client, **recent)
    assert names(client, created_to=str(today - dt.timedelta(days=30))) == ["Grace Hopper"]
    assert names(client, changed_to=str(today - dt.timedelta(days=30))) == ["Grace Hopper"]
    # An invalid value is ignored, not an error.
    assert len(names(client, created_from="not a date", status="NOPE", created_by="999")) == 5


def test_created_by_me(client, agent, mix) -> None:
    client.force_login(agent)
    assert set(names(client, created_by="me")) == {"Northwind Traders", "Fabrikam GmbH"}


def test_sorting(client, viewer, mix) -> None:
    client.force_login(viewer)
    by_name = names(client, sort="name")
    assert by_name == sorted(by_name)
    assert names(client, sort="-name") == list(reversed(by_name))
    assert names(client, sort="changed")[0] == "Grace Hopper"  # longest in its status
    assert names(client, sort="created")[0] == "Grace Hopper"


def test_rows_say_what_blocks_and_for_how_long(client, viewer, mix) -> None:
    client.force_login(viewer)
    html = client.get(reverse("customers:list")).content.decode()
    assert "2 documents, 1 questionnaire missing" in html
    assert "Create customer failed: registrationNumber" in html
    assert "Waiting for BVNK review" in html and "for 40 days" in html
    assert 'class="attention"' in html


def test_rows_and_counts_keep_themselves_current(client, viewer, mix, settings) -> None:
    """The regions static/js/live.js refreshes are there, with the configured pace."""
    settings.LIVE_REFRESH_SECONDS = 7
    client.force_login(viewer)
    html = client.get(reverse("customers:list"), {"q": "no such customer"}).content.decode()
    assert 'id="status-tabs" data-live="7"' in html
    assert 'id="customer-results" data-live="7"' in html  # present with no rows as well
    assert "/static/js/live.js" in html


def test_keyset_pages_forwards_and_back(client, viewer) -> None:
    for n in range(60):
        make_company(legal_name=f"Company {n:02d}")
    client.force_login(viewer)
    seen: list[str] = []
    page = listing(client, sort="name").page
    assert page.is_first and not page.previous_cursor
    pages = [page]
    while page.next_cursor:
        seen += [dashboard.row_name(r) for r in page.rows]
        page = listing(client, sort="name", after=page.next_cursor).page
        pages.append(page)
    seen += [dashboard.row_name(r) for r in page.rows]
    assert seen == [f"Company {n:02d}" for n in range(60)]
    assert [len(p.rows) for p in pages] == [25, 25, 10]
    back = listing(client, sort="name", before=pages[2].previous_cursor).page
    assert back.rows == pages[1].rows
    first = listing(client, sort="name", before=back.previous_cursor).page
    assert first.is_first and first.rows == pages[0].rows
    assert len(listing(client, size="100").page.rows) == 60
    assert len(listing(client, size="7").page.rows) == 25  # only the offered sizes
    assert len(listing(client, after="garbage").page.rows) == 25


def test_totals(client, viewer) -> None:
    for n in range(30):
        make_company(legal_name=f"Acme {n}", status=S.VERIFIED if n < 20 else S.DRAFT)
    client.force_login(viewer)
    assert listing(client).total.exact == 30  # the All tab's count
    assert listing(client, status=S.VERIFIED).total.exact == 20
    # A search is not counted apart: exact when one page holds it, else "more".
    assert listing(client, q="acme 2").total.exact == 11
    html = client.get(reverse("customers:list"), {"q": "acme"}).content.decode()
    assert listing(client, q="acme").total.at_least == 25
    assert "Showing 25 matches; more on the next pages" in html


def test_keyset_pages_over_equal_timestamps(client, viewer) -> None:
    """Rows sharing a sort value are split by id, none lost or repeated."""
    for n in range(30):
        make_company(legal_name=f"Same {n}")
    Customer.objects.update(created_at=timezone.now())
    client.force_login(viewer)
    page = listing(client).page
    following = listing(client, after=page.next_cursor).page
    ids = [r["pk"] for r in page.rows] + [r["pk"] for r in following.rows]
    assert len(ids) == len(set(ids)) == 30


@pytest.mark.parametrize(
    "params",
    [{}, {"q": "acme"}, {"status": S.INFO_REQUIRED, "sort": "changed"}, {"tab": "attention"}],
    ids=["unfiltered", "search", "filter", "tab"],
)
def test_constant_queries_at_any_size(client, viewer, params) -> None:
    client.force_login(viewer)
    make_company()
    client.get(reverse("customers:list"), params)  # warm the session and permission caches
    with CaptureQueriesContext(connection) as few:
        client.get(reverse("customers:list"), params)
    for n in range(60):
        make_company(
            legal_name=f"Acme {n}",
            status=S.INFO_REQUIRED if n % 2 else S.DRAFT,
            needs_attention=n % 3 == 0,
            created_by=viewer if n % 5 == 0 else None,
        )
    with CaptureQueriesContext(connection) as many:
        response = client.get(reverse("customers:list"), params)
    assert response.status_code == 200
    assert len(many) == len(few), [q["sql"] for q in many.captured_queries]


def test_counts_above_the_cap_are_estimates(client, viewer, monkeypatch) -> None:
    monkeypatch.setattr(counting, "COUNT_CAP", 3)
    for _ in range(5):
        make_company()
    client.force_login(viewer)
    page = listing(client)
    assert page.total.capped
    tabs = {tab.key: count for tab, count, _ in page.tabs}
    assert tabs[""].capped and tabs[S.DRAFT].capped and tabs["attention"].exact == 0
    html = client.get(reverse("customers:list")).content.decode()
    assert "3+" in html or "≈" in html


def test_saved_views_are_per_user(client, viewer, agent) -> None:
    client.force_login(viewer)
    response = client.post(
        reverse("customers:saved-view-save"),
        {"name": "My late ones", "query": "tab=INFO_REQUIRED&sort=changed&junk=1&after=xyz"},
    )
    assert response.status_code == 302
    view = SavedView.objects.get(user=viewer)
    assert view.query == "tab=INFO_REQUIRED&sort=changed"
    html = client.get(reverse("customers:list")).content.decode()
    assert "My late ones" in html and "?tab=INFO_REQUIRED&amp;sort=changed" in html
    # Same name again: replaced, not duplicated.
    client.post(
        reverse("customers:saved-view-save"), {"name": "My late ones", "query": "q=x"}, follow=True
    )
    assert SavedView.objects.get(user=viewer).query == "q=x"
    client.force_login(agent)
    assert "My late ones" not in client.get(reverse("customers:list")).content.decode()
    delete = reverse("customers:saved-view-delete", args=[view.pk])
    assert client.post(delete).status_code == 404
    client.force_login(viewer)
    assert client.post(delete).status_code == 302
    assert not SavedView.objects.exists()


def read_csv(response) -> list[list[str]]:
    assert response.streaming
    body = b"".join(response.streaming_content).decode()
    return list(csv.reader(io.StringIO(body)))


def test_export_streams_the_filtered_list_safely(client, lead, mix) -> None:
    make_company(legal_name='=HYPERLINK("http://evil.example","x")', status=S.INFO_REQUIRED)
    make_company(legal_name="+cmd|' /C calc'!A0", status=S.INFO_REQUIRED)
    client.force_login(lead)
    response = client.get(reverse("customers:export"), {"status": S.INFO_REQUIRED})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"].startswith('attachment; filename="customers-')
    assert response["Cache-Control"] == "no-store"
    rows = read_csv(response)
    assert rows[0] == list(csv_export.EXPORT_COLUMNS)
    by_name = {row[0]: row for row in rows[1:]}
    assert set(by_name) == {
        "Contoso Ltd",
        '\'=HYPERLINK("http://evil.example","x")',
        "'+cmd|' /C calc'!A0",
    }
    contoso = by_name["Contoso Ltd"]
    assert contoso[5] == "2 documents, 1 questionnaire missing"
    assert contoso[-1] == f"http://testserver/customers/{mix['info'].pk}/"
    event = AuditEvent.objects.get(action=AuditEvent.Action.EXPORT)
    assert event.actor == lead and "status=INFO_REQUIRED" in event.details["filters"]


def test_export_reads_in_chunks(client, lead, monkeypatch) -> None:
    for _ in range(5):
        make_company()
    seen = []
    original = csv_export.export_rows

    def spy(queryset, *, link, chunk_size=2000):
        seen.append(chunk_size)
        return original(queryset, link=link, chunk_size=2)

    monkeypatch.setattr(csv_export, "export_rows", spy)
    client.force_login(lead)
    assert len(read_csv(client.get(reverse("customers:export")))) == 6
    assert seen == [2000]


def test_row_names_read_like_the_model(agent) -> None:
    customers = [
        make_company(legal_name="Northwind Ltd"),
        make_individual(first_name="Ada", last_name="Lovelace"),
        Customer.objects.create(type=Customer.Type.COMPANY),
        Customer.objects.create(type=Customer.Type.INDIVIDUAL),
    ]
    rows = Customer.objects.filter(pk__in=[c.pk for c in customers]).values(*dashboard.LIST_VALUES)
    assert {dashboard.row_name(row) for row in rows} == {str(c) for c in customers}


def test_safe_cell() -> None:
    for dangerous in ("=1+1", "+1", "-1", "@SUM(A1)", "\t=1", "\r=1"):
        assert csv_export.safe_cell(dangerous).startswith("'")
    assert csv_export.safe_cell("Acme") == "Acme"
    assert csv_export.safe_cell(None) == ""


def test_only_compliance_leads_export(client, agent) -> None:
    client.force_login(agent)
    assert client.get(reverse("customers:export")).status_code == 403
    html = client.get(reverse("customers:list")).content.decode()
    assert "Export CSV" not in html


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="needs PostgreSQL: trigram indexes are PostgreSQL's"
)
def test_search_uses_the_trigram_and_blind_indexes() -> None:
    """The SQL Django writes for the search is the one the indexes serve."""
    queryset = Customer.objects.filter(dashboard.search_condition("a@northwind.example")).order_by()
    sql, params = queryset.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("EXPLAIN " + sql, params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "customer_search_name_trgm" in plan and "email_hash" in plan, plan


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="needs PostgreSQL: estimates come from its statistics"
)
def test_estimates_come_from_statistics(monkeypatch) -> None:
    for n in range(30):
        make_company(status=S.VERIFIED if n % 3 else S.DRAFT)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE customers_customer")
    estimates = counting.column_estimates()
    assert estimates[("*", "*")] == 30
    assert estimates[("status", "VERIFIED")] == 20
    assert counting.explain_estimate(Customer.objects.all()) == 30
