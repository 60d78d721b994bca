"""Routes of the v1 customers API (customers, sessions, documents), mounted at /platform/v1."""

from __future__ import annotations

import functools
import hashlib
import json
import threading
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from flask import Blueprint, Response, g, jsonify, request

from bvnk_emulator import hawk
from bvnk_emulator import reference_data as ref
from bvnk_emulator.emulator import current_emulator
from bvnk_emulator.errors import ApiError, ValidationError
from bvnk_emulator.ids import iso_now
from bvnk_emulator.shapes import session_body

bp = Blueprint("platform", __name__)
# The one v2 read the portal makes: finding a customer by its externalReference.
bp_v2 = Blueprint("platform_v2", __name__)
# Wallets v2 (mounted at /ledger/v2).
bp_ledger = Blueprint("ledger_v2", __name__)
# v2 endpoints take this header instead of X-Idempotency-Key (BVNK docs, "Idempotency").
V2_IDEMPOTENCY_HEADER = "Idempotency-Key"

IDEMPOTENCY_HEADER = "X-Idempotency-Key"
MUTATING = {"POST", "PUT", "PATCH", "DELETE"}


@bp.before_request
@bp_v2.before_request
@bp_ledger.before_request
def authenticate() -> None:
    """Verify Hawk on every /platform request."""
    emulator = current_emulator()
    host, port = hawk.split_host(request.host, request.scheme)
    try:
        g.auth_id = hawk.verify(
            request.headers.get("Authorization"),
            method=request.method,
            resource=_raw_resource(),
            host=host,
            port=port,
            credentials=emulator.credentials,
            nonces=emulator.nonces,
        )
    except hawk.HawkError as error:
        challenge = f'Hawk error="{error.message}"'
        if error.stale_ts is not None:
            challenge = f'Hawk ts="{error.stale_ts}", error="{error.message}"'
        raise ApiError(
            401,
            "Unauthorized",
            {"Authorization": [error.message]},
            headers={"WWW-Authenticate": challenge},
        ) from None


def _raw_resource() -> str:
    """Return the request target exactly as the client sent it (path and raw query)."""
    raw = request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI")
    if raw and raw.startswith("/"):
        return str(raw)
    query = request.environ.get("QUERY_STRING", "")
    path = quote(request.environ.get("PATH_INFO", ""), safe="/;:@&=+$,!~*'()%")
    return f"{path}?{query}" if query else path


def json_body() -> Any:
    """Parse the request body as JSON whatever the Content-Type (BVNK's clients vary)."""
    raw = request.get_data(cache=True)
    if not raw.strip():
        return None
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise ValidationError({"body": ["Malformed JSON request"]}) from None


def _fingerprint() -> str:
    """Hash method, path and body; JSON bodies are canonicalised so key order is ignored."""
    raw = request.get_data(cache=True)
    try:
        body = json.dumps(json.loads(raw), sort_keys=True, separators=(",", ":")).encode()
    except (ValueError, UnicodeDecodeError):
        body = raw
    text = f"{request.method} {request.path.removeprefix('/api')}\n".encode() + body
    return hashlib.sha256(text).hexdigest()


class _KeyLocks:
    """One lock per idempotency key, so a retry waits for the original to finish."""

    def __init__(self) -> None:
        self._locks: dict[tuple[str, str], threading.Lock] = {}
        self._guard = threading.Lock()

    def get(self, auth_id: str, key: str) -> threading.Lock:
        with self._guard:
            if len(self._locks) > 10_000:
                self._locks = {k: v for k, v in self._locks.items() if v.locked()}
            return self._locks.setdefault((auth_id, key), threading.Lock())


_key_locks = _KeyLocks()


def idempotent(view: Callable[..., Response]) -> Callable[..., Response]:
    """Apply X-Idempotency-Key semantics: replay the same body, 400 on a different one."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Response:
        key = request.headers.get(IDEMPOTENCY_HEADER)
        if not key or request.method not in MUTATING:
            return view(*args, **kwargs)
        if len(key) > 255:
            raise ValidationError({IDEMPOTENCY_HEADER: ["must be at most 255 characters"]})
        store = current_emulator().store
        fingerprint = _fingerprint()
        with _key_locks.get(g.auth_id, key):
            stored = store.one(
                "SELECT * FROM idempotency WHERE auth_id = ? AND key = ?", (g.auth_id, key)
            )
            if stored is not None:
                message = f"A request with idempotency key {key} already exists"
                if stored["fingerprint"] != fingerprint:
                    raise ValidationError(
                        {IDEMPOTENCY_HEADER: [f"{message} with a different body"]}
                    )
                if _is_create() and current_emulator().config.replay == "conflict":
                    # BVNK docs, "Idempotency": a reused key generally gets 400; only
                    # customer endpoints *may* replay (BVNK_EMULATOR_REPLAY=conflict).
                    _count_create_replay(refused=True)
                    raise ValidationError({IDEMPOTENCY_HEADER: [message]})
                return _replay(stored)
            response = view(*args, **kwargs)
            # Only successful outcomes are stored; failures may be retried with the key.
            if 200 <= response.status_code < 300:
                store.insert(
                    "idempotency",
                    {
                        "auth_id": g.auth_id,
                        "key": key,
                        "fingerprint": fingerprint,
                        "status": response.status_code,
                        "body": response.get_json(silent=True),
                        "created_at": iso_now(),
                    },
                )
            return response

    return wrapper


def _is_create() -> bool:
    return request.method == "POST" and request.path.rstrip("/").endswith("/v1/customers")


def _count_create_replay(*, refused: bool = False) -> None:
    body = json_body() or {}
    external = body.get("externalReference") if isinstance(body, dict) else None
    current_emulator().operations.count_create(external, replayed=not refused, refused=refused)


def _replay(stored: dict[str, Any]) -> Response:
    """Answer a replay: 200 with the original body (204 stays 204, having no body)."""
    if _is_create():
        _count_create_replay()
    if stored["body"] is None:
        return Response(status=stored["status"])
    response = jsonify(stored["body"])
    response.status_code = 200
    return response


def _created(body: Any, status: int = 201) -> Response:
    response = jsonify(body)
    response.status_code = status
    return response


# -- agreement sessions ----------------------------------------------------------------


@bp.post("/customers/agreement/sessions")
@idempotent
def create_session() -> Response:
    """Create an agreement session."""
    ops = current_emulator().operations
    return _created(ops.create_session(g.auth_id, json_body()))


@bp.get("/customers/agreement/sessions/<reference>")
def get_session(reference: str) -> Response:
    """Return an agreement session with its current status."""
    return jsonify(session_body(current_emulator().operations.session(reference)))


@bp.put("/customers/agreement/sessions/<reference>")
@idempotent
def update_session(reference: str) -> Response:
    """Sign or decline a session through the API."""
    current_emulator().operations.update_session(reference, json_body())
    return Response(status=204)


# -- customers ---------------------------------------------------------------------------


@bp.post("/customers")
@idempotent
def create_customer() -> Response:
    """Create a customer."""
    ops = current_emulator().operations
    return _created(ops.create_customer(g.auth_id, json_body()))


@bp.get("/customers")
def list_customers() -> Response:
    """List customers as a Spring page."""
    ops = current_emulator().operations
    return jsonify(ops.list_customers(request.args, request.args.getlist("sort")))


@bp.get("/customers/<reference>")
def get_customer(reference: str) -> Response:
    """Return one customer."""
    return jsonify(current_emulator().operations.get_customer(reference))


@bp.route("/customers/<reference>", methods=["PUT", "PATCH"])
def update_customer(reference: str) -> Response:
    """Update contact details, address or date of birth with the method
    BVNK_EMULATOR_UPDATE_METHOD names (the partner guide's PUT, the API explorer's PATCH)."""
    allowed = current_emulator().config.update_method
    if request.method != allowed:
        raise ApiError(405, "Method Not Allowed", headers={"Allow": allowed})
    return _update_customer(reference)


@idempotent
def _update_customer(reference: str) -> Response:
    return jsonify(current_emulator().operations.update_customer(reference, json_body()))


@bp.get("/accounts/industries")
def industries() -> Response:
    """Return the industries with their sub-industries (API reference: getindustries)."""
    return jsonify(ref.industries_body(current_emulator().config.industries))


@bp.get("/accounts/monthly-expected-volumes")
def monthly_volumes() -> Response:
    """Return the monthly expected volumes (API reference: getmonthlyexpectedvolumes)."""
    return jsonify([{"reference": r, "name": n} for r, n in ref.MONTHLY_VOLUMES])


# -- documents ---------------------------------------------------------------------------


@bp.post("/customers/<reference>/documents")
@idempotent
def upload_documents(reference: str) -> Response:
    """Accept a JSON array of base64 documents."""
    ops = current_emulator().operations
    return _created(ops.upload_documents(reference, json_body()), status=202)


@bp.get("/customers/documents")
def list_documents() -> Response:
    """List documents, optionally filtered by customerReference or documentReference."""
    ops = current_emulator().operations
    return jsonify(
        ops.documents(request.args.get("customerReference"), request.args.get("documentReference"))
    )


@bp.delete("/customers/documents/<reference>")
@idempotent
def delete_document(reference: str) -> Response:
    """Delete a document."""
    current_emulator().operations.delete_document(reference)
    return Response(status=204)


@bp.get("/customers/documents/<reference>/url")
def document_url(reference: str) -> Response:
    """Return a temporary download URL."""
    return jsonify(current_emulator().operations.document_url(reference))


# -- questionnaires ---------------------------------------------------------------------


@bp.get("/customers/questionnaire/definitions")
def questionnaire_definitions() -> Response:
    """Return questionnaire definitions, optionally filtered by `codes`."""
    return jsonify(current_emulator().operations.definitions(request.args.get("codes")))


@bp.put("/customers/<reference>/questionnaires")
@idempotent
def submit_questionnaires(reference: str) -> Response:
    """Accept questionnaire answers; completeness is checked later."""
    current_emulator().operations.submit_questionnaires(reference, json_body())
    return _created({"message": "Submission accepted"}, status=202)


@bp.get("/customers/questionnaires")
def list_questionnaires() -> Response:
    """List questionnaire submissions, optionally for one customer."""
    ops = current_emulator().operations
    return jsonify(ops.questionnaires(request.args.get("customerReference")))


# -- v2 lookup ----------------------------------------------------------------------------


@bp_v2.get("/customers")
def find_customers() -> Response:
    """List customers the v2 way, filtered on `reference` (the partner's externalReference)."""
    return jsonify(current_emulator().operations.find_customers_v2(g.auth_id, request.args))


# -- wallets v2 ---------------------------------------------------------------------------


@bp_ledger.get("/wallets/profiles")
def wallet_profiles() -> Response:
    """The profiles a customer's wallets may use (`q=customerId:<id> AND currency:EUR`)."""
    return jsonify(current_emulator().wallets.profiles(g.auth_id, request.args.get("q", "")))


@bp_ledger.post("/wallets")
def create_wallet() -> Response:
    """Create a wallet, INACTIVE until BVNK activates it; `Idempotency-Key` required.

    A repeated key gets 400 (BVNK docs, "Idempotency": a reused key generally gets 400
    saying the request exists), or the first answer with BVNK_EMULATOR_WALLET_REPLAY=replay.
    """
    emulator = current_emulator()
    key = request.headers.get(V2_IDEMPOTENCY_HEADER, "").strip()
    if not key:
        raise ValidationError({V2_IDEMPOTENCY_HEADER: ["is required"]})
    scoped = f"ledger-v2:{key}"
    with _key_locks.get(g.auth_id, scoped):
        stored = emulator.store.one(
            "SELECT * FROM idempotency WHERE auth_id = ? AND key = ?", (g.auth_id, scoped)
        )
        if stored is not None:
            if (
                emulator.config.wallet_replay == "replay"
                and stored["fingerprint"] == _fingerprint()
            ):
                return _created(stored["body"], status=201)
            raise ApiError(
                400,
                "Invalid request",
                {V2_IDEMPOTENCY_HEADER: [f"A request with idempotency key {key} already exists"]},
                code="BVNK:LEDGER:4004",
            )
        wallet = emulator.wallets.create(g.auth_id, json_body())
        emulator.store.insert(
            "idempotency",
            {
                "auth_id": g.auth_id,
                "key": scoped,
                "fingerprint": _fingerprint(),
                "status": 201,
                "body": wallet,
                "created_at": iso_now(),
            },
        )
    return _created(wallet, status=201)


@bp_ledger.get("/wallets")
def list_wallets() -> Response:
    """Wallets without their account details, filtered by `q` (customerId, status, currency)."""
    return jsonify(current_emulator().wallets.listing(g.auth_id, request.args))


@bp_ledger.get("/wallets/<wallet_id>")
def get_wallet(wallet_id: str) -> Response:
    """One wallet with its account details once ACTIVE."""
    return jsonify(current_emulator().wallets.get(g.auth_id, wallet_id))
