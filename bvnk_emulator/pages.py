"""Hosted pages: agreement signing, the KYC verification stand-in, document downloads."""

from __future__ import annotations

import mimetypes
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from flask import Blueprint, Response, redirect, render_template, request

from bvnk_emulator import shapes
from bvnk_emulator.emulator import current_emulator
from bvnk_emulator.errors import ApiError

bp = Blueprint("pages", __name__)

DECISIONS = {"sign": "SIGNED", "decline": "DECLINED"}


def _page(template: str, status: int = 200, **context: Any) -> tuple[str, int]:
    return render_template(template, **context), status


def _message(title: str, text: str, status: int) -> tuple[str, int]:
    return _page("message.html", status, title=title, text=text)


def valid_redirect(uri: str) -> bool:
    """Return whether a redirectUri is an absolute http(s) URL."""
    parts = urlsplit(uri)
    return parts.scheme in {"http", "https"} and bool(parts.netloc)


def with_status(uri: str, param: str, status: str) -> str:
    """Append the status parameter to a URL, keeping its existing query parameters."""
    parts = urlsplit(uri)
    query = [*parse_qsl(parts.query, keep_blank_values=True), (param, status)]
    return urlunsplit(parts._replace(query=urlencode(query)))


@bp.get("/")
def index() -> tuple[str, int]:
    """Show what the emulator serves."""
    return _page("index.html", config=current_emulator().config)


@bp.get("/agreements")
def agreement_page() -> tuple[str, int]:
    """Show a session's agreements with Sign and Decline buttons."""
    reference = request.args.get("session", "")
    redirect_uri = request.args.get("redirectUri", "")
    if redirect_uri and not valid_redirect(redirect_uri):
        return _message("Invalid redirect", "redirectUri must be an http(s) URL.", 400)
    try:
        session = current_emulator().operations.session(reference)
    except ApiError:
        return _message("Agreement session not found", f"No session {reference!r}.", 404)
    return _page(
        "agreement.html",
        session=shapes.session_body(session),
        redirect_uri=redirect_uri,
        bound=bool(session["customer_reference"]),
    )


@bp.post("/agreements")
def agreement_decision() -> Any:
    """Sign or decline, then send the user back to redirectUri with the status."""
    emulator = current_emulator()
    reference = request.form.get("session", "")
    redirect_uri = request.form.get("redirectUri", "")
    decision = DECISIONS.get(request.form.get("decision", ""))
    if redirect_uri and not valid_redirect(redirect_uri):
        return _message("Invalid redirect", "redirectUri must be an http(s) URL.", 400)
    if decision is None:
        return _message("Invalid decision", "Choose Sign or Decline.", 400)
    try:
        session = emulator.operations.decide_session(reference, decision, request.remote_addr)
        status = session["status"]
    except ApiError as error:
        if error.status == 404:
            return _message("Agreement session not found", f"No session {reference!r}.", 404)
        # Already decided or bound: send the user back with the status BVNK holds.
        status = emulator.operations.session(reference)["status"]
    if not redirect_uri:
        return _message("Agreement " + status.lower(), f"The session is now {status}.", 200)
    return redirect(with_status(redirect_uri, emulator.config.agreement_status_param, status), 302)


@bp.get("/verification/<token>")
def verification_page(token: str) -> tuple[str, int]:
    """Show the KYC stand-in for one customer."""
    customer = current_emulator().store.get("customers", "verification_token", token)
    if customer is None:
        return _message("Verification link not found", "This link is not valid.", 404)
    return _page(
        "verification.html",
        customer=customer,
        name=shapes.customer_name(customer),
        done=customer["state"]["verification"]["status"] == "completed",
    )


@bp.post("/verification/<token>")
def verification_complete(token: str) -> tuple[str, int]:
    """Mark the customer's identity as verified."""
    try:
        customer = current_emulator().lifecycle.complete_verification(token)
    except ApiError:
        return _message("Verification link not found", "This link is not valid.", 404)
    return _message(
        "Verification complete",
        f"Identity verified. The customer is now {customer['status']}. You can close this page.",
        200,
    )


@bp.get("/files/documents/<reference>")
def document_file(reference: str) -> Response:
    """Serve a document through a signed, expiring URL."""
    document = current_emulator().operations.document_content(
        reference, request.args.get("expires", ""), request.args.get("signature", "")
    )
    content: bytes = document["content"]
    mimetype = _sniff(content) or mimetypes.guess_type(document["name"])[0]
    safe_name = "".join(c for c in document["name"] if c.isprintable() and c not in '"\\')
    return Response(
        content,
        mimetype=mimetype or "application/octet-stream",
        headers={"Content-Disposition": f'inline; filename="{safe_name}"'},
    )


def _sniff(content: bytes) -> str | None:
    if content.startswith(b"%PDF"):
        return "application/pdf"
    if content.startswith(b"\x89PNG"):
        return "image/png"
    if content.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    return None
