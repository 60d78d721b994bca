"""My customers' CSV export: its columns and rows, each cell safe to open in a spreadsheet.

The rows to export (the filtered list, in its sort order) come from
`dashboard.export_queryset`; `dashboard_views.customer_export` streams them.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.db.models import QuerySet

from ..models import Customer

EXPORT_COLUMNS = (
    "Name",
    "Type",
    "Status",
    "In status since",
    "Waiting on",
    "What is blocking",
    "Needs attention",
    "Wallets",
    "Email",
    "Our reference",
    "BVNK reference",
    "Created",
    "Created by",
    "Link",
)
# Spreadsheet apps run a cell starting with one of these as a formula (CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n")


def safe_cell(value: Any) -> str:
    """Return a CSV cell a spreadsheet shows as text, never runs as a formula (OWASP)."""
    text = "" if value is None else str(value)
    if text.startswith(FORMULA_STARTS):
        return "'" + text
    return text


def export_rows(
    queryset: QuerySet[Customer], *, link: Any, chunk_size: int = 2000
) -> Iterator[list[str]]:
    """Yield the header, then one row per customer, reading `chunk_size` rows at a time."""
    yield list(EXPORT_COLUMNS)
    for customer in queryset.iterator(chunk_size=chunk_size):
        yield [
            safe_cell(value)
            for value in (
                str(customer),
                customer.get_type_display(),
                customer.get_status_display(),
                customer.status_changed_at.isoformat(),
                customer.get_waiting_on_display() if customer.waiting_on else "",
                customer.blocking_summary,
                "yes" if customer.needs_attention else "",
                f"{customer.wallets_active} / {customer.wallets_total}",
                customer.email,
                customer.external_reference,
                customer.bvnk_reference or "",
                customer.created_at.isoformat(),
                customer.created_by.get_username() if customer.created_by else "",
                link(customer),
            )
        ]
