"""The BVNK v1 customers API client: one private request function, thin typed wrappers.

The client never retries. A failed call raises `BvnkError`, whose `permanent` flag tells
the caller (the Celery pipeline) whether a retry with the same idempotency key may help;
retry policy, backoff and the final failure record live there, not here.
"""

from __future__ import annotations

import json as jsonlib
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import requests

from customers.bvnk import errors, wire
from customers.bvnk.errors import BvnkError
from customers.bvnk.hawk import hawk_header
from customers.bvnk.types import (
    AgreementSession,
    AgreementSessionCreate,
    Customer,
    CustomerCreate,
    CustomerCreated,
    CustomerSummary,
    CustomerUpdate,
    DocumentAccepted,
    DocumentUpload,
    QuestionnaireAnswers,
    QuestionnaireDefinition,
    ReferenceItem,
    StoredBody,
    Wallet,
    WalletCreate,
    WalletProfile,
)

logger = logging.getLogger(__name__)

USER_AGENT = "bvnk-partner-portal/0.1 (+python-requests)"
_READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Fixed forever: changing it would give an in-flight retry a new key and a duplicate create.
_IDEMPOTENCY_NAMESPACE = uuid.UUID("e812f4e1-4b0a-5af4-8fc8-020635a2edf1")
_KEY_SEPARATOR = "\x1f"


def idempotency_key(*parts: str) -> str:
    """Return the deterministic X-Idempotency-Key for one logical action.

    The same parts always give the same 36-character UUID-format key, so every retry of
    an action (e.g. `idempotency_key("customer.create", str(customer.external_reference))`)
    reaches BVNK with the key of its first attempt.
    """
    if not parts:
        raise ValueError("idempotency_key needs at least one part")
    for part in parts:
        if not isinstance(part, str) or not part or _KEY_SEPARATOR in part:
            raise ValueError(f"idempotency key parts must be non-empty strings, got {part!r}")
    return str(uuid.uuid5(_IDEMPOTENCY_NAMESPACE, _KEY_SEPARATOR.join(parts)))


@dataclass(frozen=True, slots=True)
class BvnkConfig:
    """Where and as whom to call BVNK."""

    base_url: str
    auth_id: str
    secret: str = field(repr=False)
    connect_timeout: float = 5.0
    read_timeout: float = 30.0
    update_method: str = "PUT"


def config_from_settings() -> BvnkConfig:
    """Build the client configuration from Django settings, read now (style point 6)."""
    from django.conf import settings
    from django.core.exceptions import ImproperlyConfigured

    required: dict[str, str] = {}
    for name in ("BVNK_BASE_URL", "BVNK_HAWK_AUTH_ID", "BVNK_HAWK_SECRET"):
        value = getattr(settings, name, "")
        if not value:
            raise ImproperlyConfigured(f"{name} must be set to call BVNK.")
        required[name] = str(value)
    timeouts: dict[str, float] = {}
    for name, default in (("BVNK_CONNECT_TIMEOUT", 5.0), ("BVNK_READ_TIMEOUT", 30.0)):
        raw: Any = getattr(settings, name, None)
        try:
            timeouts[name] = default if raw is None or raw == "" else float(raw)
        except (TypeError, ValueError):
            raise ImproperlyConfigured(f"{name} must be a number of seconds.") from None
        if timeouts[name] <= 0:
            raise ImproperlyConfigured(f"{name} must be a positive number of seconds.")
    update_method = str(getattr(settings, "BVNK_UPDATE_METHOD", "") or "PUT").upper()
    if update_method not in wire.UPDATE_METHODS:
        raise ImproperlyConfigured("BVNK_UPDATE_METHOD must be PUT or PATCH.")
    return BvnkConfig(
        base_url=required["BVNK_BASE_URL"],
        update_method=update_method,
        auth_id=required["BVNK_HAWK_AUTH_ID"],
        secret=required["BVNK_HAWK_SECRET"],
        connect_timeout=timeouts["BVNK_CONNECT_TIMEOUT"],
        read_timeout=timeouts["BVNK_READ_TIMEOUT"],
    )


@dataclass(frozen=True, slots=True)
class CallRecord:
    """One HTTP call to BVNK, for logs and metrics; never holds bodies or personal data.

    `path` keeps the query parameter names but not their values (a `name` filter could
    be a person's name). `error` is `BvnkError.summary()`: status, code, class, field
    names; BVNK's messages are left out because they may echo submitted values.
    """

    method: str
    path: str
    action: str
    idempotency_key: str
    status_code: int | None
    trace_id: str
    error: str
    duration_ms: int
    started_at: datetime


Observer = Callable[[CallRecord], None]

_local = threading.local()


def thread_session() -> requests.Session:
    """This thread's HTTP session, kept between clients so that calls reuse open
    connections to BVNK (and their TLS handshakes) instead of opening one per client.

    One per process as well: a session inherited across fork would share its sockets.
    """
    pid = os.getpid()
    held: tuple[int, requests.Session] | None = getattr(_local, "session", None)
    if held is None or held[0] != pid:
        held = _local.session = (pid, requests.Session())
    return held[1]


class BvnkClient:
    """Typed calls to the BVNK v1 customers API (docs.bvnk.com, `/platform/v1`).

    Every write takes an `idempotency_key` (see `idempotency_key()`); the client refuses a
    write without one. Each HTTP call gets a fresh Hawk header and is reported once to the
    optional `observer`. The client does not retry: retries belong to the Celery
    pipeline, which retries only `BvnkError`s with `permanent=False`, reusing the key.
    A session passed in must not retry on its own either (a resent request would reuse
    the Hawk nonce, which BVNK rejects).
    """

    def __init__(
        self,
        config: BvnkConfig,
        *,
        session: requests.Session | None = None,
        observer: Observer | None = None,
    ) -> None:
        self._config = config
        self._base_url = config.base_url.rstrip("/")
        self._owns_session = session is None
        self._session = session or requests.Session()
        self._observer = observer

    def close(self) -> None:
        """Close the HTTP session if the client made it (a session passed in is shared)."""
        if self._owns_session:
            self._session.close()

    def __enter__(self) -> BvnkClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- agreement sessions -------------------------------------------------------------

    def create_agreement_session(
        self, request: AgreementSessionCreate, *, idempotency_key: str
    ) -> AgreementSession:
        """Create an agreement signing session (201)."""
        return self._request(
            "POST",
            wire.PATH_AGREEMENT_SESSIONS,
            action="agreement_session.create",
            json=request.to_wire(),
            idempotency_key=idempotency_key,
            parse=AgreementSession.from_wire,
        )

    def get_agreement_session(self, reference: str) -> AgreementSession:
        """Read an agreement session; the truth behind the hosted page's redirect."""
        return self._request(
            "GET",
            _path(wire.PATH_AGREEMENT_SESSION, reference),
            action="agreement_session.get",
            parse=AgreementSession.from_wire,
        )

    def sign_agreement_session(
        self,
        reference: str,
        *,
        ip_address: str,
        idempotency_key: str,
        status: str = "SIGNED",
    ) -> None:
        """Sign (or decline) a session through the API flow (BVNK answers 204)."""
        if status not in wire.AGREEMENT_SESSION_STATUSES or status == "PENDING":
            raise ValueError("status must be SIGNED or DECLINED")
        self._request(
            "PUT",
            _path(wire.PATH_AGREEMENT_SESSION, reference),
            action="agreement_session.sign",
            json={"status": status, "ipAddress": ip_address},
            idempotency_key=idempotency_key,
        )

    # -- customers -----------------------------------------------------------------------

    def create_customer(
        self, request: CustomerCreate | StoredBody, *, idempotency_key: str
    ) -> CustomerCreated:
        """Create a customer; 201, or 200 when BVNK replays an earlier identical create."""
        return self._request(
            "POST",
            wire.PATH_CUSTOMERS,
            action="customer.create",
            json=request.to_wire(),
            idempotency_key=idempotency_key,
            parse=CustomerCreated.from_wire,
        )

    def get_customer(self, reference: str) -> Customer:
        """Read one customer."""
        return self._request(
            "GET",
            _path(wire.PATH_CUSTOMER, reference),
            action="customer.get",
            parse=Customer.from_wire,
        )

    def iter_customers(
        self, *, page_size: int = wire.MAX_PAGE_SIZE, name: str | None = None
    ) -> Iterator[CustomerSummary]:
        """Yield every customer, walking the pages until BVNK marks one `last`."""
        if page_size < 1:
            raise ValueError("page_size must be at least 1")
        size = min(page_size, wire.MAX_PAGE_SIZE)
        page = 0
        while True:
            params: dict[str, Any] = {"page": page, "size": size}
            if name:
                params["name"] = name
            items, last = self._request(
                "GET", wire.PATH_CUSTOMERS, action="customer.list", params=params, parse=_page
            )
            yield from items
            if last or not items:  # An empty page also ends the walk, whatever `last` says.
                return
            page += 1

    def find_customer_reference(self, external_reference: str) -> str | None:
        """Return BVNK's reference of the customer created with `external_reference`.

        Reads BVNK's v2 list filtered on `reference`, which for a v1-created customer is
        its v1 externalReference, and whose `id` is its v1 reference (wire.PATH_V2_CUSTOMERS).
        """
        if not external_reference:
            raise ValueError("an external reference is required")
        items = self._request(
            "GET",
            wire.PATH_V2_CUSTOMERS,
            action="customer.find",
            params={"reference": external_reference, "pageSize": 2},
            parse=_items,
        )
        found = [
            str(item.get("id") or "")
            for item in items
            if str(item.get("reference") or "") == external_reference and item.get("id")
        ]
        return found[0] if len(found) == 1 else None

    def update_customer(
        self, reference: str, update: CustomerUpdate | StoredBody, *, idempotency_key: str
    ) -> Customer:
        """Update contact details, address or date of birth (PUT or PATCH, as configured)."""
        body = update.to_wire()
        if not body:
            raise ValueError("the update sets no field")
        return self._request(
            self._config.update_method,
            _path(wire.PATH_CUSTOMER, reference),
            action="customer.update",
            json=body,
            idempotency_key=idempotency_key,
            parse=Customer.from_wire,
        )

    # -- documents and questionnaires -----------------------------------------------------

    def upload_documents(
        self, reference: str, documents: Sequence[DocumentUpload], *, idempotency_key: str
    ) -> list[DocumentAccepted]:
        """Upload base64 documents in one JSON array (202, only while INFO_REQUIRED)."""
        if not documents:
            raise ValueError("no documents to upload")
        return self._request(
            "POST",
            _path(wire.PATH_CUSTOMER_DOCUMENTS, reference),
            action="document.upload",
            json=[document.to_wire() for document in documents],
            idempotency_key=idempotency_key,
            parse=_accepted_documents,
        )

    def questionnaire_definitions(self, codes: Iterable[str] = ()) -> list[QuestionnaireDefinition]:
        """Fetch questionnaire schemas, all of them when `codes` is empty."""
        codes = [code for code in codes if code]
        params = {"codes": ",".join(codes)} if codes else None
        return self._request(
            "GET",
            wire.PATH_QUESTIONNAIRE_DEFINITIONS,
            action="questionnaire.definitions",
            params=params,
            parse=lambda data: [
                QuestionnaireDefinition.from_wire(item)
                for item in _items(data, "definitions", "questionnaires")
            ],
        )

    def submit_questionnaires(
        self,
        reference: str,
        answers: Sequence[QuestionnaireAnswers],
        *,
        idempotency_key: str,
    ) -> None:
        """Submit questionnaire answers; BVNK checks completeness asynchronously."""
        if not answers:
            raise ValueError("no questionnaire answers to submit")
        self._request(
            "PUT",
            _path(wire.PATH_CUSTOMER_QUESTIONNAIRES, reference),
            action="questionnaire.submit",
            json=[answer.to_wire() for answer in answers],
            idempotency_key=idempotency_key,
        )

    # -- reference lists (wire.PATH_INDUSTRIES) ------------------------------------------

    def industries(self) -> list[ReferenceItem]:
        """List BVNK's industries, each with the sub-industries a company create may use."""
        return self._request(
            "GET", wire.PATH_INDUSTRIES, action="reference.industries", parse=_reference_items
        )

    def monthly_expected_volumes(self) -> list[ReferenceItem]:
        """List the monthly expected volume references a company create may use."""
        return self._request(
            "GET",
            wire.PATH_MONTHLY_EXPECTED_VOLUMES,
            action="reference.monthly_expected_volumes",
            parse=_reference_items,
        )

    # -- wallets v2 (wire.PATH_WALLETS) ----------------------------------------------------

    def wallet_profiles(self, customer_id: str, *, currency: str = "") -> list[WalletProfile]:
        """The profiles BVNK offers this customer's wallets, for one currency if given."""
        q = f"customerId:{customer_id}" + (f" AND currency:{currency}" if currency else "")
        return self._request(
            "GET",
            wire.PATH_WALLET_PROFILES,
            action="wallet.profiles",
            params={"q": q},
            parse=lambda data: [WalletProfile.from_wire(item) for item in _items(data)],
        )

    def create_wallet(self, request: WalletCreate, *, idempotency_key: str) -> Wallet:
        """Create a wallet for a verified customer; it is INACTIVE until BVNK activates it."""
        return self._request(
            "POST",
            wire.PATH_WALLETS,
            action="wallet.create",
            json=request.to_wire(),
            idempotency_key=idempotency_key,
            idempotency_header=wire.V2_IDEMPOTENCY_HEADER,
            parse=Wallet.from_wire,
        )

    def get_wallet(self, wallet_id: str) -> Wallet:
        """Read one wallet, with its account details once ACTIVE."""
        return self._request(
            "GET", _path(wire.PATH_WALLET, wallet_id), action="wallet.get", parse=Wallet.from_wire
        )

    def customer_wallets(self, customer_id: str) -> list[Wallet]:
        """The customer's wallets as BVNK lists them (without account details)."""
        return self._request(
            "GET",
            wire.PATH_WALLETS,
            action="wallet.list",
            params={"q": f"customerId:{customer_id}", "pageSize": wire.MAX_PAGE_SIZE},
            parse=lambda data: [Wallet.from_wire(item) for item in _items(data)],
        )

    # -- the one request function ---------------------------------------------------------

    def _request(
        self,
        method: str,
        path: str,
        *,
        action: str,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
        idempotency_header: str = wire.IDEMPOTENCY_HEADER,
        parse: Callable[[Any], Any] | None = None,
    ) -> Any:
        """Send one signed request and return the parsed body (None when empty).

        Raises `BvnkError` for any non-2xx answer, an unreadable 2xx answer (including
        one `parse` cannot read) and transport failures; reports the call to the observer
        exactly once either way.
        """
        method = method.upper()
        if method not in _READ_METHODS:
            if not idempotency_key:
                raise ValueError(f"{action}: every BVNK write needs an idempotency key")
            if len(idempotency_key) != 36:
                raise ValueError(f"{action}: the idempotency key must be 36 characters")
        headers = {"Accept": "application/json", "User-Agent": USER_AGENT}
        body: bytes | None = None
        if json is not None:
            body = jsonlib.dumps(json, separators=(",", ":"), ensure_ascii=False).encode()
            headers["Content-Type"] = "application/json"
        if idempotency_key:
            headers[idempotency_header] = idempotency_key
        query = {key: value for key, value in (params or {}).items() if value is not None}
        prepared = self._session.prepare_request(
            requests.Request(
                method, self._base_url + path, params=query, data=body, headers=headers
            )
        )
        url = prepared.url or ""
        # Signed last, over the URL exactly as requests will send it.
        prepared.headers["Authorization"] = hawk_header(
            method, url, auth_id=self._config.auth_id, secret=self._config.secret
        )
        send_options = self._session.merge_environment_settings(url, {}, None, None, None)

        started_at = datetime.now(UTC)
        started = time.monotonic()
        status: int | None = None
        failure: BvnkError | None = None
        try:
            try:
                response = self._session.send(
                    prepared,
                    timeout=(self._config.connect_timeout, self._config.read_timeout),
                    allow_redirects=False,
                    **send_options,
                )
            except requests.RequestException as exc:
                raise _transport_error(exc) from exc
            status = response.status_code
            if not 200 <= status < 300:
                raise BvnkError.from_http(status, response.headers, response.content)
            data = _decode(status, response.content)
            if parse is None:
                return data
            try:
                return parse(data)
            except (KeyError, TypeError, ValueError, AttributeError) as exc:
                raise BvnkError.invalid_response(
                    status, f"Unexpected {action} answer shape ({type(exc).__name__})"
                ) from exc
        except BvnkError as exc:
            failure = exc
            raise
        finally:
            record = CallRecord(
                method=method,
                path=path + ("?" + "&".join(query) if query else ""),
                action=action,
                idempotency_key=idempotency_key or "",
                status_code=status,
                trace_id=failure.trace_id if failure else "",
                error=failure.summary() if failure else "",
                duration_ms=round((time.monotonic() - started) * 1000),
                started_at=started_at,
            )
            self._notify(record)

    def _notify(self, record: CallRecord) -> None:
        logger.debug(
            "BVNK %s %s -> %s %s", record.method, record.path, record.status_code, record.error
        )
        if self._observer is None:
            return
        try:
            self._observer(record)
        except Exception:
            # Observing must never change the outcome of a call that BVNK already handled.
            logger.exception("BVNK call observer failed for %s", record.action)


def _path(template: str, reference: str) -> str:
    if not reference:
        raise ValueError("a BVNK reference is required")
    return template.format(reference=quote(reference, safe=""))


def _decode(status: int, content: bytes) -> Any:
    if not content.strip():
        return None
    try:
        return jsonlib.loads(content)
    except ValueError:
        raise BvnkError.invalid_response(status, f"Non-JSON body in a {status} answer") from None


def _transport_error(exc: requests.RequestException) -> BvnkError:
    # ConnectTimeout subclasses both ConnectionError and Timeout: test it first.
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return BvnkError.transport(errors.CONNECT_TIMEOUT, "Timed out connecting to BVNK")
    if isinstance(exc, requests.exceptions.ReadTimeout):
        return BvnkError.transport(errors.READ_TIMEOUT, "Timed out waiting for BVNK's answer")
    if isinstance(
        exc,
        requests.exceptions.ConnectionError
        | requests.exceptions.ChunkedEncodingError
        | requests.exceptions.ContentDecodingError,
    ):
        return BvnkError.transport(
            errors.CONNECTION_ERROR, f"Connection to BVNK failed ({type(exc).__name__})"
        )
    # Anything else (invalid URL, missing schema) is a configuration fault a retry repeats.
    return BvnkError(
        f"Request to BVNK could not be made ({type(exc).__name__})",
        status=None,
        permanent=True,
        code=errors.TRANSPORT,
    )


def _items(data: Any, *keys: str) -> list[dict[str, Any]]:
    """Return the list of objects in `data`, or under `content` or one of `keys`."""
    if isinstance(data, dict):
        for key in ("content", *keys):
            if isinstance(data.get(key), list):
                data = data[key]
                break
    if not isinstance(data, list):
        raise TypeError("expected a JSON array")
    return [item for item in data if isinstance(item, dict)]


def _page(data: Any) -> tuple[list[CustomerSummary], bool]:
    """Read one Spring `Page` (BVNK's list shape) into its items and whether it is the last."""
    if not isinstance(data, dict):
        raise TypeError("expected a Spring Page object")
    items = [CustomerSummary.from_wire(item) for item in _items(data.get("content") or [])]
    if "last" in data:
        return items, bool(data["last"])
    if "totalPages" in data and "number" in data:
        return items, int(data["number"]) + 1 >= int(data["totalPages"])
    size = data.get("size")
    return items, not isinstance(size, int) or len(items) < size


def _accepted_documents(data: Any) -> list[DocumentAccepted]:
    """Read the 202 answer of an upload, whose body BVNK does not document: maybe empty."""
    if data is None:
        return []
    if isinstance(data, dict) and not any(
        isinstance(data.get(key), list) for key in ("content", "documents")
    ):
        return [DocumentAccepted.from_wire(data)] if data else []
    return [DocumentAccepted.from_wire(item) for item in _items(data, "documents")]


def _reference_items(data: Any) -> list[ReferenceItem]:
    return [
        ReferenceItem.from_wire(item)
        for item in _items(data, "industries", "volumes")
        if item.get("reference")
    ]
