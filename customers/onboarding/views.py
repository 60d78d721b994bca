"""Onboarding pages: start a draft, fill its steps, sign, review and submit.

Each view checks access, validates a form, calls one service, adds a message and
redirects. The draft is saved at every step, so closing the browser loses nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_http_methods, require_POST

from .. import documents, services
from ..bvnk.errors import BvnkError
from ..documents import DocumentSizeLimitHandler
from ..models import (
    NAME_FIELDS,
    AgreementSession,
    Associate,
    ComplianceDocument,
    Customer,
    InvalidTransition,
    customers_for,
)
from ..payloads import IncompleteCustomer
from . import refusals
from . import steps as onboarding
from .company_forms import AssociateForm, CompanyDetailsForm
from .forms import CustomerDetailsForm, DocumentsForm, OnboardingStartForm

EDIT = "customers.change_customer"
StepHandler = Callable[[HttpRequest, onboarding.Progress, onboarding.Step], HttpResponse]
BVNK_DOWN = "BVNK could not be reached just now. Nothing was lost; try again in a minute or two."


def _step_url(customer: Customer, slug: str) -> str:
    return reverse("customers:onboarding-step", args=[customer.pk, slug])


def _customer(request: HttpRequest, pk: int) -> Customer:
    """The customer `pk` as this user may see it (one scoping function: customers_for);
    call it after the permission check, so a refusal says nothing of who exists."""
    return get_object_or_404(customers_for(request.user), pk=pk)


def _draft_or_redirect(request: HttpRequest, pk: int) -> tuple[Customer, HttpResponse | None]:
    """Return the customer and, when it is no longer a draft, where to go instead."""
    customer = _customer(request, pk)
    if customer.status != Customer.Status.DRAFT:
        messages.info(
            request,
            f"{customer} has been submitted ({customer.get_status_display().lower()}); its "
            "onboarding can no longer be changed here.",
        )
        return customer, redirect("customers:detail", pk=customer.pk)
    return customer, None


def _render_step(
    request: HttpRequest,
    progress: onboarding.Progress,
    step: onboarding.Step,
    template: str,
    **context: Any,
) -> HttpResponse:
    previous, following = progress.neighbours(step)
    context.update(
        customer=progress.customer,
        progress=progress,
        step=step,
        stepper=progress.states(step),
        previous_step=previous,
        next_step=following,
    )
    return render(request, f"customers/onboarding/{template}", context)


@login_required
@permission_required("customers.add_customer", raise_exception=True)
@require_http_methods(["GET", "POST"])
def onboarding_start(request: HttpRequest) -> HttpResponse:
    form = OnboardingStartForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        customer = services.customer_create_draft(
            customer_type=form.cleaned_data["customer_type"], actor=request.user
        )
        messages.success(request, "Draft created. It is saved at every step.")
        return redirect(_step_url(customer, onboarding.steps_for(customer)[0].slug))
    return render(request, "customers/onboarding/start.html", {"form": form})


@login_required
@permission_required(EDIT, raise_exception=True)
def onboarding_resume(request: HttpRequest, pk: int) -> HttpResponse:
    """Go to the first step that still needs something."""
    customer, elsewhere = _draft_or_redirect(request, pk)
    if elsewhere:
        return elsewhere
    return redirect(_step_url(customer, onboarding.Progress(customer).first_incomplete().slug))


@login_required
@require_http_methods(["GET", "POST"])
def onboarding_step(request: HttpRequest, pk: int, step: str) -> HttpResponse:
    # The review is open to every role; every other step needs the right to edit. Checked
    # before the customer is looked up, so the answer says nothing of who exists.
    needed = "customers.view_customer" if step == onboarding.REVIEW else EDIT
    if not request.user.has_perm(needed):
        raise PermissionDenied
    customer = _customer(request, pk)
    current = onboarding.get_step(customer, step)
    if current is None:
        raise Http404("No such onboarding step.")
    if current.kind == "review":
        return _review(request, customer, current)
    customer, elsewhere = _draft_or_redirect(request, pk)
    if elsewhere:
        return elsewhere
    progress = onboarding.Progress(customer)
    unmet = onboarding.preconditions(customer, current, progress)
    if unmet:
        message, target = unmet
        messages.warning(request, message)
        return redirect(_step_url(customer, target))
    handlers: dict[str, StepHandler] = {
        "form": _form_step,
        "associates": _associates_step,
        "documents": _documents_step,
        "agreement": _agreement_step,
    }
    return handlers[current.kind](request, progress, current)


def _form_step(
    request: HttpRequest, progress: onboarding.Progress, step: onboarding.Step
) -> HttpResponse:
    customer = progress.customer
    if step.form_class is None:
        raise Http404("This step has no form.")
    references = None
    if issubclass(step.form_class, CompanyDetailsForm):
        references = onboarding.reference_lists()
        if references.unavailable:
            messages.warning(request, "BVNK's reference lists could not be loaded. " + BVNK_DOWN)
    kwargs = onboarding.form_kwargs(customer, step, references)
    if request.method == "POST":
        action = request.POST.get("action", "continue")
        lenient = action in ("back", "save")
        form = step.form_class(request.POST, instance=customer, lenient=lenient, **kwargs)
        if form.is_valid():
            services.onboarding_save_step(
                customer=customer,
                step=step.slug,
                values=form.values(),
                actor=request.user,
                complete=not lenient,
            )
            previous, following = progress.neighbours(step)
            if action == "save":
                messages.success(request, "Draft saved.")
                return redirect(_step_url(customer, step.slug))
            target = previous if action == "back" else following
            return redirect(_step_url(customer, (target or step).slug))
        _keep_name(request, customer, step, form)
    else:
        form = step.form_class(instance=customer, bvnk_errors=progress.step_errors(step), **kwargs)
    fieldsets = step.fieldsets or ((None, tuple(form.fields)),)
    groups = [
        (legend, [form[name] for name in names if name in form.fields])
        for legend, names in fieldsets
    ]
    return _render_step(request, progress, step, "step_form.html", form=form, groups=groups)


def _keep_name(request: HttpRequest, customer: Customer, step: onboarding.Step, form: Any) -> None:
    """Name the draft as soon as its name is typed, even while the rest of the step is
    refused, so My customers never shows it as unnamed once it has one."""
    names = {
        name: form.cleaned_data[name]
        for name in NAME_FIELDS & set(form.fields)
        if name not in form.errors and form.cleaned_data.get(name)
    }
    if names and any(getattr(customer, name) != value for name, value in names.items()):
        services.onboarding_save_step(
            customer=customer, step=step.slug, values=names, actor=request.user, complete=False
        )


def _associates_step(
    request: HttpRequest, progress: onboarding.Progress, step: onboarding.Step
) -> HttpResponse:
    rows = [(a, progress.associate_errors(a)) for a in progress.associates]
    return _render_step(
        request,
        progress,
        step,
        "associates.html",
        rows=rows,
        rules=progress.missing(step),
    )


def _documents_step(
    request: HttpRequest,
    progress: onboarding.Progress,
    step: onboarding.Step,
    bound: DocumentsForm | None = None,
) -> HttpResponse:
    groups = progress.document_groups(step)
    form = bound or DocumentsForm(groups=groups)
    for group in groups:
        for slot in group.slots:
            slot.field = form[slot.key]  # type: ignore[attr-defined]  # read by the template
        if group.id_types:
            group.chooser = form[group.id_type_field]  # type: ignore[attr-defined]
    return _render_step(
        request,
        progress,
        step,
        "documents.html",
        groups=groups,
        upload_form=form,
        form=bound if bound is not None and bound.errors else None,
    )


def start_signing(request: HttpRequest, customer: Customer) -> HttpResponse | None:
    """Open an agreement session and send the user to BVNK's hosted page; None (with a
    message saying why) when it could not be opened, for the caller to redirect back."""

    def return_url(session: AgreementSession) -> str:
        return request.build_absolute_uri(
            reverse("customers:onboarding-agreement-return", args=[customer.pk, session.pk])
        )

    try:
        hosted_page = services.agreement_session_start(
            customer=customer, actor=request.user, return_url=return_url
        )
    except services.NotEditable as refused:
        messages.error(request, str(refused))
    except IncompleteCustomer as problem:
        messages.error(request, f"{problem}. Fill it in before signing.")
    except BvnkError:
        messages.error(request, BVNK_DOWN)
    else:
        return redirect(hosted_page)
    return None


def _agreement_step(
    request: HttpRequest, progress: onboarding.Progress, step: onboarding.Step
) -> HttpResponse:
    customer = progress.customer
    if request.method == "POST":
        if not request.user.has_perm("customers.add_agreementsession"):
            raise PermissionDenied
        return start_signing(request, customer) or redirect(_step_url(customer, step.slug))
    return _render_step(
        request,
        progress,
        step,
        "agreement.html",
        session=progress.latest_session,
        signed=progress.signed_session,
        problems=progress.missing(step),
    )


def _review(request: HttpRequest, customer: Customer, step: onboarding.Step) -> HttpResponse:
    if not request.user.has_perm("customers.view_customer"):
        raise PermissionDenied
    if customer.status != Customer.Status.DRAFT:
        return redirect("customers:detail", pk=customer.pk)
    progress = onboarding.Progress(customer)
    references = onboarding.reference_lists() if customer.is_company else None
    sections = []
    for each in progress.steps:
        if each.kind == "review":
            continue
        sections.append(
            {
                "step": each,
                "rows": onboarding.review_rows(customer, each, references),
                "groups": progress.document_groups(each) if each.kind == "documents" else [],
                "missing": progress.missing(each),
            }
        )
    return _render_step(
        request,
        progress,
        step,
        "review.html",
        sections=sections,
        missing=progress.all_missing(),
        can_edit=request.user.has_perm(EDIT),
        can_submit=request.user.has_perm("customers.submit_customer"),
    )


# -- associates ---------------------------------------------------------------------------


@login_required
@permission_required(EDIT, raise_exception=True)
@require_http_methods(["GET", "POST"])
def associate_edit(request: HttpRequest, pk: int, associate_pk: int | None = None) -> HttpResponse:
    if not request.user.has_perm(
        "customers.change_associate" if associate_pk else "customers.add_associate"
    ):
        raise PermissionDenied
    customer, elsewhere = _draft_or_redirect(request, pk)
    if elsewhere:
        return elsewhere
    if not customer.is_company:
        raise Http404("Only companies have associates.")
    associate = None
    if associate_pk is not None:
        associate = get_object_or_404(Associate, pk=associate_pk, customer=customer)
    progress = onboarding.Progress(customer)
    others = [a for a in progress.associates if associate is None or a.pk != associate.pk]
    if request.method == "POST":
        form = AssociateForm(request.POST, instance=associate, others=others)
        if form.is_valid():
            saved = services.associate_save(
                customer=customer, associate=associate, values=form.values(), actor=request.user
            )
            messages.success(request, f"{saved.full_name} saved.")
            return redirect(_step_url(customer, "associates"))
    else:
        errors = progress.associate_errors(associate) if associate else None
        form = AssociateForm(instance=associate, others=others, bvnk_errors=errors)
    step = onboarding.get_step(customer, "associates")
    if step is None:
        raise Http404("Only companies have associates.")
    return _render_step(
        request, progress, step, "associate_form.html", form=form, associate=associate
    )


@login_required
@permission_required((EDIT, "customers.delete_associate"), raise_exception=True)
@require_http_methods(["GET", "POST"])
def associate_remove(request: HttpRequest, pk: int, associate_pk: int) -> HttpResponse:
    customer, elsewhere = _draft_or_redirect(request, pk)
    if elsewhere:
        return elsewhere
    associate = get_object_or_404(Associate, pk=associate_pk, customer=customer)
    if request.method == "POST":
        name = associate.full_name
        services.associate_delete(associate=associate, actor=request.user)
        messages.success(request, f"{name} removed, with their documents.")
        return redirect(_step_url(customer, "associates"))
    progress = onboarding.Progress(customer)
    step = onboarding.get_step(customer, "associates")
    if step is None:
        raise Http404("Only companies have associates.")
    return _render_step(
        request,
        progress,
        step,
        "associate_remove.html",
        associate=associate,
        document_count=associate.documents.count(),
    )


# -- documents ------------------------------------------------------------------------------


@csrf_exempt
def document_upload(request: HttpRequest, pk: int, step: str) -> HttpResponseBase:
    """Stop a too-large file while it arrives; the CSRF check follows (Django's recipe)."""
    request.upload_handlers = [DocumentSizeLimitHandler(request), *request.upload_handlers]
    return _document_upload(request, pk, step)


@csrf_protect
@login_required
@permission_required((EDIT, "customers.add_compliancedocument"), raise_exception=True)
@require_POST
def _document_upload(request: HttpRequest, pk: int, step: str) -> HttpResponse:
    customer, elsewhere = _draft_or_redirect(request, pk)
    if elsewhere:
        return elsewhere
    current = onboarding.get_step(customer, step)
    if current is None or current.kind != "documents":
        raise Http404("No such documents step.")
    progress = onboarding.Progress(customer)
    # Continue and Back submit the form too, so a chosen file is never left behind.
    then = onboarding.get_step(customer, request.POST.get("then", ""))
    form = DocumentsForm(
        request.POST,
        request.FILES,
        groups=progress.document_groups(current),
        too_large=request.uploads_too_large,  # type: ignore[attr-defined]  # set by the handler
        repeated=request.uploads_repeated,  # type: ignore[attr-defined]
        too_many=request.upload_too_many,  # type: ignore[attr-defined]
        leaving=then is not None,
    )
    form.is_valid()
    services.documents_store(customer=customer, files=form.accepted, actor=request.user)
    for slot, _upload, checked in form.accepted:
        if checked.scan_status == documents.PENDING:
            text = f"{slot.label}: {checked.name} uploaded. {documents.QUARANTINE_MESSAGE}"
            messages.warning(request, text)
        else:
            messages.success(request, f"{slot.label}: {checked.name} uploaded.")
    if not form.errors:
        # The top of the page, where the messages are: one line per file stored.
        return redirect(_step_url(customer, then.slug if then else step))
    # Some files were refused: show why beside each; the stored ones show as stored.
    progress = onboarding.Progress(customer)
    return _documents_step(request, progress, current, bound=form)


@login_required
@permission_required("customers.delete_compliancedocument", raise_exception=True)
@require_POST
def document_remove(request: HttpRequest, pk: int, document_pk: int) -> HttpResponse:
    customer, elsewhere = _draft_or_redirect(request, pk)
    if elsewhere:
        return elsewhere
    document = get_object_or_404(ComplianceDocument, pk=document_pk, customer=customer)
    name = document.original_name
    services.document_delete(document=document, actor=request.user)
    messages.success(request, f"{name} removed.")
    back = request.POST.get("step", "")
    if onboarding.get_step(customer, back) is None:
        back = onboarding.Progress(customer).first_incomplete().slug
    return redirect(_step_url(customer, back))


@login_required
@permission_required("customers.download_document", raise_exception=True)
@require_http_methods(["GET", "HEAD"])
def document_preview(request: HttpRequest, pk: int, document_pk: int) -> FileResponse:
    """Stream a document inline for staff; never cached, never sniffed into HTML, audited."""
    document = get_object_or_404(
        ComplianceDocument.objects.select_related("customer"),
        pk=document_pk,
        customer=_customer(request, pk),
    )
    return documents.file_response(request, document, inline=True)


# -- agreement, submission, updates --------------------------------------------------------


@login_required
@permission_required(EDIT, raise_exception=True)
@require_http_methods(["GET", "POST"])
def agreement_return(request: HttpRequest, pk: int, session_pk: int) -> HttpResponse:
    """Where BVNK's hosted page sends the user back (a GET, which changes nothing: it shows
    a page that posts); the POST asks BVNK, since the URL's query string is not trusted."""
    customer = _customer(request, pk)
    session = get_object_or_404(AgreementSession, pk=session_pk, customer=customer)
    if request.method == "GET":
        return render(
            request,
            "customers/onboarding/agreement_return.html",
            {"customer": customer, "session": session},
        )
    try:
        session = services.agreement_session_confirm(session=session, actor=request.user)
    except BvnkError:
        messages.error(request, "BVNK could not confirm the agreement yet. " + BVNK_DOWN)
        return redirect(_step_url(customer, "agreement"))
    if session.status == AgreementSession.Status.SIGNED:
        messages.success(request, "BVNK confirms the agreement is signed.")
        if customer.status == Customer.Status.DRAFT:
            return redirect(_step_url(customer, "review"))
    elif session.status == AgreementSession.Status.DECLINED:
        messages.warning(
            request, "The agreement was declined. You can start the signing again when ready."
        )
    else:
        messages.info(request, "BVNK has not recorded a signature yet.")
    return redirect(_step_url(customer, "agreement"))


@login_required
@permission_required("customers.submit_customer", raise_exception=True)
@require_POST
def customer_submit(request: HttpRequest, pk: int) -> HttpResponse:
    customer, elsewhere = _draft_or_redirect(request, pk)
    if elsewhere:
        return elsewhere
    try:
        services.customer_submit(customer=customer, actor=request.user)
    except services.OnboardingIncomplete:
        messages.error(request, "Some things are still missing; they are listed below.")
        return redirect(_step_url(customer, "review"))
    except (InvalidTransition, services.NotEditable) as refused:
        messages.error(request, str(refused))
        return redirect("customers:detail", pk=customer.pk)
    # Describes the state at this moment: the page drops it once the state moves on.
    messages.success(
        request, "Submitted. The portal is sending the customer to BVNK.", extra_tags="state"
    )
    return redirect("customers:detail", pk=customer.pk)


def details_form(request: HttpRequest, customer: Customer) -> CustomerDetailsForm | None:
    """The update form the customer page shows, when BVNK takes updates and the user may."""
    if not request.user.has_perm(EDIT) or not customer.bvnk_reference:
        return None
    if customer.status not in services.UPDATABLE_STATUSES:
        return None
    return CustomerDetailsForm(instance=customer, bvnk_errors=refusals.update_refusal(customer))


@login_required
@permission_required(EDIT, raise_exception=True)
@require_http_methods(["GET", "POST"])
def customer_update_details(request: HttpRequest, pk: int) -> HttpResponse:
    customer = _customer(request, pk)
    form = CustomerDetailsForm(
        request.POST if request.method == "POST" else None, instance=customer
    )
    if request.method == "POST" and form.is_valid():
        try:
            changed = services.customer_update_details(
                customer=customer, values=form.values(), actor=request.user
            )
        except services.NotUpdatable as refused:
            messages.error(request, str(refused))
        else:
            if changed:
                messages.success(request, "Details saved. The portal is sending them to BVNK.")
            else:
                messages.info(request, "Nothing changed, so nothing was sent to BVNK.")
        return redirect("customers:detail", pk=customer.pk)
    return render(
        request, "customers/onboarding/update_details.html", {"customer": customer, "form": form}
    )


@login_required
@permission_required(EDIT, raise_exception=True)
@require_POST
def customer_resolve_details(request: HttpRequest, pk: int) -> HttpResponse:
    """Settle the details BVNK holds otherwise: send the portal's, or take BVNK's."""
    customer = _customer(request, pk)
    keep = request.POST.get("keep", "")
    if keep not in services.Keep.values:
        messages.error(request, "Choose whether to send the portal's details or take BVNK's.")
        return redirect("customers:detail", pk=customer.pk)
    try:
        fields = services.customer_details_resolve(customer=customer, keep=keep, actor=request.user)
    except services.NotUpdatable as refused:
        messages.error(request, str(refused))
    else:
        if not fields:
            messages.info(request, "The portal and BVNK hold the same details.")
        elif keep == services.Keep.PORTAL:
            messages.success(request, "The portal is sending its details to BVNK.")
        else:
            messages.success(request, "The portal now holds BVNK's details.")
    return redirect("customers:detail", pk=customer.pk)


urlpatterns = [
    path("new/", onboarding_start, name="onboarding-start"),
    path("<int:pk>/onboarding/", onboarding_resume, name="onboarding-resume"),
    path(
        "<int:pk>/onboarding/associates/add/",
        associate_edit,
        name="onboarding-associate-add",
    ),
    path(
        "<int:pk>/onboarding/associates/<int:associate_pk>/",
        associate_edit,
        name="onboarding-associate-edit",
    ),
    path(
        "<int:pk>/onboarding/associates/<int:associate_pk>/remove/",
        associate_remove,
        name="onboarding-associate-remove",
    ),
    path(
        "<int:pk>/onboarding/agreement/<int:session_pk>/return/",
        agreement_return,
        name="onboarding-agreement-return",
    ),
    path(
        "<int:pk>/onboarding/<slug:step>/upload/",
        document_upload,
        name="onboarding-document-upload",
    ),
    path("<int:pk>/onboarding/<slug:step>/", onboarding_step, name="onboarding-step"),
    path(
        "<int:pk>/documents/<int:document_pk>/remove/",
        document_remove,
        name="document-remove",
    ),
    path(
        "<int:pk>/documents/<int:document_pk>/preview/",
        document_preview,
        name="document-preview",
    ),
    path("<int:pk>/submit/", customer_submit, name="onboarding-submit"),
    path("<int:pk>/details/", customer_update_details, name="update-details"),
    path("<int:pk>/details/resolve/", customer_resolve_details, name="resolve-details"),
]
