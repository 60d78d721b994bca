"""The customer page as a case view: its tabs, one entry each, in the order shown.

Another section is one more `Tab` here and its template; the page, the tab list, the
keyboard handling (static/js/tabs.js) and the no-JavaScript links (`?tab=`) follow.
"""

from __future__ import annotations

from dataclasses import dataclass

from .models import Customer


@dataclass(frozen=True)
class Tab:
    slug: str  # the ?tab= value and the panel's id
    label: str
    template: str
    companies_only: bool = False


TABS: tuple[Tab, ...] = (
    Tab("overview", "Overview", "customers/case/_overview.html"),
    Tab("requests", "Requests", "customers/case/_requests.html"),
    Tab("documents", "Documents", "customers/case/_documents.html"),
    Tab("people", "People", "customers/case/_people.html", companies_only=True),
    Tab("wallets", "Wallets", "customers/case/_wallets.html"),
    Tab("activity", "Activity", "customers/case/_activity.html"),
    Tab("details", "Details", "customers/case/_details.html"),
)


def tabs_for(customer: Customer) -> list[Tab]:
    """The tabs a customer's page shows."""
    return [tab for tab in TABS if customer.is_company or not tab.companies_only]


def selected_tab(tabs: list[Tab], requested: str | None) -> Tab:
    """The tab asked for in the query string, or the first one."""
    return next((tab for tab in tabs if tab.slug == requested), tabs[0])
