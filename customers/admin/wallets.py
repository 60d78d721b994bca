"""Wallets as BVNK reports them: read here, changed only by BVNK (or a resync from it)."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from ..bvnk.errors import BvnkError
from ..models import Wallet, WalletStatusChange
from ..services import reconcile as sync
from .base import AppendOnlyAdmin, BigTableAdmin, ReadOnlyInline


class WalletStatusChangeInline(ReadOnlyInline):
    model = WalletStatusChange
    fields = ["changed_at", "old_status", "new_status", "source", "actor", "source_reference"]


@admin.register(Wallet)
class WalletAdmin(AppendOnlyAdmin, BigTableAdmin):
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

    def has_operate_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("customers.operate_customer")

    # Each resync calls BVNK inline: keep one request bounded.
    ACTION_LIMIT = 50

    @admin.action(description="Resync from BVNK", permissions=["operate"])
    def resync(self, request: HttpRequest, queryset: QuerySet[Wallet]) -> None:
        wallets = list(
            queryset.exclude(bvnk_id=None).select_related("customer")[: self.ACTION_LIMIT + 1]
        )
        if len(wallets) > self.ACTION_LIMIT:
            self.message_user(
                request,
                f"More than {self.ACTION_LIMIT} selected: nothing was resynced. Select fewer.",
                level="error",
            )
            return
        done, failed = 0, 0
        for wallet in wallets:
            try:
                sync.wallet_resync(wallet, actor=request.user)
            except BvnkError:
                failed += 1
            else:
                done += 1
        skipped = queryset.filter(bvnk_id=None).count()
        message = f"Resynced {done} wallet(s) from BVNK; {failed} could not be read."
        if skipped:
            message += f" {skipped} not yet confirmed by BVNK were left to their creation."
        self.message_user(request, message)
