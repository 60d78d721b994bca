"""The work queue's pages: assigning and watching a customer, discarding a draft, and a
user's notifications (the bell in the header).

Each view checks its permission, then `customers_for` for the customer, calls one
service (customers/services/queue.py) and redirects; every change is a POST.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from .. import notifications, services
from ..models import Customer, StaffNotification, customers_for

VIEW = "customers.view_customer"
EDIT = "customers.change_customer"
DISCARD = "customers.discard_draft"
PAGE = 50


def _customer(request: HttpRequest, pk: int) -> Customer:
    return get_object_or_404(customers_for(request.user), pk=pk)


def _back(request: HttpRequest, customer: Customer) -> HttpResponse:
    """Back where the form was (the list keeps its filters), else the customer page."""
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return redirect(target)
    return redirect("customers:detail", pk=customer.pk)


@login_required
@permission_required(EDIT, raise_exception=True)
@require_POST
def customer_assign(request: HttpRequest, pk: int) -> HttpResponse:
    """Assign the customer to the user who asks."""
    customer = _customer(request, pk)
    services.customer_assign(customer=customer, assignee=request.user, actor=request.user)
    messages.success(request, f"{customer} is assigned to you.")
    return _back(request, customer)


@login_required
@permission_required(EDIT, raise_exception=True)
@require_POST
def customer_unassign(request: HttpRequest, pk: int) -> HttpResponse:
    customer = _customer(request, pk)
    services.customer_assign(customer=customer, assignee=None, actor=request.user)
    messages.success(request, f"Nobody is assigned to {customer} now.")
    return _back(request, customer)


@login_required
@permission_required(VIEW, raise_exception=True)
@require_POST
def customer_watch(request: HttpRequest, pk: int) -> HttpResponse:
    """Watch the customer (`watch=1`) or stop watching it."""
    customer = _customer(request, pk)
    watch = request.POST.get("watch") == "1"
    services.customer_watch(customer=customer, user=request.user, watch=watch)
    if watch:
        messages.success(request, f"You are watching {customer}: its changes reach your bell.")
    else:
        messages.success(request, f"You no longer watch {customer}.")
    return _back(request, customer)


@login_required
@permission_required(DISCARD, raise_exception=True)
@require_http_methods(["GET", "POST"])
def customer_discard(request: HttpRequest, pk: int) -> HttpResponse:
    """Ask to confirm, then discard a draft never sent to BVNK."""
    customer = _customer(request, pk)
    discardable = customer.discardable
    if request.method == "POST" and discardable:
        try:
            name = services.customer_discard_draft(customer=customer, actor=request.user)
        except services.NotDiscardable as refused:
            messages.error(request, str(refused))
            return redirect("customers:detail", pk=customer.pk)
        messages.success(request, f"The draft {name} and its documents are discarded.")
        return redirect("customers:list")
    if not discardable:
        messages.error(request, f"{customer} was sent to BVNK; only drafts can be discarded.")
        return redirect("customers:detail", pk=customer.pk)
    return render(
        request,
        "customers/discard_confirm.html",
        {
            "customer": customer,
            "associates": customer.associates.count(),
            "documents": customer.documents.count(),
        },
    )


@login_required
@permission_required(VIEW, raise_exception=True)
@require_GET
def notification_list(request: HttpRequest) -> HttpResponse:
    """The user's notifications, newest first (the latest PAGE of them)."""
    mine = StaffNotification.objects.filter(user_id=request.user.pk or 0)
    notes = list(mine.select_related("customer")[:PAGE])
    return render(request, "customers/notifications.html", {"notes": notes})


@login_required
@permission_required(VIEW, raise_exception=True)
@require_GET
def notifications_unread(request: HttpRequest) -> HttpResponse:
    """The bell's count, asked for every few seconds by every page (static/js/bell.js)."""
    response = JsonResponse({"unread": notifications.unread_count(request.user)})
    response["Cache-Control"] = "no-store"
    return response


@login_required
@permission_required(VIEW, raise_exception=True)
@require_POST
def notification_read(request: HttpRequest, note_pk: int) -> HttpResponse:
    note = get_object_or_404(StaffNotification, pk=note_pk, user_id=request.user.pk)
    services.staff_notifications_mark_read(user=request.user, pk=note.pk)
    if request.POST.get("open") == "1":
        return redirect("customers:detail", pk=note.customer_id)
    return redirect("customers:notifications")


@login_required
@permission_required(VIEW, raise_exception=True)
@require_POST
def notifications_read_all(request: HttpRequest) -> HttpResponse:
    count = services.staff_notifications_mark_read(user=request.user)
    messages.success(request, f"{count} notification{'' if count == 1 else 's'} marked read.")
    return redirect(reverse("customers:notifications"))


urlpatterns = [
    path("<int:pk>/assign/", customer_assign, name="assign"),
    path("<int:pk>/unassign/", customer_unassign, name="unassign"),
    path("<int:pk>/watch/", customer_watch, name="watch"),
    path("<int:pk>/discard/", customer_discard, name="discard"),
    path("notifications/", notification_list, name="notifications"),
    path("notifications/unread/", notifications_unread, name="notifications-unread"),
    path("notifications/<int:note_pk>/read/", notification_read, name="notification-read"),
    path("notifications/read-all/", notifications_read_all, name="notifications-read-all"),
]
