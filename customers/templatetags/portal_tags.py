"""Template helpers for staff pages."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from django import template
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

register = template.Library()


@register.filter
def age(value: dt.datetime | None, now: dt.datetime | None = None) -> str:
    """How long ago, in one unit: "12 min", "5 h", "3 days", "4 mo"."""
    if value is None:
        return ""
    seconds = max(0, int(((now or timezone.now()) - value).total_seconds()))
    if seconds < 3600:
        return f"{max(1, seconds // 60)} min"
    if seconds < 86400:
        return f"{seconds // 3600} h"
    days = seconds // 86400
    if days < 60:
        return f"{days} day{'' if days == 1 else 's'}"
    return f"{days // 30} mo"


@register.filter
def day(value: dt.datetime | None) -> str:
    """The local date, "27 Nov 2026": cheaper than |date for a long table."""
    if value is None:
        return ""
    local = timezone.localtime(value)
    return f"{local.day} {local:%b %Y}"


ROW = (
    '<tr{}><td><a href="{}">{}</a><div class="sub">{}{}</div></td>'
    '<td><span class="status status-{}">{}</span>'
    '<div class="sub"><time datetime="{}">for {}</time></div></td>'
    "<td>{}{}{}</td>"
    '<td class="mono ref" title="{}">{}</td>'
    '<td class="nowrap"><time datetime="{}">{}</time>{}</td></tr>'
)


@register.simple_tag
def customer_rows(rows: Iterable[Any]) -> SafeString:
    """My customers' table body (dashboard.ListRow), built in Python: the page's hot loop,
    several times faster than the same markup as a template loop."""
    attention = mark_safe('<span class="flag">Needs attention</span> ')
    return format_html_join(
        "\n",
        ROW,
        (
            (
                mark_safe(' class="attention"') if row.needs_attention else "",
                row.url,
                row.name,
                row.type_label,
                format_html(
                    ' · <a href="{}">Resume<span class="visually-hidden"> {}</span></a>',
                    row.resume_url,
                    row.name,
                )
                if row.resume_url
                else "",
                row.status,
                row.status_label,
                row.changed_at,
                row.age,
                attention if row.needs_attention else "",
                row.summary or "—",
                format_html(' <span class="muted">for {}</span>', row.age)
                if row.waiting_on_bvnk
                else "",
                row.bvnk_reference,
                row.bvnk_reference or "—",
                row.created_at,
                row.created_day,
                format_html('<div class="sub">by {}</div>', row.owner) if row.owner else "",
            )
            for row in rows
        ),
    )
