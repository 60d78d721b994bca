"""Test controls under /_emulator (no Hawk: a local development tool)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, redirect, render_template, request, url_for

from bvnk_emulator.emulator import current_emulator
from bvnk_emulator.errors import ApiError, NotFound, ValidationError
from bvnk_emulator.faults import FAULT_MODES, Fault
from bvnk_emulator.webhooks import HOLD_FLAG

bp = Blueprint("controls", __name__)


def _body() -> dict[str, Any]:
    body = request.get_json(silent=True, force=True)
    if body is None:
        return {}
    if not isinstance(body, dict):
        raise ValidationError({"body": ["must be a JSON object"]})
    return body


def _number(body: dict[str, Any], key: str, default: float) -> float:
    value = body.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ValidationError({key: ["must be a non-negative number"]})
    return float(value)


@bp.get("/health")
def health() -> Response:
    """Answer once the emulator is up (the test fixture polls this)."""
    config = current_emulator().config
    return jsonify(
        {
            "status": "ok",
            "webhookUrl": config.webhook_url,
            "signature": config.webhook_signature,
            "signatureUrl": config.webhook_signature_url,
            "fast": config.fast,
        }
    )


@bp.post("/reset")
def reset() -> Response:
    """Wipe all state."""
    current_emulator().reset()
    return jsonify({"reset": True})


@bp.get("/customers")
def customers() -> Response:
    """Return all customers plus create-call counts per externalReference."""
    return jsonify(current_emulator().operations.overview())


@bp.post("/customers/<reference>/status")
def force_status(reference: str) -> Response:
    """Force a customer status; the usual webhooks are sent."""
    ops = current_emulator().operations
    return jsonify(ops.force_status(reference, _body().get("status")))


@bp.post("/customers/<reference>/request-document")
def request_document(reference: str) -> Response:
    """Ask for a document after the submission (ACTIONS_REQUIRED once verified)."""
    return jsonify(current_emulator().operations.request_document(reference, _body()))


@bp.post("/documents/<reference>/review")
def review_document(reference: str) -> Response:
    """Approve or reject a document, with a reason; the usual webhooks are sent."""
    return jsonify(current_emulator().operations.review_document(reference, _body()))


@bp.get("/faults")
def list_faults() -> Response:
    """Return pending fault rules."""
    return jsonify(current_emulator().faults.listing())


@bp.post("/faults")
def add_fault() -> Response:
    """Queue a fault rule for the next matching /platform calls."""
    body = _body()
    mode = str(body.get("mode", ""))
    if mode not in FAULT_MODES:
        raise ValidationError({"mode": [f"must be one of: {', '.join(FAULT_MODES)}"]})
    count = body.get("count", 1)
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise ValidationError({"count": ["must be a positive integer"]})
    fault = Fault(
        mode=mode,
        count=count,
        retryAfter=_number(body, "retryAfter", 1),
        delay=_number(body, "delay", 1),
        method=body.get("method") or None,
        path=body.get("path") or None,
    )
    current_emulator().faults.add(fault)
    response = jsonify(current_emulator().faults.listing())
    response.status_code = 201
    return response


@bp.delete("/faults")
def clear_faults() -> Response:
    """Drop every pending fault rule."""
    current_emulator().faults.clear()
    return Response(status=204)


@bp.get("/requests")
def request_log() -> Response:
    """Return recent /platform requests (filters: method, path)."""
    log = current_emulator().requests
    return jsonify(log.listing(method=request.args.get("method"), path=request.args.get("path")))


@bp.get("/deliveries")
def deliveries() -> Any:
    """Show the webhook delivery log (HTML, or JSON with ?format=json)."""
    emulator = current_emulator()
    rows = emulator.outbox.listing(event=request.args.get("event"))
    if request.args.get("format") == "json":
        return jsonify(rows)
    return render_template(
        "deliveries.html",
        deliveries=rows,
        config=emulator.config,
        held=bool(emulator.store.flag(HOLD_FLAG)),
    )


@bp.post("/deliveries/<int:delivery_id>/resend")
def resend(delivery_id: int) -> Any:
    """Send an event again with the same eventId and body (a duplicate)."""
    copy = current_emulator().outbox.resend(delivery_id)
    if copy is None:
        raise NotFound(f"Delivery not found: {delivery_id}")
    if request.mimetype in {"application/x-www-form-urlencoded", "multipart/form-data"}:
        return redirect(url_for("controls.deliveries"), 303)
    response = jsonify({"id": copy["id"], "eventId": copy["event_id"], "duplicateOf": delivery_id})
    response.status_code = 201
    return response


@bp.post("/webhooks/hold")
def hold() -> Response:
    """Queue new events without sending them."""
    current_emulator().outbox.hold()
    return jsonify({"held": True})


@bp.post("/webhooks/release")
def release() -> Response:
    """Send held events in order (fifo|reverse), each optionally duplicated."""
    body = _body()
    order = body.get("order", "fifo")
    if order not in {"fifo", "reverse"}:
        raise ValidationError({"order": ["must be fifo or reverse"]})
    duplicate = body.get("duplicate", 0)
    if isinstance(duplicate, bool) or not isinstance(duplicate, int) or not 0 <= duplicate <= 100:
        raise ValidationError({"duplicate": ["must be an integer from 0 to 100"]})
    released = current_emulator().outbox.release(order=order, duplicate=duplicate)
    return jsonify({"released": released})


@bp.post("/webhooks/send")
def send() -> Response:
    """Send an arbitrary event {event, data[, eventId, timestamp]}."""
    body = _body()
    event = body.get("event")
    if not isinstance(event, str) or not event:
        raise ValidationError({"event": ["must not be blank"]})
    data = body.get("data", {})
    if not isinstance(data, dict):
        raise ApiError(400, "Invalid request", {"data": ["must be an object"]})
    row = current_emulator().outbox.enqueue(
        event,
        data,
        customer_reference=data.get("reference") or data.get("customerId"),
        event_id=body.get("eventId"),
        timestamp=body.get("timestamp"),
    )
    response = jsonify({"id": row["id"], "eventId": row["event_id"]})
    response.status_code = 201
    return response
