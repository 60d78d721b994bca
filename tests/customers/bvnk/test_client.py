"""BvnkClient at the HTTP seam, with `responses` standing in for BVNK."""

from __future__ import annotations

import dataclasses
import json
import logging
import re
import threading
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import requests
import responses
import time_machine
from responses import matchers

from customers.bvnk import (
    BvnkClient,
    BvnkConfig,
    BvnkError,
    CallRecord,
    ContactInfo,
    CustomerUpdate,
    DocumentUpload,
    QuestionnaireAnswers,
    idempotency_key,
)
from customers.bvnk.hawk import mac, normalized_string
from tests.customers.bvnk import samples

BASE = "https://api.sandbox.bvnk.com"
CUSTOMERS = f"{BASE}/platform/v1/customers"
REF = "8a0e1da2-2af3-4b9e-a221-e74db4e01b06"
KEY = idempotency_key("test", "one")
HAWK = re.compile(r'^Hawk id="test-id", ts="(\d+)", nonce="([^"]+)", mac="([^"]+)"$')
ENVELOPE = {
    "code": "ACCOUNTS-2000",
    "traceId": "6aaa94d1184d65e454d08a790495961b",
    "status": "Bad Request",
    "message": "Invalid request",
}


@pytest.fixture
def records() -> list[CallRecord]:
    return []


@pytest.fixture
def client(records: list[CallRecord]) -> Iterator[BvnkClient]:
    config = BvnkConfig(base_url=BASE + "/", auth_id="test-id", secret="test-secret")
    with BvnkClient(config, observer=records.append) as bvnk:
        yield bvnk


@pytest.fixture
def rsps() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock() as mock:
        yield mock


def assert_signed(request: requests.PreparedRequest) -> None:
    """Recompute the MAC over the URL that was actually sent."""
    match = HAWK.match(str(request.headers["Authorization"]))
    assert match, request.headers["Authorization"]
    ts, nonce, signature = match.groups()
    assert request.method and request.url
    expected = mac(
        "test-secret", normalized_string(request.method, request.url, ts=int(ts), nonce=nonce)
    )
    assert signature == expected


def sent_json(call: responses.Call) -> object:
    body = call.request.body
    assert isinstance(body, bytes)
    return json.loads(body)


# -- headers and signing -------------------------------------------------------------------


def test_write_headers_signature_and_timeouts(
    client: BvnkClient, rsps: responses.RequestsMock
) -> None:
    rsps.post(
        CUSTOMERS, status=201, json={"reference": REF, "status": "INFO_REQUIRED", "type": "COMPANY"}
    )
    client.create_customer(samples.company_create(), idempotency_key=KEY)
    (call,) = rsps.calls
    headers = call.request.headers
    assert_signed(call.request)
    assert headers["X-Idempotency-Key"] == KEY
    assert headers["Content-Type"] == "application/json"
    assert headers["Accept"] == "application/json"
    assert getattr(call.request, "req_kwargs")["timeout"] == (5.0, 30.0)  # noqa: B009 - set by responses


def test_read_headers_have_no_idempotency_key(
    client: BvnkClient, rsps: responses.RequestsMock
) -> None:
    rsps.get(f"{CUSTOMERS}/{REF}", json={"reference": REF})
    client.get_customer(REF)
    (call,) = rsps.calls
    assert_signed(call.request)
    assert "X-Idempotency-Key" not in call.request.headers
    assert call.request.headers["Accept"] == "application/json"


def test_each_call_gets_a_fresh_nonce_and_signs_the_query(
    client: BvnkClient, rsps: responses.RequestsMock
) -> None:
    rsps.get(f"{BASE}/platform/v1/customers/questionnaire/definitions", json=[])
    client.questionnaire_definitions(["a Code", "b"])
    client.questionnaire_definitions(["a Code", "b"])
    first, second = rsps.calls
    assert "?codes=a+Code%2Cb" in (first.request.url or "")
    for call in (first, second):
        assert_signed(call.request)
    assert first.request.headers["Authorization"] != second.request.headers["Authorization"]


def test_writes_without_a_key_are_refused_before_any_call(
    client: BvnkClient, rsps: responses.RequestsMock, records: list[CallRecord]
) -> None:
    with pytest.raises(ValueError, match="idempotency key"):
        client.create_customer(samples.company_create(), idempotency_key="")
    with pytest.raises(ValueError, match="36 characters"):
        client.update_customer(REF, CustomerUpdate(name="x"), idempotency_key="short")
    assert len(rsps.calls) == 0
    assert records == []


def test_references_are_quoted_into_the_path(
    client: BvnkClient, rsps: responses.RequestsMock
) -> None:
    rsps.get(f"{CUSTOMERS}/a%2Fb", json={"reference": "a/b"})
    assert client.get_customer("a/b").reference == "a/b"


def test_idempotency_key_is_deterministic_uuid() -> None:
    key = idempotency_key("customer.create", "3f0c1f7e-6a39-4a8c-9c55-0d1b1c2e9a10")
    assert key == idempotency_key("customer.create", "3f0c1f7e-6a39-4a8c-9c55-0d1b1c2e9a10")
    assert key != idempotency_key("customer.update", "3f0c1f7e-6a39-4a8c-9c55-0d1b1c2e9a10")
    assert idempotency_key("a", "bc") != idempotency_key("ab", "c")
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", key)
    with pytest.raises(ValueError):
        idempotency_key()
    with pytest.raises(ValueError):
        idempotency_key("a", "")


# -- request bodies ------------------------------------------------------------------------


def test_company_and_individual_create_bodies(
    client: BvnkClient, rsps: responses.RequestsMock
) -> None:
    rsps.post(
        CUSTOMERS,
        status=201,
        json={
            "reference": REF,
            "status": "INFO_REQUIRED",
            "type": "COMPANY",
            "infoRequired": {"questionnaireCodes": ["financialServicesQuestionnaireFull"]},
        },
    )
    rsps.post(
        CUSTOMERS,
        status=200,
        json={"reference": "ind-1", "status": "PENDING", "type": "INDIVIDUAL"},
    )
    company = client.create_customer(samples.company_create(), idempotency_key=KEY)
    individual = client.create_customer(samples.individual_example(), idempotency_key=KEY)
    assert sent_json(rsps.calls[0]) == samples.company_create().to_wire()
    assert sent_json(rsps.calls[1]) == samples.individual_example().to_wire()
    assert company.questionnaire_codes == ("financialServicesQuestionnaireFull",)
    assert (individual.reference, individual.status) == ("ind-1", "PENDING")  # 200 = replay.


def test_update_is_a_put_with_only_set_fields(
    client: BvnkClient, rsps: responses.RequestsMock
) -> None:
    rsps.put(
        f"{CUSTOMERS}/{REF}",
        json={"reference": REF, "status": "INFO_REQUIRED", "type": "INDIVIDUAL"},
    )
    customer = client.update_customer(
        REF,
        CustomerUpdate(contact_info=ContactInfo(phone_number="+15125550100")),
        idempotency_key=KEY,
    )
    assert sent_json(rsps.calls[0]) == {"contactInfo": {"phoneNumber": "+15125550100"}}
    assert customer.reference == REF
    with pytest.raises(ValueError, match="no field"):
        client.update_customer(REF, CustomerUpdate(), idempotency_key=KEY)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("", []),
        ('[{"reference": "d1", "status": "PENDING", "type": "COMPANY_DOC"}]', ["d1"]),
        ('{"documents": [{"documentReference": "d2"}]}', ["d2"]),
        ('{"reference": "d3"}', ["d3"]),
    ],
)
def test_upload_documents_base64_and_lenient_202(
    client: BvnkClient, rsps: responses.RequestsMock, body: str, expected: list[str]
) -> None:
    rsps.post(f"{CUSTOMERS}/{REF}/documents", status=202, body=body)
    accepted = client.upload_documents(
        REF,
        [
            DocumentUpload(
                type="COMPANY_DOC", sub_type="INCORPORATION_CERT", name="c.pdf", content=b"%PDF-1.4"
            )
        ],
        idempotency_key=KEY,
    )
    assert sent_json(rsps.calls[0]) == [
        {
            "type": "COMPANY_DOC",
            "subType": "INCORPORATION_CERT",
            "name": "c.pdf",
            "content": "JVBERi0xLjQ=",
        }
    ]
    assert [doc.reference for doc in accepted] == expected


def test_questionnaires_definitions_and_submit(
    client: BvnkClient, rsps: responses.RequestsMock
) -> None:
    rsps.get(
        f"{BASE}/platform/v1/customers/questionnaire/definitions",
        match=[matchers.query_param_matcher({"codes": "financialServicesQuestionnaireFull"})],
        json=[
            {
                "code": "financialServicesQuestionnaireFull",
                "title": "FS",
                "sections": [
                    {
                        "id": "natureOfBusiness",
                        "title": "Nature of Business",
                        "items": [{"id": "q1", "type": "text", "required": True}],
                    }
                ],
            }
        ],
    )
    rsps.put(f"{CUSTOMERS}/{REF}/questionnaires", status=202, body="")
    (definition,) = client.questionnaire_definitions(["financialServicesQuestionnaireFull"])
    assert definition.sections[0].items[0].id == "q1"
    answers = QuestionnaireAnswers(
        code=definition.code, sections={"natureOfBusiness": {"q1": "Payments"}}
    )
    client.submit_questionnaires(REF, [answers], idempotency_key=KEY)
    assert sent_json(rsps.calls[1]) == [
        {
            "code": "financialServicesQuestionnaireFull",
            "sections": {"natureOfBusiness": {"items": {"q1": {"value": "Payments"}}}},
        }
    ]


def test_agreement_sessions(client: BvnkClient, rsps: responses.RequestsMock) -> None:
    sessions = f"{CUSTOMERS}/agreement/sessions"
    payload = {
        "reference": "s1",
        "status": "PENDING",
        "customerType": "COMPANY",
        "countryCode": "US",
        "useCase": "EMBEDDED_FIAT_ACCOUNTS",
        "expiresOn": "2027-09-16T13:07:34.439862563Z",
        "agreements": [
            {
                "name": "A",
                "displayName": "Agreement",
                "url": "https://a",
                "privacyPolicyUrl": "https://p",
            }
        ],
    }
    rsps.post(sessions, status=201, json=payload)
    rsps.put(f"{sessions}/s1", status=204)
    rsps.get(f"{sessions}/s1", json={**payload, "status": "SIGNED"})
    created = client.create_agreement_session(samples.session_create(), idempotency_key=KEY)
    client.sign_agreement_session("s1", ip_address="203.0.113.7", idempotency_key=KEY)
    fetched = client.get_agreement_session("s1")
    assert sent_json(rsps.calls[0]) == samples.session_create().to_wire()
    assert sent_json(rsps.calls[1]) == {"status": "SIGNED", "ipAddress": "203.0.113.7"}
    assert (created.status, fetched.status) == ("PENDING", "SIGNED")
    assert created.expires_on == datetime(2027, 9, 16, 13, 7, 34, 439862, tzinfo=UTC)
    assert created.agreements[0].url == "https://a"
    with pytest.raises(ValueError):
        client.sign_agreement_session("s1", ip_address="x", idempotency_key=KEY, status="PENDING")


def test_reference_lists(client: BvnkClient, rsps: responses.RequestsMock) -> None:
    accounts = f"{BASE}/platform/v1/accounts"
    rsps.get(
        f"{accounts}/industries",
        json=[
            {"reference": "i1", "name": "Finance", "children": [
                {"reference": samples.INDUSTRY, "name": "Payment services"},
            ]},
            {"reference": "i2", "name": "Other", "children": []},
        ],
    )  # fmt: skip
    rsps.get(
        f"{accounts}/monthly-expected-volumes",
        json={"content": [{"reference": samples.VOLUME, "name": "Up to 10k"}]},
    )
    finance, other = client.industries()
    assert [c.reference for c in finance.children] == [samples.INDUSTRY]
    assert (other.reference, other.children) == ("i2", ())
    assert [v.name for v in client.monthly_expected_volumes()] == ["Up to 10k"]


# -- pagination ----------------------------------------------------------------------------


def page(number: int, refs: list[str], *, last: bool) -> dict[str, object]:
    return {
        "content": [
            {
                "reference": ref,
                "status": "VERIFIED",
                "type": "COMPANY",
                "model": "EMBEDDED",
                "name": f"Company {ref}",
            }
            for ref in refs
        ],
        "pageable": {"pageNumber": number, "pageSize": 2},
        "last": last,
        "totalPages": 3,
        "totalElements": 5,
        "first": number == 0,
        "size": 2,
        "number": number,
        "numberOfElements": len(refs),
        "empty": not refs,
    }


def test_iter_customers_walks_three_pages(
    client: BvnkClient, rsps: responses.RequestsMock, records: list[CallRecord]
) -> None:
    for number, refs, last in ((0, ["a", "b"], False), (1, ["c", "d"], False), (2, ["e"], True)):
        rsps.get(
            CUSTOMERS,
            match=[
                matchers.query_param_matcher({"page": str(number), "size": "2", "name": "Jane Doe"})
            ],
            json=page(number, refs, last=last),
        )
    refs = [summary.reference for summary in client.iter_customers(page_size=2, name="Jane Doe")]
    assert refs == ["a", "b", "c", "d", "e"]
    assert len(records) == 3
    assert {record.path for record in records} == {"/platform/v1/customers?page&size&name"}


def test_iter_customers_caps_the_page_size_and_stops_on_empty_pages(
    client: BvnkClient, rsps: responses.RequestsMock
) -> None:
    rsps.get(
        CUSTOMERS,
        match=[matchers.query_param_matcher({"page": "0", "size": "100"})],
        json={"content": [], "last": False},
    )
    assert list(client.iter_customers(page_size=500)) == []
    with pytest.raises(ValueError):
        list(client.iter_customers(page_size=0))


# -- errors --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "body", "headers", "permanent", "code"),
    [
        (
            400,
            {**ENVELOPE, "details": {"errors": {"individual.emailAddress": ["must be valid"]}}},
            {},
            True,
            "ACCOUNTS-2000",
        ),
        (
            400,
            {**ENVELOPE, "details": {"errors": {"individual.birthCountryCode": "Required"}}},
            {},
            True,
            "ACCOUNTS-2000",
        ),
        (401, {"code": "UNAUTHORIZED", "message": "Invalid Hawk"}, {}, True, "UNAUTHORIZED"),
        (403, {"code": "FORBIDDEN", "message": "IP not allowed"}, {}, True, "FORBIDDEN"),
        (
            403,
            "<html><title>Request blocked</title>Generated by cloudfront</html>",
            {"Content-Type": "text/html"},
            True,
            "WAF_BLOCKED",
        ),
        (404, {"code": "MER-PAY-2056", "message": "Customer not found"}, {}, True, "MER-PAY-2056"),
        (409, {"code": "CONFLICT", "message": "Conflict"}, {}, True, "CONFLICT"),
        (422, {"code": "UNPROCESSABLE", "message": "No"}, {}, True, "UNPROCESSABLE"),
        (408, {"code": "TIMEOUT", "message": "Request timeout"}, {}, False, "TIMEOUT"),
        (429, {"code": "RATE", "message": "Too many"}, {"Retry-After": "12"}, False, "RATE"),
        (500, {"code": "INTERNAL", "message": "Oops", "traceId": "abc"}, {}, False, "INTERNAL"),
        (
            502,
            "<html><body>502 Bad Gateway</body></html>",
            {"Content-Type": "text/html"},
            False,
            "NON_JSON_RESPONSE",
        ),
        (
            200,
            "<html>captive portal</html>",
            {"Content-Type": "text/html"},
            False,
            "INVALID_RESPONSE",
        ),
        (200, {"no": "reference"}, {}, False, "INVALID_RESPONSE"),
        (302, "", {"Location": "https://example.com"}, True, "UNEXPECTED_REDIRECT"),
    ],
)
def test_http_error_classes(
    client: BvnkClient,
    rsps: responses.RequestsMock,
    records: list[CallRecord],
    status: int,
    body: object,
    headers: dict[str, str],
    permanent: bool,
    code: str,
) -> None:
    kwargs: dict[str, object] = {"json": body} if isinstance(body, dict) else {"body": body}
    rsps.get(f"{CUSTOMERS}/{REF}", status=status, headers=headers, **kwargs)
    with pytest.raises(BvnkError) as caught:
        client.get_customer(REF)
    error = caught.value
    assert (error.status, error.permanent, error.code) == (status, permanent, code)
    assert error.is_auth_failure is (status == 401)
    (record,) = records
    assert record.status_code == status
    assert record.error == error.summary()
    if status == 400:
        assert next(iter(error.field_errors.values())) in (["must be valid"], ["Required"])
    if status == 429:
        assert error.retry_after == 12.0
    if status == 500:
        assert record.trace_id == error.trace_id == "abc"


def test_429_with_an_http_date(client: BvnkClient, rsps: responses.RequestsMock) -> None:
    rsps.get(
        f"{CUSTOMERS}/{REF}",
        status=429,
        headers={"Retry-After": "Wed, 21 Oct 2026 07:28:30 GMT"},
        json={},
    )
    with (
        time_machine.travel(datetime(2026, 10, 21, 7, 28, 0, tzinfo=UTC), tick=False),
        pytest.raises(BvnkError) as caught,
    ):
        client.get_customer(REF)
    assert caught.value.retry_after == 30.0
    assert caught.value.transient


@pytest.mark.parametrize(
    ("exception", "code"),
    [
        (requests.exceptions.ReadTimeout("read timed out"), "READ_TIMEOUT"),
        (requests.exceptions.ConnectTimeout("connect timed out"), "CONNECT_TIMEOUT"),
        (requests.exceptions.ConnectionError("refused"), "CONNECTION_ERROR"),
        (requests.exceptions.ChunkedEncodingError("dropped"), "CONNECTION_ERROR"),
    ],
)
def test_transport_failures_are_transient(
    client: BvnkClient,
    rsps: responses.RequestsMock,
    records: list[CallRecord],
    exception: Exception,
    code: str,
) -> None:
    rsps.post(CUSTOMERS, body=exception)
    with pytest.raises(BvnkError) as caught:
        client.create_customer(samples.individual_example(), idempotency_key=KEY)
    error = caught.value
    assert (error.status, error.permanent, error.code) == (None, False, code)
    assert isinstance(error.__cause__, requests.RequestException)
    (record,) = records
    assert record.status_code is None
    assert record.error == f"transport {code} transient"
    assert record.idempotency_key == KEY


# -- the observer --------------------------------------------------------------------------


def test_one_record_per_call_without_personal_data(
    client: BvnkClient, rsps: responses.RequestsMock, records: list[CallRecord]
) -> None:
    rsps.post(
        CUSTOMERS,
        status=201,
        json={"reference": REF, "status": "INFO_REQUIRED", "type": "INDIVIDUAL"},
    )
    rsps.post(
        CUSTOMERS,
        status=400,
        json={
            **ENVELOPE,
            "details": {
                "errors": {"individual.emailAddress": [f"{samples.EMAIL} is already in use"]}
            },
        },
    )
    client.create_customer(samples.individual_example(), idempotency_key=KEY)
    with pytest.raises(BvnkError) as caught:
        client.create_customer(samples.individual_example(), idempotency_key=KEY)
    assert samples.EMAIL in str(caught.value)  # The caller sees BVNK's message ...
    assert len(records) == 2
    ok, failed = records
    assert (ok.method, ok.path, ok.action, ok.status_code, ok.error) == (
        "POST",
        "/platform/v1/customers",
        "customer.create",
        201,
        "",
    )
    assert ok.idempotency_key == KEY
    assert ok.duration_ms >= 0
    assert ok.started_at.tzinfo is not None
    assert failed.status_code == 400
    assert failed.trace_id == ENVELOPE["traceId"]
    assert failed.error == "400 ACCOUNTS-2000 permanent fields=individual.emailAddress"
    for record in records:  # ... the call log never does.
        for value in dataclasses.astuple(record):
            for personal in (samples.EMAIL, "Jane", "123-45-6789", "1 Main Street"):
                assert personal not in str(value)


def test_a_failing_observer_never_breaks_the_call(
    rsps: responses.RequestsMock, caplog: pytest.LogCaptureFixture
) -> None:
    def explode(record: CallRecord) -> None:
        raise RuntimeError("metrics backend down")

    config = BvnkConfig(base_url=BASE, auth_id="test-id", secret="test-secret")
    bvnk = BvnkClient(config, observer=explode)
    rsps.get(f"{CUSTOMERS}/{REF}", json={"reference": REF, "status": "PENDING"})
    rsps.get(f"{CUSTOMERS}/missing", status=404, json={"code": "NOT_FOUND", "message": "nope"})
    with caplog.at_level(logging.ERROR, logger="customers.bvnk.client"):
        assert bvnk.get_customer(REF).status == "PENDING"
        with pytest.raises(BvnkError):
            bvnk.get_customer("missing")
    assert caplog.text.count("observer failed") == 2


def test_config_repr_hides_the_secret() -> None:
    config = BvnkConfig(base_url=BASE, auth_id="test-id", secret="super-secret")
    assert "super-secret" not in repr(config)


# -- connections -----------------------------------------------------------------------------


def test_a_thread_reuses_one_session_which_clients_do_not_close(rsps) -> None:
    """Calls reuse open connections to BVNK (and TLS handshakes) across operations."""
    from customers.bvnk.client import thread_session

    session = thread_session()
    assert thread_session() is session
    closed: list[bool] = []
    session.close = lambda: closed.append(True)  # type: ignore[method-assign]
    config = BvnkConfig(base_url=BASE, auth_id="test-id", secret="test-secret")
    rsps.get(f"{CUSTOMERS}/{REF}", json={"reference": REF})
    with BvnkClient(config, session=session) as bvnk:
        bvnk.get_customer(REF)
    assert closed == [], "a shared session outlives the client"
    assert rsps.calls[0].request.headers["Authorization"].startswith("Hawk ")

    other: list[object] = []
    worker = threading.Thread(target=lambda: other.append(thread_session()))
    worker.start()
    worker.join()
    assert other[0] is not session, "threads do not share a session"
    del session.close  # the real close again, for the thread's later users
