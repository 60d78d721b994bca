"""Wallets as BVNK reports them: read here, changed only by BVNK (or a resync from it)."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from ..models import Wallet, WalletStatusChange
from ..services import reconcile as sync
from .base import AppendOnlyAdmin, BigTableAdmin, OperateActionsAdmin, ReadOnlyInline


class WalletStatusChangeInline(ReadOnlyInline):
    model = WalletStatusChange
    fields = ["changed_at", "old_status", "new_status", "source", "actor", "source_reference"]


@admin.register(Wallet)
class WalletAdmin(OperateActionsAdmin, AppendOnlyAdmin, BigTableAdmin):
    """Never added, edited or deleted here: BVNK is the truth about a wallet."""

    list_display = ["__str__", "currency", "kind", "status", "bvnk_id", "last_heard_at"]
    list_filter = ["status", "kind", "currency"]
    search_fields = ["=bvnk_id", "customer__search_name"]
    list_select_related = ["customer"]
    actions = ["resync"]
    inlines = [WalletStatusChangeInline]
    # The account details are personal data: shown only on the customer page, where each
    # showing is audited, never here.
    fields = readonly_fields = (
        "customer_link",
        "name",
        "currency",
        "kind",
        "profile_id",
        "methods",
        "status",
        "bvnk_id",
        "created_by",
        "created_at",
        "status_changed_at",
        "last_heard_at",
        "last_event_at",
    )

    @admin.display(description="Customer")
    def customer_link(self, wallet: Wallet) -> str:
        url = reverse("customers:detail", args=[wallet.customer_id]) + "?tab=wallets"
        return format_html('<a href="{}">{}</a> (account details there)', url, wallet.customer)

    @admin.action(description="Resync from BVNK", permissions=["operate"])
    def resync(self, request: HttpRequest, queryset: QuerySet[Wallet]) -> None:
        wallets = self._bounded(request, queryset.exclude(bvnk_id=None).select_related("customer"))
        self._resync_each(request, wallets, sync.wallet_resync, noun=" wallet(s)")
        if skipped := queryset.filter(bvnk_id=None).count():
            self.message_user(
                request, f"{skipped} not yet confirmed by BVNK were left to their creation."
            )
