"""What the admins build on: big tables without COUNT(*), read-only rows, tax search."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.admin.utils import get_fields_from_path, lookup_spawns_duplicates
from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet
from django.http import HttpRequest
from django.utils.text import smart_split, unescape_string_literal

from .. import crypto
from ..bvnk.errors import BvnkError
from ..dashboard.counting import EstimatedCountPaginator


class BigTableAdmin(admin.ModelAdmin):
    """A changelist over a table that grows without bound: no COUNT(*) of it per page.

    The filtered count is exact up to a cap and estimated beyond it; the unfiltered total
    ("of N") is not shown at all.
    """

    show_full_result_count = False
    paginator = EstimatedCountPaginator
    # Facet counts are one COUNT per filter choice over the whole table.
    show_facets = admin.ShowFacets.NEVER

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Any], search_term: str
    ) -> tuple[QuerySet[Any], bool]:
        """Search so that indexes serve it: `=field` is a case-sensitive exact match of the
        whole term (Django's `iexact` wraps the column in UPPER() and misses its unique
        index), other fields `icontains` each word (trigram indexes where they exist)."""
        term = search_term.strip()
        fields = list(self.get_search_fields(request))
        if not term or not fields:
            return queryset, False
        exact = Q()
        for name in (f[1:] for f in fields if f.startswith("=")):
            field = get_fields_from_path(self.model, name)[-1]
            try:
                value = field.to_python(term)
            except ValidationError:
                continue  # e.g. not a UUID: this field cannot hold the term
            exact |= Q(**{name: value})
        words = Q()
        text_fields = [f for f in fields if not f.startswith("=")]
        for word in smart_split(term):
            if word[0] in "\"'" and word[0] == word[-1] and len(word) > 1:
                word = unescape_string_literal(word)
            any_field = Q()
            for name in text_fields:
                any_field |= Q(**{f"{name}__icontains": word})
            words &= any_field
        condition = exact | words if text_fields else exact
        if not condition:
            return queryset.none(), False
        duplicates = any(lookup_spawns_duplicates(self.opts, f.lstrip("=")) for f in fields)
        return queryset.filter(condition), duplicates


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return self.fields


class TaxNumberSearchAdmin(admin.ModelAdmin):  # type: ignore[type-arg]  # a mixin for several models
    """Also find rows by an exact tax number or email address, through their keyed hashes.

    Both are encrypted (customers/crypto.py), so only whole values can match.
    """

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Any], search_term: str
    ) -> tuple[QuerySet[Any], bool]:
        results, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        indexes = crypto.blind_indexes(search_term)
        if indexes:
            results |= queryset.filter(tax_number_hash__in=indexes)
        if "@" in search_term:
            results |= queryset.filter(email_hash__in=crypto.blind_indexes(search_term, "email"))
        return results, may_have_duplicates


class AppendOnlyAdmin(admin.ModelAdmin):
    """History rows: readable by staff, never edited or deleted by hand."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class OperateActionsAdmin(admin.ModelAdmin):  # type: ignore[type-arg]  # a mixin for several models
    """Operations actions (permission "operate": `operate_customer`), each calling BVNK
    inline for at most ACTION_LIMIT rows, so one request stays bounded."""

    ACTION_LIMIT = 50

    def has_operate_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("customers.operate_customer")

    def _bounded(self, request: HttpRequest, queryset: QuerySet[Any]) -> list[Any]:
        rows = list(queryset.order_by("pk")[: self.ACTION_LIMIT + 1])
        if len(rows) > self.ACTION_LIMIT:
            self.message_user(
                request, f"Only the first {self.ACTION_LIMIT} were run.", level="warning"
            )
        return rows[: self.ACTION_LIMIT]

    def _resync_each(
        self, request: HttpRequest, rows: list[Any], resync: Any, noun: str = ""
    ) -> None:
        """Resync each row from BVNK (`resync(row, actor=...)`); say how many were read."""
        done, failed = 0, 0
        for row in rows:
            try:
                resync(row, actor=request.user)
            except BvnkError:
                failed += 1
            else:
                done += 1
        self.message_user(request, f"Resynced {done}{noun} from BVNK; {failed} could not be read.")
