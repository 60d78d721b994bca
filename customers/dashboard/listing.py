"""My customers: who a user may see, the list's filters, pages and counts, at any size.

Built to stay fast with a million customers on PostgreSQL:

- `customers_for(user)` (in models, so every page can use it) scopes every customer query;
- pages are keyset-paginated (`after`/`before` cursors over the sort column and id, each
  sort backed by an index), so no page needs COUNT(*) or a large OFFSET;
- counts are exact up to `COUNT_CAP` (one query of capped sub-counts) and estimated
  beyond it from PostgreSQL's statistics (pg_stats for the tabs, EXPLAIN for a filtered
  list), so a page runs the same queries at ten rows and at a million (the counting is in
  `counting.py`, shared with the admin's paginator);
- search is `icontains` on the denormalised `search_name` and `associate_names`, which
  PostgreSQL serves from trigram GIN indexes on UPPER(...) (migrations 0006 and 0011),
  a prefix of BVNK's reference (a pattern index), our reference exactly, and a full email
  address through its keyed hash (emails are encrypted).

Saved views are here too; the CSV export's columns and cells are in
`csv_export.py`.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import urlencode

from django import forms
from django.contrib.auth import get_user_model
from django.db.models import BooleanField, ExpressionWrapper, F, Func, Q, QuerySet, Value
from django.db.models.expressions import OrderBy
from django.db.models.fields import CharField
from django.http import QueryDict
from django.urls import reverse
from django.utils import timezone
from django.utils.functional import cached_property

from .. import crypto, requirements, roles
from ..models import Associate, Customer, SavedView, customers_for
from ..models.customers import unnamed_draft
from ..onboarding.forms import DateInput
from ..templatetags.portal_tags import age, day
from . import counting

S = Customer.Status

PAGE_SIZES = (25, 50, 100)


# -- tabs --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Tab:
    key: str
    label: str
    condition: Q
    # The work queue's tabs depend on who looks, and when.
    dynamic: Callable[[Any, dt.datetime], Q] | None = None

    def where(self, user: Any, now: dt.datetime) -> Q:
        return self.dynamic(user, now) if self.dynamic else self.condition


def _waiting_on_us(user: Any, now: dt.datetime) -> Q:
    return requirements.waiting_on_us(now)


def _mine(user: Any, now: dt.datetime) -> Q:
    return Q(assignee=user.pk)


WAITING, MINE = "waiting", "mine"
QUEUE_TABS = frozenset({WAITING, MINE})
TABS: tuple[Tab, ...] = (
    Tab("", "All", Q()),
    Tab(WAITING, "Waiting on us", Q(), _waiting_on_us),
    Tab(MINE, "Mine", Q(), _mine),
    Tab("attention", "Needs attention", Q(needs_attention=True)),
    Tab(S.DRAFT, "Drafts", Q(status=S.DRAFT)),
    Tab(S.INFO_REQUIRED, S.INFO_REQUIRED.label, Q(status=S.INFO_REQUIRED)),
    Tab(S.ACTIONS_REQUIRED, S.ACTIONS_REQUIRED.label, Q(status=S.ACTIONS_REQUIRED)),
    Tab(S.PENDING, S.PENDING.label, Q(status=S.PENDING)),
    Tab(S.VERIFIED, S.VERIFIED.label, Q(status=S.VERIFIED)),
    Tab(S.REJECTED, S.REJECTED.label, Q(status=S.REJECTED)),
    Tab(S.TERMINATED, S.TERMINATED.label, Q(status=S.TERMINATED)),
)
TAB_KEYS = {tab.key for tab in TABS}


# -- sorting -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Sort:
    key: str
    label: str
    field: str
    descending: bool

    @property
    def by_name(self) -> bool:
        return self.field == "search_name"


def _named_first(sort: Sort) -> ExpressionWrapper:
    """The name sorts' leading key, so unnamed drafts come after named customers either way:
    ascending it is "has no name", descending "has a name" (an index for each, models)."""
    unnamed = Q(search_name="")
    return ExpressionWrapper(~unnamed if sort.descending else unnamed, output_field=BooleanField())


def _named_first_value(sort: Sort, name: str) -> bool:
    return bool(name) if sort.descending else not name


SORTS: tuple[Sort, ...] = (
    Sort("-created", "Newest first", "created_at", True),
    Sort("created", "Oldest first", "created_at", False),
    Sort("-changed", "Latest status change", "status_changed_at", True),
    Sort("changed", "Longest in status", "status_changed_at", False),
    Sort("name", "Name A to Z", "search_name", False),
    Sort("-name", "Name Z to A", "search_name", True),
)
SORT_BY_KEY = {sort.key: sort for sort in SORTS}
DEFAULT_SORT = SORTS[0]


# -- filters -----------------------------------------------------------------------------


class CustomerFilterForm(forms.Form):
    """The list's filters, read from the query string; invalid values are ignored."""

    q = forms.CharField(
        required=False,
        max_length=200,
        label="Search",
        help_text="Name, reference or a full email address (the customer's or an associate's).",
    )
    tab = forms.ChoiceField(required=False, choices=[(t.key, t.label) for t in TABS])
    status = forms.ChoiceField(
        required=False, choices=[("", "Any status"), *Customer.Status.choices]
    )
    type = forms.ChoiceField(required=False, choices=[("", "Any type"), *Customer.Type.choices])
    attention = forms.BooleanField(required=False, label="Needs attention only")
    no_wallet = forms.BooleanField(required=False, label="Verified without a wallet")
    created_from = forms.DateField(required=False, widget=DateInput, label="Created from")
    created_to = forms.DateField(required=False, widget=DateInput, label="Created to")
    changed_from = forms.DateField(required=False, widget=DateInput, label="Status changed from")
    changed_to = forms.DateField(required=False, widget=DateInput, label="Status changed to")
    created_by = forms.ChoiceField(required=False, label="Created by")
    sort = forms.ChoiceField(
        required=False, choices=[(s.key, s.label) for s in SORTS], label="Sort by"
    )
    size = forms.TypedChoiceField(
        required=False,
        choices=[(str(n), str(n)) for n in PAGE_SIZES],
        coerce=int,
        empty_value=None,
        label="Per page",
    )

    # The filters that select rows (not sort, size or page): what saved views keep.
    FILTER_NAMES = (
        "q",
        "tab",
        "status",
        "type",
        "attention",
        "no_wallet",
        "created_from",
        "created_to",
        "changed_from",
        "changed_to",
        "created_by",
    )

    def __init__(self, data: QueryDict, *, user: Any, owners: Sequence[Any] = ()) -> None:
        super().__init__(data)
        self.user = user
        owner_field = cast(forms.ChoiceField, self.fields["created_by"])
        owner_field.choices = [
            ("", "Anyone"),
            ("me", "Me"),
            *[(str(o.pk), f"{o.first_name} {o.last_name}".strip() or o.username) for o in owners],
        ]

    @cached_property
    def values(self) -> dict[str, Any]:
        """The valid filters; a field with an invalid value counts as not set."""
        self.is_valid()
        cleaned = getattr(self, "cleaned_data", {})
        values = {name: cleaned.get(name) for name in self.fields if name not in self.errors}
        if not values.get("sort"):
            values["sort"] = DEFAULT_SORT.key
        if not values.get("size"):
            values["size"] = PAGE_SIZES[0]
        return values

    def query_string(self, *, keep: Sequence[str] | None = None, **override: Any) -> str:
        """The filters as a query string (without the cursor), for links and saved views."""
        names = keep if keep is not None else (*self.FILTER_NAMES, "sort", "size")
        values = {**{name: self.values.get(name) for name in names}, **override}
        pairs = []
        for name, value in values.items():
            if value in (None, "", False) or (name == "sort" and value == DEFAULT_SORT.key):
                continue
            if name == "size" and value == PAGE_SIZES[0]:
                continue
            pairs.append((name, "1" if value is True else str(value)))
        return urlencode(pairs)

    @cached_property
    def options(self) -> dict[str, list[tuple[str, str, bool]]]:
        """(value, label, selected) of each select, for a template that renders them by hand
        (Django's widgets cost a template per option, too slow for this page)."""
        selects = {}
        for name in ("status", "type", "sort", "size", "created_by"):
            field = cast(forms.ChoiceField, self.fields[name])
            current = str(self.values.get(name) or "")
            choices = cast(list[tuple[Any, Any]], field.choices)
            selects[name] = [
                (str(value), str(label), str(value) == current) for value, label in choices
            ]
        return selects

    @property
    def more_filters(self) -> bool:
        """Whether a filter beyond search, tab, status and type is set (opens the panel)."""
        extra = (
            "attention",
            "no_wallet",
            "created_from",
            "created_to",
            "changed_from",
            "changed_to",
        )
        return any(self.values.get(name) for name in (*extra, "created_by")) or bool(
            self.date_errors
        )

    # Each date range, (from, to, what it is called).
    RANGES = (
        ("created_from", "created_to", "Created"),
        ("changed_from", "changed_to", "Status changed"),
    )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        for start, end, label in self.RANGES:
            first, last = cleaned.get(start), cleaned.get(end)
            if first and last and first > last:
                # Neither bound applies until the range makes sense; the dates stay typed.
                message = f"{label} to ({last.day} {last:%b %Y}) is before {label.lower()} from."
                self.add_error(end, message)
                self.add_error(start, "The range ends before it starts.")
        return cleaned

    @cached_property
    def date_errors(self) -> dict[str, str]:
        """{field: message} for the date filters that cannot apply (shown on the filter)."""
        self.is_valid()
        names = [name for pair in self.RANGES for name in pair[:2]]
        return {
            name: " ".join(str(error) for error in self.errors[name])
            for name in names
            if name in self.errors
        }


def _start_of(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


def _looks_like_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def search_condition(q: str) -> Q:
    """Match a name fragment (the customer's or an associate's), the start of BVNK's
    reference (the list shows it cut short), our reference exactly, or a full email address.

    `icontains` becomes UPPER(col::text) LIKE UPPER('%q%') on PostgreSQL, the expression
    the trigram indexes of migrations 0006 and 0011 are built on; `startswith` a LIKE 'q%'
    that the reference's pattern index serves. An email address finds the customer whose
    own or whose associate's address it is.
    """
    condition = (
        Q(search_name__icontains=q)
        | Q(associate_names__icontains=q)
        | Q(bvnk_reference__startswith=q)
    )
    if "@" in q:
        hashes = crypto.blind_indexes(q, "email")
        # The associates' matches are read first, so every branch of the OR is an index
        # scan (a subquery inside the OR would make PostgreSQL scan every customer).
        theirs = Associate.objects.filter(email_hash__in=hashes).values_list("customer_id")
        condition |= Q(email_hash__in=hashes) | Q(pk__in=[pk for (pk,) in theirs])
    if _looks_like_uuid(q):
        condition |= Q(external_reference=q)
    return condition


def filter_condition(values: dict[str, Any], *, user: Any, now: dt.datetime | None = None) -> Q:
    """The WHERE of the list for a set of valid filter values."""
    condition = Q()
    now = now or timezone.now()
    tab = values.get("tab") or ""
    if tab in TAB_KEYS:
        condition &= next(t.where(user, now) for t in TABS if t.key == tab)
    if values.get("status"):
        condition &= Q(status=values["status"])
    if values.get("type"):
        condition &= Q(type=values["type"])
    if values.get("attention"):
        condition &= Q(needs_attention=True)
    if values.get("no_wallet"):
        condition &= Q(status=S.VERIFIED, wallets_total=0)
    if values.get("created_from"):
        condition &= Q(created_at__gte=_start_of(values["created_from"]))
    if values.get("created_to"):
        condition &= Q(created_at__lt=_start_of(values["created_to"] + dt.timedelta(days=1)))
    if values.get("changed_from"):
        condition &= Q(status_changed_at__gte=_start_of(values["changed_from"]))
    if values.get("changed_to"):
        condition &= Q(status_changed_at__lt=_start_of(values["changed_to"] + dt.timedelta(days=1)))
    owner = values.get("created_by")
    if owner == "me":
        condition &= Q(created_by=user.pk)
    elif owner:
        condition &= Q(created_by=int(owner))
    if q := (values.get("q") or "").strip():
        condition &= search_condition(q)
    return condition


def owner_choices() -> QuerySet[Any]:
    """Staff who may create customers: the "Created by" filter's choices (a small table)."""
    return (
        get_user_model()
        .objects.filter(groups__name__in=[roles.ONBOARDING_AGENT, roles.COMPLIANCE_LEAD])
        .distinct()
        .order_by("username")
        .values_list("pk", "username", "first_name", "last_name", named=True)
    )


# -- keyset pagination -------------------------------------------------------------------


class Row(Func):
    """A row value, `(a, b)`: compared as a whole, in index order (PostgreSQL and SQLite)."""

    template = "(%(expressions)s)"
    output_field = CharField()


def _order(sort: Sort, *, descending: bool) -> list[OrderBy]:
    """ORDER BY the sort column then id, all the same way (as the indexes are built); the
    name sorts lead with whether there is a name."""
    keys: list[Any] = [F(sort.field), F("id")]
    if sort.by_name:
        keys.insert(0, _named_first(sort))
    if descending:
        return [key.desc() for key in keys]
    return [key.asc() for key in keys]


def encode_cursor(row: Mapping[str, Any], sort: Sort) -> str:
    """The position of a row (its sort value and id), as an opaque token for a link."""
    value = row[sort.field]
    raw = json.dumps([value.isoformat() if isinstance(value, dt.datetime) else value, row["pk"]])
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(token: str, sort: Sort) -> tuple[Any, int] | None:
    """Return (sort value, id) from a cursor, or None when it is not one of ours."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        value, pk = json.loads(raw)
        if sort.field != "search_name":
            value = dt.datetime.fromisoformat(value)
            if timezone.is_naive(value):
                return None
        elif not isinstance(value, str):
            return None
        return value, int(pk)
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
        return None


@dataclass
class Page:
    rows: list[dict[str, Any]]
    next_cursor: str
    previous_cursor: str
    is_first: bool


def keyset_page(
    queryset: QuerySet[Customer, dict[str, Any]],
    sort: Sort,
    size: int,
    *,
    after: str = "",
    before: str = "",
) -> Page:
    """One page of `values()` rows in `sort` order after (or before) a cursor; one query."""
    backwards = bool(before) and not after
    cursor = decode_cursor(before if backwards else after, sort) if (after or before) else None
    # Going backwards reads the index the other way, then turns the rows round.
    descending = sort.descending != backwards
    order = _order(sort, descending=descending)
    rows_qs = queryset.order_by(*order)
    if cursor is not None:
        key = Row(F(sort.field), F("id"))
        bound = Row(Value(cursor[0]), Value(cursor[1]))
        if sort.by_name:
            key = Row(_named_first(sort), F(sort.field), F("id"))
            first = _named_first_value(sort, cursor[0])
            bound = Row(Value(first), Value(cursor[0]), Value(cursor[1]))
        rows_qs = rows_qs.alias(keyset=key).filter(
            **{"keyset__lt" if descending else "keyset__gt": bound}
        )
    rows = list(rows_qs[: size + 1])
    more = len(rows) > size
    rows = rows[:size]
    if backwards:
        rows.reverse()
    has_next = more if not backwards else True
    has_previous = (cursor is not None) if not backwards else more
    return Page(
        rows=rows,
        next_cursor=encode_cursor(rows[-1], sort) if rows and has_next else "",
        previous_cursor=encode_cursor(rows[0], sort) if rows and has_previous else "",
        is_first=not has_previous,
    )


# -- counts --------------------------------------------------------------------------------


def _tab_estimate(tab: Tab, estimates: dict[tuple[str, str], int]) -> int | None:
    if tab.dynamic is not None:
        return None
    if tab.key == "":
        return estimates.get(("*", "*"))
    if tab.key == "attention":
        return estimates.get(("needs_attention", "t"))
    return estimates.get(("status", tab.key))


@dataclass(frozen=True)
class ListRow:
    """One row of My customers, every value ready to print (a long table renders fast)."""

    pk: int
    name: str
    url: str
    resume_url: str
    type_label: str
    status: str
    status_label: str
    changed_at: str  # ISO 8601
    age: str  # how long in the status
    summary: str
    needs_attention: bool
    waiting_on_bvnk: bool
    bvnk_reference: str
    created_at: str
    created_day: str
    owner: str
    wallets: str = ""  # "active / total", once the customer has any
    selectable: bool = False  # a checkbox for the bulk wallet request
    assignee: str = ""
    assign_url: str = ""  # "Assign to me" (POST), for those who may and when it is not theirs


def row_name(row: Mapping[str, Any]) -> str:
    """What str(customer) says, from a values() row (tests/customers/test_dashboard.py)."""
    if row["type"] == Customer.Type.COMPANY:
        name = row["legal_name"]
    else:
        name = f"{row['first_name']} {row['last_name']}".strip()
    return str(name or unnamed_draft(row["type"], row["created_at"]))


def row_reason(row: Mapping[str, Any], now: dt.datetime) -> str:
    """Why a row waits on us, in a sentence (requirements.py says it, as on its page)."""
    if row["waiting_reason"]:
        return str(row["waiting_reason"])
    if row["status"] == S.DRAFT and row["updated_at"] < requirements.stale_draft_cutoff(now):
        return requirements.stale_draft_reason(row["updated_at"], now)
    return str(row["blocking_summary"])


def list_rows(
    rows: Sequence[Mapping[str, Any]],
    *,
    can_edit: bool,
    reasons: bool = False,
    user_pk: int | None = None,
    can_create_wallets: bool = False,
) -> list[ListRow]:
    """Turn a page of values() rows into printable rows; three reverse() calls a page.

    `reasons`: say why each row waits on us (the work queue's tabs) rather than what it
    waits for.
    """
    marker = "999999999999"
    detail = reverse("customers:detail", args=[int(marker)])
    resume = reverse("customers:onboarding-resume", args=[int(marker)])
    assign = reverse("customers:assign", args=[int(marker)])
    now = timezone.now()
    types, statuses = dict(Customer.Type.choices), dict(Customer.Status.choices)
    return [
        ListRow(
            pk=row["pk"],
            name=row_name(row),
            url=detail.replace(marker, str(row["pk"])),
            resume_url=resume.replace(marker, str(row["pk"]))
            if can_edit and row["status"] == S.DRAFT
            else "",
            type_label=str(types.get(row["type"], row["type"])),
            status=row["status"].lower(),
            status_label=str(statuses.get(row["status"], row["status"])),
            changed_at=row["status_changed_at"].isoformat(),
            age=age(row["status_changed_at"], now),
            summary=row_reason(row, now) if reasons else row["blocking_summary"],
            needs_attention=row["needs_attention"],
            waiting_on_bvnk=row["waiting_on"] == Customer.WaitingOn.BVNK,
            bvnk_reference=row["bvnk_reference"] or "",
            created_at=row["created_at"].isoformat(),
            created_day=day(row["created_at"]),
            owner=row["created_by__username"] or "",
            wallets=f"{row['wallets_active']} / {row['wallets_total']}"
            if row["wallets_total"]
            else "",
            selectable=can_create_wallets and row["status"] == S.VERIFIED,
            assignee=row["assignee__username"] or "",
            assign_url=assign.replace(marker, str(row["pk"]))
            if can_edit and row["assignee"] != user_pk
            else "",
        )
        for row in rows
    ]


@dataclass
class Listing:
    """Everything the My customers page shows."""

    form: CustomerFilterForm
    sort: Sort
    page: Page
    tabs: list[tuple[Tab, counting.Count, str]]  # tab, its count, its link
    total: counting.Count
    size: int


# What a row of the list shows, read as values (no model instances: a long page is cheap).
LIST_VALUES = (
    "pk",
    "type",
    "status",
    "status_changed_at",
    "legal_name",
    "first_name",
    "last_name",
    "external_reference",
    "search_name",
    "blocking_summary",
    "waiting_on",
    "needs_attention",
    "bvnk_reference",
    "created_at",
    "created_by__username",
    "updated_at",
    "waiting_reason",
    "assignee",
    "assignee__username",
    "wallets_total",
    "wallets_active",
)
# An estimate this far past the cap is trusted without counting; nearer, rows are counted.
TRUST_ESTIMATE = 10


def customer_listing(user: Any, params: QueryDict) -> Listing:
    """Build the page for a user and a query string, in a fixed number of queries.

    PostgreSQL: the page's rows, the column statistics, one counting query (its
    sub-counts only for what the statistics do not already put far past the cap) and,
    for a filtered list, one EXPLAIN; whatever the size of the table. SQLite: the rows
    and one counting query.
    """
    owners = list(owner_choices())
    form = CustomerFilterForm(params, user=user, owners=owners)
    values = form.values
    scope = customers_for(user)
    sort = SORT_BY_KEY.get(values["sort"], DEFAULT_SORT)
    now = timezone.now()
    filtered = scope.filter(filter_condition(values, user=user, now=now))
    page = keyset_page(
        filtered.values(*LIST_VALUES),
        sort,
        values["size"],
        after=params.get("after", ""),
        before=params.get("before", ""),
    )
    # Tab counts cover the whole scope; the total covers the filters as they are.
    stats = counting.column_estimates()
    tab_estimates = [_tab_estimate(tab, stats) for tab in TABS]
    querysets: list[QuerySet[Customer] | None] = [
        scope.filter(tab.where(user, now)) for tab in TABS
    ]
    unfiltered = not any(values.get(name) for name in CustomerFilterForm.FILTER_NAMES)
    searching = bool(values.get("q"))
    if unfiltered or searching:
        # Unfiltered, the total is the "All" tab's. A search is not counted apart: its
        # matches come from a trigram index scan, which costs the same again to count.
        total_estimate, total_queryset = None, None
    else:
        total_estimate, total_queryset = counting.explain_estimate(filtered), filtered
    estimates = [*tab_estimates, total_estimate]
    counted = counting.capped_counts(
        [
            None if (guess or 0) >= counting.COUNT_CAP * TRUST_ESTIMATE else queryset
            for queryset, guess in zip([*querysets, total_queryset], estimates, strict=True)
        ]
    )
    counts = [
        counting.Count(n)
        if n is not None and n <= counting.COUNT_CAP
        else counting.Count(None, guess)
        for n, guess in zip(counted, estimates, strict=True)
    ]
    if unfiltered:
        counts[-1] = counts[0]
    elif searching:
        shown = len(page.rows)
        whole = page.is_first and not page.next_cursor
        counts[-1] = counting.Count(shown) if whole else counting.Count(None, at_least=shown)
    tabs = [
        (tab, count, form.query_string(tab=tab.key, status=""))
        for tab, count in zip(TABS, counts, strict=False)
    ]
    return Listing(
        form=form, sort=sort, page=page, tabs=tabs, total=counts[-1], size=values["size"]
    )


def export_queryset(user: Any, params: QueryDict) -> tuple[QuerySet[Customer], Sort]:
    """The filtered list, in its sort order, for a CSV export (every page)."""
    form = CustomerFilterForm(params, user=user, owners=list(owner_choices()))
    values = form.values
    sort = SORT_BY_KEY.get(values["sort"], DEFAULT_SORT)
    order = _order(sort, descending=sort.descending)
    queryset = (
        customers_for(user)
        .filter(filter_condition(values, user=user))
        .select_related("created_by")
        # BVNK's copy is one encrypted document per row, and the export reads none of it.
        .defer("bvnk_data")
        .order_by(*order)
    )
    return queryset, sort


# -- saved views (a user's own preferences, not customer data) -----------------------------


def saved_views_for(user: Any) -> QuerySet[SavedView]:
    if not getattr(user, "pk", None):
        return SavedView.objects.none()
    return SavedView.objects.filter(user_id=user.pk)


def saved_view_save(*, user: Any, name: str, query: str) -> SavedView:
    """Keep a named set of filters for a user; a view of the same name is replaced."""
    params = QueryDict(query)
    form = CustomerFilterForm(params, user=user, owners=list(owner_choices()))
    clean = form.query_string(keep=(*CustomerFilterForm.FILTER_NAMES, "sort", "size"))
    view, _ = SavedView.objects.update_or_create(user=user, name=name, defaults={"query": clean})
    return view


def saved_view_delete(*, view: SavedView) -> None:
    view.delete()
