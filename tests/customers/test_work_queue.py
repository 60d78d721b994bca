"""The work queue: Waiting on us, assignees and Mine, discarding a draft, draft names,
search by reference prefix and associates, date ranges, in-app notifications."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from customers import notifications, requirements, services
from customers.dashboard import listing as dashboard
from customers.models import (
    AuditEvent,
    BvnkOperation,
    Customer,
    StaffNotification,
    StatusChange,
    private_storage,
)
from tests.conftest import make_associate, make_company, make_individual
from tests.customers.conftest import add_document, company_draft

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_passwords")]

S = Customer.Status
PROOF = {"documents": [{"type": "COMPANY_DOC", "subType": "PROOF_OF_ADDRESS"}]}


def rows(client, **params):
    response = client.get(reverse("customers:list"), params)
    assert response.status_code == 200
    return response


def row_names(client, **params) -> list[str]:
    return [row.name for row in rows(client, **params).context["rows"]]


def reasons(client, **params) -> dict[str, str]:
    return {row.name: row.summary for row in rows(client, **params).context["rows"]}


def tab_count(client, key: str) -> str:
    listing = rows(client).context["listing"]
    return next(str(count) for tab, count, _ in listing.tabs if tab.key == key)


def age(customer: Customer, days: int) -> None:
    """Leave a customer untouched for `days` days (as if nobody changed it since)."""
    Customer.objects.filter(pk=customer.pk).update(
        updated_at=timezone.now() - dt.timedelta(days=days, hours=1)
    )


@pytest.fixture
def queue(agent):
    """One customer per reason to wait on us, and some that do not."""
    asked = make_company(legal_name="Contoso Ltd", status=S.INFO_REQUIRED, info_required=PROOF)
    failed = make_company(legal_name="Fabrikam GmbH", status=S.PENDING)
    BvnkOperation.objects.create(
        customer=failed,
        kind=BvnkOperation.Kind.UPLOAD_DOCUMENT,
        state=BvnkOperation.State.FAILED,
        idempotency_key=str(uuid.uuid4()),
        last_error="BVNK refused the file",
    )
    stale = make_company(legal_name="Stale Draft Ltd", created_by=agent)
    fresh = make_company(legal_name="Fresh Draft Ltd", created_by=agent)
    verified = make_company(legal_name="Verified Ltd", status=S.VERIFIED)
    pending = make_company(legal_name="Pending Ltd", status=S.PENDING)
    for customer in (asked, failed, stale, fresh, verified, pending):
        requirements.summary_refresh(customer)
    age(stale, 9)
    return {"asked": asked, "failed": failed, "stale": stale, "fresh": fresh}


# -- Waiting on us ---------------------------------------------------------------------


def test_waiting_on_us_says_why_in_the_checklists_words(client, viewer, queue, settings):
    settings.WORK_QUEUE_STALE_DRAFT_DAYS = 7
    client.force_login(viewer)
    said = reasons(client, tab="waiting")
    assert said == {
        "Contoso Ltd": "BVNK asks for: Company proof of address — Contoso Ltd",
        "Fabrikam GmbH": "Sending to BVNK failed (upload document)",
        "Stale Draft Ltd": "Draft untouched for 9 days",
    }
    # The customer page's checklist asks for the same document, in the same words.
    checklist = requirements.checklist(queue["asked"])
    assert [item.label for item in checklist] == ["Upload Company proof of address — Contoso Ltd"]
    page = rows(client, tab="waiting").content.decode()
    assert "Why it waits on us" in page and "Draft untouched for 9 days" in page


def test_stale_drafts_follow_the_setting(client, viewer, queue, settings):
    settings.WORK_QUEUE_STALE_DRAFT_DAYS = 10
    client.force_login(viewer)
    assert "Stale Draft Ltd" not in row_names(client, tab="waiting")
    settings.WORK_QUEUE_STALE_DRAFT_DAYS = 1
    assert "Stale Draft Ltd" in row_names(client, tab="waiting")


def test_needs_attention_is_part_of_waiting_on_us(client, viewer, queue):
    """The old "Needs attention" tab never disagrees: each of its customers waits on us."""
    refused = company_draft(legal_name="Refused Ltd", submission_count=1)
    refused.submission_errors = {"message": "invalid", "other": {"x": ["is invalid"]}}
    refused.save()
    requirements.summary_refresh(refused)
    client.force_login(viewer)
    attention = set(row_names(client, tab="attention"))
    assert attention == {"Fabrikam GmbH", "Refused Ltd"}
    waiting = reasons(client, tab="waiting")
    assert attention <= set(waiting)
    # The refused field is named, not BVNK's words (which may echo a personal value).
    assert waiting["Refused Ltd"] == "BVNK refused the submission: x"
    assert int(tab_count(client, "waiting")) == len(waiting)


def test_reasons_are_kept_current_by_the_services(queue):
    """The stored reason follows what BVNK says, through the one write path."""
    asked = queue["asked"]
    services.customer_record_bvnk_details(
        asked, observed_at=timezone.now(), info_required={"questionnaireCodes": ["Q-1"]}
    )
    asked.refresh_from_db()
    assert asked.waiting_reason == "BVNK asks for: Q 1"  # the checklist's title for Q-1
    services.customer_apply_bvnk_status(
        asked, S.PENDING, observed_at=timezone.now(), source=StatusChange.Source.WEBHOOK
    )
    asked.refresh_from_db()
    assert asked.waiting_reason == ""


# -- assignee and Mine -----------------------------------------------------------------


def test_assign_to_me_and_unassign_are_posts_and_audited(client, agent, lead):
    customer = make_company(legal_name="Contoso Ltd")
    client.force_login(agent)
    url = reverse("customers:assign", args=[customer.pk])
    assert client.get(url).status_code == 405
    response = client.post(url)
    assert response.status_code == 302
    customer.refresh_from_db()
    assert customer.assignee == agent
    event = AuditEvent.objects.filter(customer=customer).latest("at")
    assert event.actor == agent and event.summary == "Assigned the customer to themselves"
    detail = client.get(reverse("customers:detail", args=[customer.pk])).content.decode()
    assert "Assigned to you" in detail and "Unassign" in detail
    client.force_login(lead)
    client.post(reverse("customers:unassign", args=[customer.pk]))
    customer.refresh_from_db()
    assert customer.assignee is None
    assert AuditEvent.objects.filter(customer=customer, actor=lead).exists()


def test_viewers_may_not_assign(client, viewer):
    customer = make_company()
    client.force_login(viewer)
    assert client.post(reverse("customers:assign", args=[customer.pk])).status_code == 403
    page = client.get(reverse("customers:detail", args=[customer.pk])).content.decode()
    assert "Assign to me" not in page


def test_mine_lists_what_is_assigned_to_me_and_rows_offer_to_take_the_rest(client, agent, lead):
    mine = make_company(legal_name="Mine Ltd", assignee=agent)
    make_company(legal_name="Theirs Ltd", assignee=lead)
    nobodys = make_company(legal_name="Nobody's Ltd")
    client.force_login(agent)
    assert row_names(client, tab="mine") == ["Mine Ltd"]
    assert tab_count(client, "mine") == "1"
    page = rows(client).content.decode()
    assert page.count("Assign to me") == 2  # not on the row already mine
    assert "Assigned to " + lead.username in page
    # The row's form comes back to the list, filters and all.
    response = client.post(
        reverse("customers:assign", args=[nobodys.pk]), {"next": "/customers/?tab=mine"}
    )
    assert response["Location"] == "/customers/?tab=mine"
    assert sorted(row_names(client, tab="mine")) == ["Mine Ltd", "Nobody's Ltd"]
    # A link elsewhere is not followed.
    response = client.post(
        reverse("customers:assign", args=[mine.pk]), {"next": "https://evil.example/"}
    )
    assert response["Location"] == reverse("customers:detail", args=[mine.pk])


# -- discarding a draft ----------------------------------------------------------------


def test_discard_a_draft_after_confirming(client, agent, django_capture_on_commit_callbacks):
    draft = company_draft(legal_name="Throwaway Ltd")
    make_associate(draft)
    document = add_document(draft, "COMPANY_DOC", "INCORPORATION_CERT")
    stored = document.file.name
    assert private_storage().exists(stored)
    client.force_login(agent)
    url = reverse("customers:discard", args=[draft.pk])
    confirm = client.get(url)
    assert confirm.status_code == 200
    assert "Discard the draft Throwaway Ltd?" in confirm.content.decode()
    assert Customer.objects.filter(pk=draft.pk).exists()  # a GET changes nothing
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url)
    assert response.status_code == 302 and response["Location"] == reverse("customers:list")
    assert not Customer.objects.filter(pk=draft.pk).exists()
    assert not private_storage().exists(stored)
    event = AuditEvent.objects.get(customer_id=draft.pk, actor=agent, action="ACTION")
    assert "Discarded the draft Throwaway Ltd, with 1 document(s)" in event.summary


@pytest.mark.parametrize(
    "fields",
    [{"submission_count": 1}, {"status": S.PENDING, "bvnk_reference": "ref-x"}],
    ids=["refused-after-submission", "at-bvnk"],
)
def test_a_customer_sent_to_bvnk_cannot_be_discarded(client, agent, fields):
    customer = company_draft(**fields)
    client.force_login(agent)
    url = reverse("customers:discard", args=[customer.pk])
    assert client.post(url).status_code == 302
    assert Customer.objects.filter(pk=customer.pk).exists()
    with pytest.raises(services.NotDiscardable):
        services.customer_discard_draft(customer=customer, actor=agent)
    page = client.get(reverse("customers:detail", args=[customer.pk])).content.decode()
    assert "Discard draft" not in page


def test_viewers_may_not_discard(client, viewer):
    draft = company_draft()
    client.force_login(viewer)
    assert client.post(reverse("customers:discard", args=[draft.pk])).status_code == 403
    assert Customer.objects.filter(pk=draft.pk).exists()


# -- draft names -----------------------------------------------------------------------


def test_an_unnamed_draft_reads_as_such_and_sorts_after_named_customers(client, viewer):
    started = dt.datetime(2026, 12, 4, 12, tzinfo=dt.UTC)
    unnamed = Customer.objects.create(type=Customer.Type.COMPANY)
    Customer.objects.filter(pk=unnamed.pk).update(created_at=started)
    unnamed.refresh_from_db()
    person = Customer.objects.create(type=Customer.Type.INDIVIDUAL)
    assert str(unnamed) == "Unnamed company draft (started 4 Dec)"
    assert str(person).startswith("Unnamed individual draft (started ")
    for name in ("Beta Ltd", "Alpha Ltd", "Zeta Ltd"):
        make_company(legal_name=name)
    client.force_login(viewer)
    unnamed_names = {str(unnamed), str(person)}
    ascending = row_names(client, sort="name")
    assert ascending[:3] == ["Alpha Ltd", "Beta Ltd", "Zeta Ltd"]
    assert set(ascending[3:]) == unnamed_names
    descending = row_names(client, sort="-name")
    assert descending[:3] == ["Zeta Ltd", "Beta Ltd", "Alpha Ltd"]
    assert set(descending[3:]) == unnamed_names
    # Keyset pages cross from the named to the unnamed, both ways.
    for sort in ("name", "-name"):
        seen, after = [], ""
        while True:
            page = dashboard.keyset_page(
                Customer.objects.values(*dashboard.LIST_VALUES),
                dashboard.SORT_BY_KEY[sort],
                2,
                after=after,
            )
            seen += [dashboard.row_name(row) for row in page.rows]
            if not page.next_cursor:
                break
            after = page.next_cursor
        assert seen == row_names(client, sort=sort)


def test_a_draft_is_named_once_its_first_step_is_saved(agent):
    draft = services.customer_create_draft(customer_type="COMPANY", actor=agent)
    assert str(draft).startswith("Unnamed company draft")
    services.onboarding_save_step(
        customer=draft, step="company", values={"legal_name": "Typed Ltd"}, actor=agent,
        complete=False,
    )  # fmt: skip
    assert str(Customer.objects.get(pk=draft.pk)) == "Typed Ltd"


# -- search --------------------------------------------------------------------------


def test_search_finds_a_company_by_its_associates_names(client, viewer):
    company = make_company(legal_name="Holding Ltd")
    owner = make_associate(company, first_name="Grace", last_name="Hopper")
    make_company(legal_name="Other Ltd")
    client.force_login(viewer)
    assert row_names(client, q="hopper") == ["Holding Ltd"]
    assert row_names(client, q="grace hop") == ["Holding Ltd"]
    owner.last_name = "Murray"
    owner.save()
    assert row_names(client, q="hopper") == []
    assert row_names(client, q="murray") == ["Holding Ltd"]
    owner.delete()
    assert row_names(client, q="murray") == []


def test_search_finds_a_cut_bvnk_reference_by_its_start(client, viewer):
    make_individual(first_name="Ada", last_name="Lovelace", bvnk_reference="cus_8f3a9c1d2e")
    client.force_login(viewer)
    assert row_names(client, q="cus_8f3a") == ["Ada Lovelace"]
    assert row_names(client, q="8f3a9c") == []


@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL's indexes")
def test_the_new_searches_use_indexes() -> None:
    for q, index in (
        ("hopper", "customer_associate_names_trgm"),
        ("cus_8f3a", "customer_bvnk_ref_prefix_idx"),
    ):
        queryset = Customer.objects.filter(dashboard.search_condition(q)).order_by()
        sql, params = queryset.query.sql_with_params()
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL enable_seqscan = off")
            cursor.execute("EXPLAIN " + sql, params)
            plan = "\n".join(row[0] for row in cursor.fetchall())
        assert index in plan, plan


# -- date ranges -----------------------------------------------------------------------


def test_a_range_that_ends_before_it_starts_is_an_error_on_the_filter(client, viewer):
    make_company(legal_name="Contoso Ltd")
    client.force_login(viewer)
    response = rows(client, created_from="2026-12-04", created_to="2026-12-01")
    page = response.content.decode()
    assert "Created to (1 Dec 2026) is before created from." in page
    assert 'aria-invalid="true"' in page
    assert 'value="2026-12-04"' in page and 'value="2026-12-01"' in page  # nothing lost
    assert [row.name for row in response.context["rows"]] == ["Contoso Ltd"]
    fine = rows(client, created_from="2026-12-01", created_to="2026-12-04").content.decode()
    assert "is before" not in fine


# -- in-app notifications --------------------------------------------------------------


def test_status_changes_reach_the_assignee_and_watchers(client, agent, lead, viewer):
    for user, address in ((agent, "agent@partner.example"), (viewer, "viewer@partner.example")):
        user.email = address
        user.save()
    customer = make_company(legal_name="Contoso Ltd", status=S.PENDING, assignee=agent)
    client.force_login(viewer)
    client.post(reverse("customers:watch", args=[customer.pk]), {"watch": "1"})
    assert list(customer.watchers.all()) == [viewer]
    watched = AuditEvent.objects.get(customer=customer, actor=viewer)
    assert watched.summary == "Started watching the customer"
    services.customer_apply_bvnk_status(
        customer, S.INFO_REQUIRED, observed_at=timezone.now(), source="WEBHOOK"
    )
    # One line per cause: the status change says what BVNK asks for with it.
    told = StaffNotification.objects.all()
    assert sorted(note.user.username for note in told) == sorted([agent.username, viewer.username])
    assert {note.message for note in told} == {
        "Contoso Ltd is now info required (was pending review). BVNK needs more information."
    }
    email = StatusChange.objects.get(customer=customer).notification_set.get()
    assert {"agent@partner.example", "viewer@partner.example"} <= set(email.recipients)
    # The bell counts it; the page lists it, opening its customer.
    page = client.get(reverse("customers:list")).content.decode()
    bell = page.split('id="notifications-bell"')[1].split("</a>")[0]
    assert '<span class="count">1</span>' in bell
    assert client.get(reverse("customers:notifications-unread")).json() == {"unread": 1}
    notes = client.get(reverse("customers:notifications")).content.decode()
    assert "Contoso Ltd is now info required" in notes and "Open Contoso Ltd" in notes
    note = StaffNotification.objects.get(user=viewer)
    opened = client.post(reverse("customers:notification-read", args=[note.pk]), {"open": "1"})
    assert opened["Location"] == reverse("customers:detail", args=[customer.pk])
    page = client.get(reverse("customers:list")).content.decode()
    assert '<span class="count">' not in page.split('id="notifications-bell"')[1].split("</a>")[0]
    assert client.get(reverse("customers:notifications-unread")).json() == {"unread": 0}
    # BVNK then asks for something new without a status change: a line of its own.
    services.customer_record_bvnk_details(customer, observed_at=timezone.now(), info_required=PROOF)
    later = StaffNotification.objects.get(user=viewer, read_at__isnull=True)
    assert later.kind == "REQUEST" and later.message.startswith("Contoso Ltd: BVNK asks for:")
    # Unwatching stops them.
    client.post(reverse("customers:watch", args=[customer.pk]), {"watch": "0"})
    assert not customer.watchers.exists()
    services.customer_apply_bvnk_status(
        customer, S.PENDING, observed_at=timezone.now(), source="WEBHOOK"
    )
    assert StaffNotification.objects.filter(user=viewer).count() == 2
    assert StaffNotification.objects.filter(user=agent).count() == 3


def test_bvnk_requests_reach_the_assignee_once(agent):
    customer = make_company(legal_name="Contoso Ltd", status=S.INFO_REQUIRED, assignee=agent)
    for _ in range(2):
        services.customer_record_bvnk_details(
            customer, observed_at=timezone.now(), info_required=PROOF
        )
    request = StaffNotification.objects.get(user=agent, kind="REQUEST")
    assert request.message == "Contoso Ltd: BVNK asks for: Company proof of address — Contoso Ltd"


def test_nobody_is_told_of_their_own_change(agent):
    draft = company_draft(assignee=agent)
    services.customer_change_status(draft, S.SUBMITTING, source="STAFF", actor=agent)
    assert not StaffNotification.objects.exists()


def test_the_bells_count_is_the_users_own_and_never_cached(client, agent, lead, viewer):
    customer = make_company()
    for user, count in ((agent, 2), (lead, 1)):
        for i in range(count):
            StaffNotification.objects.create(
                user=user, customer=customer, kind="STATUS", key=f"{user.pk}-{i}", message="x"
            )
    url = reverse("customers:notifications-unread")
    assert client.get(url)["Location"].startswith(reverse("login"))
    client.force_login(agent)
    answer = client.get(url, HTTP_X_PORTAL_LIVE="1")
    assert answer.json() == {"unread": 2} and answer["Cache-Control"] == "no-store"
    assert client.post(url).status_code == 405
    StaffNotification.objects.filter(user=agent).update(read_at=timezone.now())
    assert client.get(url).json() == {"unread": 0}
    client.force_login(viewer)
    assert client.get(url).json() == {"unread": 0}
    # Every page carries the script that asks, and where to ask.
    page = client.get(reverse("customers:list")).content.decode()
    assert f'data-unread-url="{url}"' in page and "js/bell.js" in page


def test_mark_one_and_all_read(client, agent, lead):
    customer = make_company()
    notes = [
        StaffNotification.objects.create(
            user=agent, customer=customer, kind="STATUS", key=f"k{i}", message=f"Note {i}"
        )
        for i in range(3)
    ]
    theirs = StaffNotification.objects.create(
        user=lead, customer=customer, kind="STATUS", key="k", message="Lead's"
    )
    client.force_login(agent)
    read = reverse("customers:notification-read", args=[notes[0].pk])
    assert client.get(read).status_code == 405
    client.post(read)
    assert StaffNotification.objects.filter(user=agent, read_at__isnull=True).count() == 2
    assert client.post(reverse("customers:notification-read", args=[theirs.pk])).status_code == 404
    opened = client.post(reverse("customers:notification-read", args=[notes[1].pk]), {"open": "1"})
    assert opened["Location"] == reverse("customers:detail", args=[customer.pk])
    client.post(reverse("customers:notifications-read-all"))
    assert not StaffNotification.objects.filter(user=agent, read_at__isnull=True).exists()
    theirs.refresh_from_db()
    assert theirs.read_at is None


@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL's indexes")
def test_name_sorts_and_waiting_on_us_read_their_indexes(viewer) -> None:
    """Each reads an index in its order, so a page stays a short scan at a million rows."""

    def plan(queryset) -> str:
        sql, params = queryset.values("pk")[:26].query.sql_with_params()
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL enable_seqscan = off")
            cursor.execute("SET LOCAL enable_sort = off")
            cursor.execute("EXPLAIN " + sql, params)
            return "\n".join(row[0] for row in cursor.fetchall())

    for key, index in (("name", "customer_name_idx"), ("-name", "customer_name_desc_idx")):
        sort = dashboard.SORT_BY_KEY[key]
        ordered = Customer.objects.order_by(*dashboard._order(sort, descending=sort.descending))
        assert f"Index Only Scan {'Backward ' if sort.descending else ''}using {index}" in plan(
            ordered
        )
    waiting = Customer.objects.filter(requirements.waiting_on_us(timezone.now()))
    assert "customer_waiting_idx" in plan(waiting.order_by("-created_at", "-id"))
    mine = Customer.objects.filter(assignee=viewer)
    assert "customer_assignee_idx" in plan(mine.order_by("-created_at", "-id"))


def test_the_audience_is_told_once_and_never_inactive_accounts(agent, lead, viewer) -> None:
    customer = make_company(legal_name="Contoso Ltd", status=S.PENDING, assignee=agent)
    other = make_company()
    for user in (agent, lead, viewer):
        customer.watchers.add(user)
        other.watchers.add(user)  # watching others too: no duplicate from the join
    viewer.is_active = False
    viewer.save()
    assert [user.pk for user in notifications.audience(customer).users] == sorted(
        [agent.pk, lead.pk]
    )
    services.customer_change_status(customer, S.VERIFIED, source="WEBHOOK")
    told = StaffNotification.objects.filter(customer=customer)
    assert sorted(note.user_id for note in told) == sorted([agent.pk, lead.pk])


def test_an_unassigned_customer_tells_whoever_added_it_in_the_portal(agent, lead) -> None:
    """Nobody assigned: the person who onboarded it is its handler, and sees it move."""
    customer = make_company(legal_name="Added Ltd", status=S.PENDING, created_by=agent)
    services.customer_change_status(customer, S.VERIFIED, source="WEBHOOK")
    assert [note.user_id for note in StaffNotification.objects.filter(customer=customer)] == [
        agent.pk
    ]
    # Once assigned, the assignee handles it; the one who added it is told by email only.
    services.customer_assign(customer=customer, assignee=lead, actor=lead)
    services.customer_change_status(customer, S.ACTIONS_REQUIRED, source="WEBHOOK")
    latest = StaffNotification.objects.filter(customer=customer).order_by("-pk").first()
    assert latest is not None and latest.user_id == lead.pk
    assert notifications.audience(Customer.objects.get(pk=customer.pk)).users == [lead]


def test_a_draft_is_named_as_soon_as_its_name_is_typed(client, agent, reference_lists):
    """A refused first step still names the draft: the rest waits, the name does not."""
    draft = services.customer_create_draft(customer_type="COMPANY", actor=agent)
    client.force_login(agent)
    url = reverse("customers:onboarding-step", args=[draft.pk, "company"])
    response = client.post(url, {"legal_name": "Typed Early Ltd", "action": "continue"})
    assert response.status_code == 200  # the step's other fields are still asked for
    assert "errorlist" in response.content.decode()
    assert str(Customer.objects.get(pk=draft.pk)) == "Typed Early Ltd"
    assert row_names(client) == ["Typed Early Ltd"]
    # A name that is refused is not kept.
    client.post(url, {"legal_name": "<b>Bold</b>", "action": "continue"})
    assert str(Customer.objects.get(pk=draft.pk)) == "Typed Early Ltd"


def test_only_a_new_request_from_bvnk_is_a_new_notification() -> None:
    asks = requirements.ASKS_FOR
    assert requirements.asks_for_more("", asks + "Passport")
    assert requirements.asks_for_more(asks + "Passport", asks + "Passport, Proof of address")
    # Staff answered part of it: what is left was asked for already.
    assert not requirements.asks_for_more(asks + "Passport, Proof of address", asks + "Passport")
    assert not requirements.asks_for_more(asks + "Passport", asks + "Passport")
    assert requirements.asks_for_more("Sending to BVNK failed (upload document)", asks + "Passport")
    # All of it answered, BVNK not yet moved on: the general reason that is left is no news.
    assert not requirements.asks_for_more(asks + "Passport", "BVNK needs more information")
    assert requirements.asks_for_more("Waiting for BVNK review", "BVNK needs more information")
    assert requirements.asks_for_more("BVNK needs more information", asks + "Passport")
