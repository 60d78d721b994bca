"""Agreement sessions, customer create/get/list/update, idempotency and reference lists."""

from __future__ import annotations

import datetime as dt
import re
import uuid

import pytest

from tests.emulator.payloads import (
    CUSTOMERS,
    FINANCIAL_SERVICES,
    FOOD_BEVERAGES,
    SESSIONS,
    VOLUME,
    company,
    create_company,
    create_individual,
    errors_of,
    individual,
    signed_session,
)
from tests.emulator_server import EmulatorProcess

pytestmark = pytest.mark.emulator

UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


# -- agreement sessions -------------------------------------------------------------------


def test_session_create_shape_and_us_agreement(emulator: EmulatorProcess) -> None:
    response = emulator.post(
        SESSIONS,
        json={
            "customerType": "INDIVIDUAL",
            "countryCode": "US",
            "useCase": "EMBEDDED_FIAT_ACCOUNTS",
        },
    )
    assert response.status_code == 201
    body = response.json()
    assert UUID.match(body["reference"]) and UUID.match(body["accountReference"])
    assert body["status"] == "PENDING"
    assert (body["customerType"], body["countryCode"], body["useCase"]) == (
        "INDIVIDUAL",
        "US",
        "EMBEDDED_FIAT_ACCOUNTS",
    )
    expires = dt.datetime.fromisoformat(body["expiresOn"][:26] + "+00:00")
    assert 360 < (expires - dt.datetime.now(dt.UTC)).days < 370
    [agreement] = body["agreements"]
    assert agreement["name"] == "EMBEDDED_PARTNER_PLATFORM_CUSTOMERS_US"
    assert agreement["status"] == "PENDING"
    assert agreement["url"].startswith("https://") and agreement["privacyPolicyUrl"]


def test_session_for_an_eu_country_gets_the_eu_agreement(emulator: EmulatorProcess) -> None:
    response = emulator.post(
        SESSIONS, json={"customerType": "COMPANY", "countryCode": "DE", "useCase": "FIAT"}
    )
    assert response.json()["agreements"][0]["name"] == "EMBEDDED_PARTNER_PLATFORM_CUSTOMERS_EU"


def test_session_sign_via_api_and_get(emulator_reset: EmulatorProcess) -> None:
    emulator = emulator_reset
    reference = signed_session(emulator)
    body = emulator.get(f"{SESSIONS}/{reference}").json()
    assert body["status"] == "SIGNED"
    assert body["agreements"][0]["status"] == "SIGNED"
    [event] = emulator.webhooks.wait_for(
        1, "bvnk:platform:customer:agreement-session-status-change"
    )
    assert event.json()["data"] == {"status": "SIGNED", "reference": reference}
    # Signing again is a no-op; declining a signed session is refused.
    assert (
        emulator.put(
            f"{SESSIONS}/{reference}", json={"status": "SIGNED", "ipAddress": "::1"}
        ).status_code
        == 204
    )
    declined = emulator.put(
        f"{SESSIONS}/{reference}", json={"status": "DECLINED", "ipAddress": "::1"}
    )
    assert "status" in errors_of(declined)


def test_unknown_session_is_404(emulator: EmulatorProcess) -> None:
    response = emulator.get(f"{SESSIONS}/{uuid.uuid4()}")
    assert response.status_code == 404
    assert response.json()["status"] == "Not Found"


def test_create_needs_a_signed_session_of_the_same_type(emulator: EmulatorProcess) -> None:
    pending = emulator.post(
        SESSIONS, json={"customerType": "COMPANY", "countryCode": "US", "useCase": "FIAT"}
    )
    response = emulator.post(CUSTOMERS, json=company(pending.json()["reference"]))
    assert "not signed" in errors_of(response)["signedAgreementSessionReference"][0]

    individual_session = signed_session(emulator, "INDIVIDUAL")
    response = emulator.post(CUSTOMERS, json=company(individual_session))
    assert "INDIVIDUAL" in errors_of(response)["signedAgreementSessionReference"][0]

    response = emulator.post(CUSTOMERS, json=company(str(uuid.uuid4())))
    assert "not found" in errors_of(response)["signedAgreementSessionReference"][0]


def test_reused_agreement_session(emulator: EmulatorProcess) -> None:
    session = signed_session(emulator)
    assert emulator.post(CUSTOMERS, json=company(session)).status_code == 201
    errors = errors_of(emulator.post(CUSTOMERS, json=company(session)))
    assert errors["signedAgreementSessionReference"] == [
        f"Agreement session with reference: {session} is already assigned to the customer"
    ]


def test_duplicate_external_reference(emulator: EmulatorProcess) -> None:
    first = company(signed_session(emulator))
    assert emulator.post(CUSTOMERS, json=first).status_code == 201
    second = company(signed_session(emulator), externalReference=first["externalReference"])
    errors = errors_of(emulator.post(CUSTOMERS, json=second))
    assert errors["externalReference"] == [
        f"Customer with external reference: {first['externalReference']} already exists"
    ]


# -- create and get ----------------------------------------------------------------------------


def test_create_company_response_per_decision_2(emulator: EmulatorProcess) -> None:
    response = emulator.post(CUSTOMERS, json=company(signed_session(emulator)))
    assert response.status_code == 201
    body = response.json()
    assert body == {
        "reference": body["reference"],
        "status": "INFO_REQUIRED",
        "type": "COMPANY",
        "infoRequired": {"questionnaireCodes": ["financialServicesQuestionnaireFull"]},
    }


@pytest.mark.parametrize(
    ("industry", "code"),
    [
        ("7d1c2a10-06fa-11ef-8a7e-02d3d923cf2b", "amlCryptoComplianceQuestionnaireFull"),
        ("8b4e5f21-06fa-11ef-9c1d-02d3d923cf2b", "gamblingQuestionnaireFull"),
        ("9a0f6e32-06fa-11ef-ae42-02d3d923cf2b", "fintechsQuestionnaireFull"),
        ("56e65ebc-06fa-11ef-bbf8-02d3d923cf2b", "otherQuestionnaireFull"),
    ],
)
def test_questionnaire_code_follows_the_industry(
    emulator: EmulatorProcess, industry: str, code: str
) -> None:
    body = company(signed_session(emulator))
    body["company"]["industryReference"] = industry
    assert emulator.post(CUSTOMERS, json=body).json()["infoRequired"]["questionnaireCodes"] == [
        code
    ]


def test_get_company(emulator: EmulatorProcess) -> None:
    body = create_company(emulator)
    assert body["status"] == "INFO_REQUIRED"
    assert body["flowType"] == "API"
    assert body["externalReference"]
    assert body["company"]["address"]["country"] == "United States"
    assert body["company"]["address"]["state"] == "California"
    first, second = body["company"]["associates"]
    assert UUID.match(first["person"]["reference"])
    assert first["titles"] == ["UBO", "DIRECTOR"] and first["ownershipPercentage"] == 60
    assert first["details"]["contactInfo"]["emailAddress"] == "sean@example.com"
    assert body["verification"]["status"] == "init"
    assert body["verification"]["url"].startswith(emulator.url + "/verification/")
    info = body["infoRequired"]
    assert info["questionnaireCodes"] == ["financialServicesQuestionnaireFull"]
    assert {
        (d["type"], d.get("subType"), d.get("customerPersonReference")) for d in info["documents"]
    } == {
        ("COMPANY_DOC", "INCORPORATION_CERT", None),
        ("COMPANY_DOC", "INCORPORATION_ARTICLES", None),
        ("COMPANY_DOC", "DIRECTORS_REGISTRY", None),
        ("COMPANY_DOC", "PROOF_OF_ADDRESS", None),
        ("PASSPORT", "FRONT_SIDE", first["person"]["reference"]),
        ("PASSPORT", "FRONT_SIDE", second["person"]["reference"]),
    }
    assert body["createdAt"].endswith("Z") and body["updatedAt"]


def test_get_individual(emulator: EmulatorProcess) -> None:
    body = create_individual(emulator)
    person = body["individual"]["person"]
    assert UUID.match(person["reference"])
    assert person["address"]["state"] == "Texas"
    assert body["individual"]["details"]["contactInfo"] == {"emailAddress": "jane@example.com"}
    assert body["individual"]["cdd"]["expectedMonthlyVolume"] == {"amount": 1000, "currency": "USD"}
    assert body["infoRequired"]["questionnaireCodes"] == []


def test_unknown_customer_is_404_with_envelope(emulator: EmulatorProcess) -> None:
    response = emulator.get(f"{CUSTOMERS}/{uuid.uuid4()}")
    assert response.status_code == 404
    body = response.json()
    assert body["status"] == "Not Found" and body["message"].startswith("Customer not found")
    assert re.fullmatch(r"[0-9a-f]{32}", body["traceId"])


# -- idempotency -----------------------------------------------------------------------------


def test_idempotent_replay_returns_the_same_reference(emulator: EmulatorProcess) -> None:
    body = company(signed_session(emulator))
    key = {"X-Idempotency-Key": str(uuid.uuid4())}
    first = emulator.post(CUSTOMERS, json=body, headers=key)
    second = emulator.post(CUSTOMERS, json=body, headers=key)
    assert (first.status_code, second.status_code) == (201, 200)
    assert second.json() == first.json()
    calls = emulator.control("customers", method="GET").json()["createCalls"]
    assert calls[body["externalReference"]] == {"succeeded": 1, "replayed": 1, "refused": 0}


def test_same_key_with_a_different_body_is_400(emulator: EmulatorProcess) -> None:
    body = company(signed_session(emulator))
    key = {"X-Idempotency-Key": str(uuid.uuid4())}
    assert emulator.post(CUSTOMERS, json=body, headers=key).status_code == 201
    changed = dict(body, externalReference=str(uuid.uuid4()))
    assert "X-Idempotency-Key" in errors_of(emulator.post(CUSTOMERS, json=changed, headers=key))


def test_failed_calls_are_not_stored(emulator: EmulatorProcess) -> None:
    body = company(signed_session(emulator))
    key = {"X-Idempotency-Key": str(uuid.uuid4())}
    broken = dict(body, company={**body["company"], "entityType": "BANK"})
    assert emulator.post(CUSTOMERS, json=broken, headers=key).status_code == 400
    assert emulator.post(CUSTOMERS, json=body, headers=key).status_code == 201


def test_idempotency_covers_agreement_sessions(emulator: EmulatorProcess) -> None:
    body = {"customerType": "COMPANY", "countryCode": "US", "useCase": "FIAT"}
    key = {"X-Idempotency-Key": str(uuid.uuid4())}
    first = emulator.post(SESSIONS, json=body, headers=key)
    second = emulator.post(SESSIONS, json=body, headers=key)
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json()["reference"] == second.json()["reference"]


# -- list ------------------------------------------------------------------------------------


def test_pagination_sort_and_name_filter(emulator_reset: EmulatorProcess) -> None:
    emulator = emulator_reset
    for name in ("Alpha Ltd", "Beta Ltd", "Gamma Inc"):
        create_company(emulator, name=name)
    page = emulator.get(f"{CUSTOMERS}?page=0&size=2").json()
    assert (page["totalElements"], page["totalPages"], page["numberOfElements"]) == (3, 2, 2)
    assert page["first"] and not page["last"] and page["pageable"]["pageSize"] == 2
    assert page["content"][0]["name"] == "Alpha Ltd"
    assert set(page["content"][0]) >= {
        "reference",
        "externalReference",
        "status",
        "type",
        "model",
        "name",
    }
    assert page["content"][0]["model"] == "EMBEDDED"
    last = emulator.get(f"{CUSTOMERS}?page=1&size=2").json()
    assert last["last"] and [c["name"] for c in last["content"]] == ["Gamma Inc"]
    newest = emulator.get(f"{CUSTOMERS}?sort=createdAt,desc").json()
    assert [c["name"] for c in newest["content"]] == ["Gamma Inc", "Beta Ltd", "Alpha Ltd"]
    assert newest["sort"]["sorted"] and newest["size"] == 20
    by_name = emulator.get(f"{CUSTOMERS}?name=ltd&sort=name,desc").json()
    assert [c["name"] for c in by_name["content"]] == ["Beta Ltd", "Alpha Ltd"]
    assert emulator.get(f"{CUSTOMERS}?page=5").json()["content"] == []


@pytest.mark.parametrize(
    ("query", "field"),
    [("size=101", "size"), ("size=0", "size"), ("page=-1", "page"), ("sort=colour,asc", "sort")],
)
def test_list_parameter_errors(emulator: EmulatorProcess, query: str, field: str) -> None:
    assert field in errors_of(emulator.get(f"{CUSTOMERS}?{query}"))


# -- update ------------------------------------------------------------------------------------


def test_put_merges_a_partial_individual_update(emulator_reset: EmulatorProcess) -> None:
    emulator = emulator_reset
    reference = create_individual(emulator)["reference"]
    response = emulator.put(
        f"{CUSTOMERS}/{reference}",
        json={
            "contactInfo": {"emailAddress": "new@example.com", "phoneNumber": "+1222"},
            "address": {"stateCode": "NY", "city": "New York"},
        },
    )
    assert response.status_code == 200, response.text
    person = response.json()["individual"]["person"]
    assert person["address"]["addressLine1"] == "1 Main Street"  # kept
    assert (person["address"]["city"], person["address"]["state"]) == ("New York", "New York")
    contact = response.json()["individual"]["details"]["contactInfo"]
    assert contact == {"emailAddress": "new@example.com", "phoneNumber": "+1222"}
    again = emulator.put(f"{CUSTOMERS}/{reference}", json={"dateOfBirth": "1985-01-01"})
    assert again.json()["individual"]["person"]["dateOfBirth"] == "1985-01-01"
    events = emulator.webhooks.wait_for(2, "bvnk:platform:customer:update")
    data = events[0].json()["data"]
    assert data["reference"] == reference and data["status"] == "INFO_REQUIRED"
    assert data["verification"]["url"] and "infoRequired" in data and data["externalReference"]


def test_company_update_name_and_address(emulator: EmulatorProcess) -> None:
    reference = create_company(emulator)["reference"]
    response = emulator.put(
        f"{CUSTOMERS}/{reference}",
        json={"name": "LB Holdings", "description": "Renamed", "address": {"postalCode": "92102"}},
    )
    company_body = response.json()["company"]
    assert (company_body["name"], company_body["description"]) == ("LB Holdings", "Renamed")
    assert company_body["address"]["postalCode"] == "92102"
    assert company_body["address"]["city"] == "San Diego"


def test_update_validation_errors(emulator: EmulatorProcess) -> None:
    reference = create_individual(emulator)["reference"]
    errors = errors_of(
        emulator.put(
            f"{CUSTOMERS}/{reference}",
            json={
                "address": {"stateCode": "ZZ"},
                "contactInfo": {"emailAddress": "x"},
                "dateOfBirth": "2999-01-01",
            },
        )
    )
    assert {"address.stateCode", "contactInfo.emailAddress", "dateOfBirth"} <= errors.keys()


def test_update_is_refused_for_rejected_or_terminated(emulator: EmulatorProcess) -> None:
    reference = create_individual(emulator)["reference"]
    for status in ("REJECTED", "TERMINATED"):
        emulator.control(f"customers/{reference}/status", {"status": status}).raise_for_status()
        response = emulator.put(f"{CUSTOMERS}/{reference}", json={"dateOfBirth": "1985-01-01"})
        assert "status" in errors_of(response)


def test_update_unknown_customer_is_404(emulator: EmulatorProcess) -> None:
    assert emulator.put(f"{CUSTOMERS}/{uuid.uuid4()}", json={"name": "x"}).status_code == 404


# -- reference lists ---------------------------------------------------------------------------


def test_industries_and_volumes_include_the_documented_uuids(emulator: EmulatorProcess) -> None:
    industries = emulator.get("/platform/v1/accounts/industries").json()
    volumes = emulator.get("/platform/v1/accounts/monthly-expected-volumes").json()
    children = [child for industry in industries for child in industry["children"]]
    assert {FINANCIAL_SERVICES, FOOD_BEVERAGES, "56e65ebc-06fa-11ef-bbf8-02d3d923cf2b"} <= {
        child["reference"] for child in children
    }
    assert {VOLUME, "a4318a0d-5316-11ef-9887-0289b1b0d83d"} <= {v["reference"] for v in volumes}
    assert all(set(item) == {"reference", "name", "children"} for item in industries)
    assert all(set(item) == {"reference", "name"} for item in children + volumes)
    # The old guessed paths are gone, as at BVNK.
    assert emulator.get(f"{CUSTOMERS}/industries").status_code == 404


def test_unknown_platform_route_is_404_envelope(emulator: EmulatorProcess) -> None:
    response = emulator.get("/platform/v1/wallets")
    assert response.status_code == 404
    assert response.json()["status"] == "Not Found"


def test_customer_with_individual_session_created_via_lower_case_type(
    emulator: EmulatorProcess,
) -> None:
    body = individual(signed_session(emulator, "INDIVIDUAL"), type="individual")
    assert emulator.post(CUSTOMERS, json=body).json()["type"] == "INDIVIDUAL"


# -- switches for what BVNK's documentation leaves open -------------------------------------


def test_update_method_switch_takes_one_method_and_refuses_the_other(make_emulator) -> None:
    for method, other in (("PUT", "PATCH"), ("PATCH", "PUT")):
        emulator = make_emulator(BVNK_EMULATOR_UPDATE_METHOD=method)
        reference = create_individual(emulator)["reference"]
        body = {"dateOfBirth": "1985-01-01"}
        refused = emulator.request(other, f"{CUSTOMERS}/{reference}", json=body)
        assert refused.status_code == 405 and refused.headers["Allow"] == method
        answer = emulator.request(method, f"{CUSTOMERS}/{reference}", json=body)
        assert answer.status_code == 200, answer.text
        assert answer.json()["individual"]["person"]["dateOfBirth"] == "1985-01-01"


def test_create_answer_switch_pending_shows_info_required_on_get(make_emulator) -> None:
    emulator = make_emulator(
        BVNK_EMULATOR_CREATE_ANSWER="pending", BVNK_EMULATOR_INFO_REQUIRED_KEY="questionnaires"
    )
    answer = emulator.post(CUSTOMERS, json=company(signed_session(emulator)))
    created = answer.json()
    # The sandbox capture: 201 {reference, status: PENDING}, nothing else.
    assert answer.status_code == 201 and created["status"] == "PENDING"
    assert set(created) == {"reference", "status"}
    customer = emulator.get(f"{CUSTOMERS}/{created['reference']}").json()
    assert customer["status"] == "INFO_REQUIRED"
    assert customer["infoRequired"]["questionnaires"] == [
        {"code": "financialServicesQuestionnaireFull"}
    ]
    assert "questionnaireCodes" not in customer["infoRequired"]


def test_replay_switch_conflict_refuses_a_repeated_create(make_emulator) -> None:
    emulator = make_emulator(BVNK_EMULATOR_REPLAY="conflict")
    body, key = company(signed_session(emulator)), str(uuid.uuid4())
    first = emulator.post(CUSTOMERS, json=body, headers={"X-Idempotency-Key": key})
    assert first.status_code == 201
    again = emulator.post(CUSTOMERS, json=body, headers={"X-Idempotency-Key": key})
    assert again.status_code == 400
    assert "already exists" in errors_of(again)["X-Idempotency-Key"][0]
    counts = emulator.control("customers", method="GET").json()["createCalls"]
    assert counts[body["externalReference"]] == {"succeeded": 1, "replayed": 0, "refused": 1}
    # The customer is found the v2 way, by its externalReference.
    found = emulator.get("/platform/v2/customers", params={"reference": body["externalReference"]})
    assert [c["id"] for c in found.json()["content"]] == [first.json()["reference"]]
