"""Counting customers at any size: exact up to a cap, estimated beyond it from PostgreSQL.

My customers' tab and result counts (`listing.py`) and the admin's paginator
(`EstimatedCountPaginator`, `customers/admin/base.py`) both count this way, so neither runs
COUNT(*) over a million rows: one query of capped sub-counts, plus pg_stats and EXPLAIN
for the estimates. Other databases get no estimates: past the cap the admin counts
exactly and My customers says "1,000+".
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.core.cache import cache
from django.core.paginator import Paginator
from django.db import connection
from django.db.models import QuerySet
from django.utils.functional import cached_property

from ..models import Customer

# Counts up to this are exact; above it the page says "about N" from statistics.
COUNT_CAP = 1000
# pg_stats only changes when the table is analysed (autovacuum does, minutes apart), so
# its estimates are kept this long instead of being read for every page.
ESTIMATES_SECONDS = 60


@dataclass(frozen=True)
class Count:
    """An exact count up to the cap; above it an estimate (None when there is none), or
    for a search only what is known: more than the rows shown (`at_least`)."""

    exact: int | None
    estimate: int | None = None
    at_least: int | None = None

    @property
    def capped(self) -> bool:
        return self.exact is None

    def __str__(self) -> str:
        if self.exact is not None:
            return f"{self.exact:,}"
        if self.estimate is not None:
            return f"≈ {_round(max(self.estimate, COUNT_CAP + 1))}"
        return f"{COUNT_CAP:,}+"


def _round(n: int) -> str:
    """Round an estimate to what it is worth: 1,234,567 -> "1.2M", 123,456 -> "123k"."""
    if n >= 1_000_000:
        return f"{n / 1_000_000:.1f}M"
    if n >= 10_000:
        return f"{round(n / 1000)}k"
    return f"{round(n, -2):,}"


def capped_counts(
    querysets: Sequence[QuerySet[Customer] | None], cap: int = COUNT_CAP
) -> list[int | None]:
    """Count each queryset up to cap + 1 rows (index-only scans), all in one query.

    A None (a count not needed) stays None. The query runs even when nothing is to be
    counted, so a page makes the same queries whatever the data.
    """
    parts: list[str] = []
    params: list[Any] = []
    for index, queryset in enumerate(querysets):
        if queryset is None:
            parts.append("NULL")
            continue
        if queryset.query.is_empty():
            parts.append("0")
            continue
        sql, query_params = queryset.order_by().values("pk")[: cap + 1].query.sql_with_params()
        # Only the ORM's own SQL is interpolated; values travel as parameters.
        parts.append(f"(SELECT COUNT(*) FROM ({sql}) AS capped_{index})")  # noqa: S608
        params.extend(query_params)
    with connection.cursor() as cursor:
        cursor.execute("SELECT " + ", ".join(parts or ["NULL"]), params)
        row = cursor.fetchone()
    return [None if value is None else int(value) for value in row]


def _pg_array(text: str | None) -> list[str]:
    """Parse pg_stats' most_common_vals (anyarray as text); the values here are plain."""
    if not text:
        return []
    return [item.strip('"') for item in text.strip("{}").split(",") if item]


def column_estimates() -> dict[tuple[str, str], int]:
    """Estimated rows per (column, value) for `status` and `needs_attention`, from pg_stats.

    One catalogue query, cached for ESTIMATES_SECONDS; {} on other databases or before
    the table was analysed.
    """
    if connection.vendor != "postgresql":
        return {}
    key = f"customers:column-estimates:{connection.settings_dict['NAME']}"
    estimates: dict[tuple[str, str], int] | None = cache.get(key)
    if estimates is None:
        estimates = _read_column_estimates()
        cache.set(key, estimates, ESTIMATES_SECONDS)
    return estimates


def _read_column_estimates() -> dict[tuple[str, str], int]:
    table = Customer._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT (SELECT reltuples FROM pg_class WHERE oid = to_regclass(%s)),
                   attname, most_common_vals::text, most_common_freqs
            FROM (SELECT 1) AS one
            LEFT JOIN pg_stats ON schemaname = current_schema() AND tablename = %s
                AND attname IN ('status', 'needs_attention')
            """,
            [table, table],
        )
        rows = cursor.fetchall()
    estimates: dict[tuple[str, str], int] = {}
    for reltuples, column, values, freqs in rows:
        if reltuples is None or reltuples < 0:
            continue
        estimates[("*", "*")] = int(reltuples)
        if column:
            for value, freq in zip(_pg_array(values), freqs or [], strict=False):
                estimates[(column, value)] = int(reltuples * freq)
    return estimates


def explain_estimate(queryset: QuerySet[Customer]) -> int | None:
    """PostgreSQL's planner estimate of a queryset's rows (EXPLAIN, nothing executed)."""
    if connection.vendor != "postgresql" or queryset.query.is_empty():
        return None
    sql, params = queryset.order_by().values("pk").query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (FORMAT JSON) " + sql, params)
        plan = cursor.fetchone()[0]
    if isinstance(plan, str):
        plan = json.loads(plan)
    return int(plan[0]["Plan"]["Plan Rows"])


# -- the admin's paginator -------------------------------------------------------------


class EstimatedCountPaginator(Paginator):
    """A paginator that counts exactly up to a cap and estimates beyond it (PostgreSQL).

    The admin shows "about N" pages on big tables instead of COUNT(*)-ing a million rows
    on every changelist; on SQLite the count stays exact.
    """

    cap = 10_000

    @cached_property
    def count(self) -> int:
        queryset = self.object_list
        if not isinstance(queryset, QuerySet):
            return len(queryset)
        (n,) = capped_counts([queryset], cap=self.cap)
        estimate = explain_estimate(queryset)
        if n is not None and n <= self.cap:
            return n
        if estimate is None:
            return queryset.count()
        return max(estimate, self.cap + 1)
