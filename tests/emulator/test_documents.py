"""Document upload, listing, download and deletion; questionnaires."""

from __future__ import annotations

import base64

import pytest
import requests

from tests.emulator.payloads import (
    CUSTOMERS,
    complete_answers,
    create_company,
    create_individual,
    document,
    errors_of,
)
from tests.emulator_server import EmulatorProcess, wait_until

pytestmark = pytest.mark.emulator

DOCUMENTS = "/platform/v1/customers/documents"
QUESTIONNAIRES = "/platform/v1/customers/questionnaires"
DEFINITIONS = "/platform/v1/customers/questionnaire/definitions"


def _documents(emulator: EmulatorProcess, customer: str) -> list[dict]:
    return emulator.get(f"{DOCUMENTS}?customerReference={customer}").json()


def test_upload_is_accepted_then_approved(emulator_reset: EmulatorProcess) -> None:
    emulator = emulator_reset
    customer = create_company(emulator)
    person = customer["company"]["associates"][0]["person"]["reference"]
    response = emulator.post(
        f"{CUSTOMERS}/{customer['reference']}/documents",
        json=[
            document("COMPANY_DOC", "INCORPORATION_CERT"),
            document("PASSPORT", "FRONT_SIDE", person),
        ],
    )
    assert response.status_code == 202, response.text
    first, second = response.json()
    assert first["status"] == "PENDING" and first["type"] == "COMPANY_DOC"
    assert first["subType"] == "INCORPORATION_CERT" and first["customerPersonReference"] is None
    assert second["customerPersonReference"] == person
    events = emulator.webhooks.wait_for(2, "bvnk:platform:customer:document-status-change")
    data = {e.json()["data"]["documentReference"]: e.json()["data"] for e in events}
    assert data[first["reference"]] == {
        "reference": customer["reference"],
        "documentReference": first["reference"],
        "status": "APPROVED",
        "type": "COMPANY_DOC",
        "subType": "INCORPORATION_CERT",
    }
    listed = _documents(emulator, customer["reference"])
    assert {d["status"] for d in listed} == {"APPROVED"}
    assert listed[0]["name"] == "COMPANY_DOC.pdf"
    # The uploaded requirements no longer show as outstanding.
    outstanding = emulator.get(f"{CUSTOMERS}/{customer['reference']}").json()["infoRequired"][
        "documents"
    ]
    assert ("COMPANY_DOC", "INCORPORATION_CERT") not in {
        (d["type"], d.get("subType")) for d in outstanding
    }
    assert person not in {d.get("customerPersonReference") for d in outstanding}


@pytest.mark.parametrize(
    ("entry", "field"),
    [
        (document("PASSPORT", "FRONT_SIDE", content="not base64!"), "documents[0].content"),
        (document("PASSPORT", "FRONT_SIDE", content=""), "documents[0].content"),
        (document("UTILITY_BILL", content="===="), "documents[0].content"),
        (document("BIRTH_CERTIFICATE"), "documents[0].type"),
        (document("COMPANY_DOC"), "documents[0].subType"),
        (document("COMPANY_DOC", "TAX_RETURN"), "documents[0].subType"),
        (document("ID_CARD", "MIDDLE"), "documents[0].subType"),
        (
            document("PASSPORT", "FRONT_SIDE", "00000000-0000-0000-0000-000000000000"),
            "documents[0].customerPersonReference",
        ),
        (document("PASSPORT", "FRONT_SIDE", name=""), "documents[0].name"),
    ],
)
def test_upload_validation(emulator: EmulatorProcess, entry: dict, field: str) -> None:
    customer = create_company(emulator)
    response = emulator.post(f"{CUSTOMERS}/{customer['reference']}/documents", json=[entry])
    assert field in errors_of(response)


def test_upload_body_must_be_a_non_empty_array(emulator: EmulatorProcess) -> None:
    customer = create_company(emulator)
    path = f"{CUSTOMERS}/{customer['reference']}/documents"
    assert "documents" in errors_of(emulator.post(path, json=[]))
    assert "documents" in errors_of(emulator.post(path, json=document("PASSPORT")))


def test_every_listed_spelling_is_accepted(emulator: EmulatorProcess) -> None:
    customer = create_individual(emulator)
    entries = [
        document("DRIVER_LICENSE", "FRONT_SIDE"),
        document("DRIVERS", "BACK_SIDE"),
        document("DRIVERS_LICENSE", "FRONT_SIDE"),
        document("UTILITY_BILL"),
        document("BANK_STATEMENT"),
        document("PROOF_OF_RESIDENCE"),
        document("RESIDENCE_PERMIT", "FRONT_SIDE"),
        document("SELFIE"),
        document("PASSPORT"),
        document("POWER_OF_ATTORNEY", "POWER_OF_ATTORNEY"),
        document("ID_CARD", "BACK_SIDE", customer["individual"]["person"]["reference"]),
    ]
    response = emulator.post(f"{CUSTOMERS}/{customer['reference']}/documents", json=entries)
    assert response.status_code == 202, response.text
    assert [d["type"] for d in response.json()] == [e["type"] for e in entries]


def test_upload_refused_outside_info_required(emulator: EmulatorProcess) -> None:
    customer = create_individual(emulator)
    emulator.control(f"customers/{customer['reference']}/status", {"status": "VERIFIED"})
    response = emulator.post(
        f"{CUSTOMERS}/{customer['reference']}/documents", json=[document("PASSPORT")]
    )
    assert "status" in errors_of(response)


def test_upload_for_unknown_customer_is_404(emulator: EmulatorProcess) -> None:
    response = emulator.post(
        f"{CUSTOMERS}/00000000-0000-0000-0000-000000000000/documents", json=[document("PASSPORT")]
    )
    assert response.status_code == 404


def test_rejectdoc_is_rejected_and_stays_required(emulator_reset: EmulatorProcess) -> None:
    emulator = emulator_reset
    customer = create_individual(emulator)
    reference = customer["reference"]
    emulator.post(
        f"{CUSTOMERS}/{reference}/documents",
        json=[
            document("PASSPORT", "FRONT_SIDE", name="passport REJECTDOC.pdf"),
            document("PROOF_OF_RESIDENCE"),
        ],
    )
    events = emulator.webhooks.wait_for(2, "bvnk:platform:customer:document-status-change")
    rejected = wait_until(
        lambda: [d for d in _documents(emulator, reference) if d["status"] == "REJECTED"]
    )
    assert rejected[0]["type"] == "PASSPORT"
    body = emulator.get(f"{CUSTOMERS}/{reference}").json()
    assert body["status"] == "INFO_REQUIRED"
    assert [d["type"] for d in body["infoRequired"]["documents"]] == ["PASSPORT"]
    # One update when the upload covered everything, one when the review rejected a file.
    updates = emulator.webhooks.wait_for(2, "bvnk:platform:customer:update")
    assert updates[0].json()["data"]["infoRequired"]["documents"] == []
    assert updates[-1].json()["data"]["infoRequired"]["documents"][0]["type"] == "PASSPORT"
    assert {e.json()["data"]["status"] for e in events} == {"APPROVED", "REJECTED"}


def test_delete_and_download(emulator: EmulatorProcess) -> None:
    customer = create_individual(emulator)
    uploaded = emulator.post(
        f"{CUSTOMERS}/{customer['reference']}/documents",
        json=[document("PASSPORT"), document("SELFIE")],
    ).json()
    keep, drop = uploaded[0]["reference"], uploaded[1]["reference"]

    link = emulator.get(f"{DOCUMENTS}/{keep}/url").json()
    assert link["url"].startswith(emulator.url) and link["expiresAt"].endswith("Z")
    download = requests.get(link["url"], timeout=5)
    assert download.status_code == 200
    assert download.content == base64.b64decode(document("PASSPORT")["content"])
    assert download.headers["Content-Type"] == "application/pdf"
    assert (
        requests.get(link["url"].replace("signature=", "signature=0"), timeout=5).status_code == 403
    )

    assert emulator.delete(f"{DOCUMENTS}/{drop}").status_code == 204
    assert [d["reference"] for d in _documents(emulator, customer["reference"])] == [keep]
    assert emulator.delete(f"{DOCUMENTS}/{drop}").status_code == 404
    assert emulator.get(f"{DOCUMENTS}/{drop}/url").status_code == 404
    one = emulator.get(f"{DOCUMENTS}?documentReference={keep}").json()
    assert [d["reference"] for d in one] == [keep]


def test_documents_of_unknown_customer_is_404(emulator: EmulatorProcess) -> None:
    assert emulator.get(f"{DOCUMENTS}?customerReference=nope").status_code == 404


# -- questionnaires ---------------------------------------------------------------------


def test_definitions(emulator: EmulatorProcess) -> None:
    everything = emulator.get(DEFINITIONS).json()
    assert {d["code"] for d in everything} == {
        "financialServicesQuestionnaireFull",
        "amlCryptoComplianceQuestionnaireFull",
        "gamblingQuestionnaireFull",
        "fintechsQuestionnaireFull",
        "otherQuestionnaireFull",
    }
    for definition in everything:
        assert [s["title"] for s in definition["sections"]] == [
            "Nature of Business",
            "Document Requirements",
        ]
        for item in (i for s in definition["sections"] for i in s["items"]):
            assert item["type"] in {"text", "select", "multiselect", "boolean"}
            assert set(item) == {"id", "title", "type", "required", "options"}
    some = emulator.get(
        f"{DEFINITIONS}?codes=gamblingQuestionnaireFull,otherQuestionnaireFull"
    ).json()
    assert [d["code"] for d in some] == ["gamblingQuestionnaireFull", "otherQuestionnaireFull"]
    assert "codes" in errors_of(emulator.get(f"{DEFINITIONS}?codes=nope"))


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ([{"code": "nope", "sections": {}}], "questionnaires[0].code"),
        (
            [{"code": "otherQuestionnaireFull", "sections": {"x": {"items": {}}}}],
            "questionnaires[0].sections.x",
        ),
        (
            [
                {
                    "code": "otherQuestionnaireFull",
                    "sections": {"natureOfBusiness": {"items": {"ghost": {"value": "1"}}}},
                }
            ],
            "questionnaires[0].sections.natureOfBusiness.items.ghost",
        ),
        (
            [
                {
                    "code": "otherQuestionnaireFull",
                    "sections": {
                        "natureOfBusiness": {"items": {"customerBase": {"value": "ALIENS"}}}
                    },
                }
            ],
            "questionnaires[0].sections.natureOfBusiness.items.customerBase",
        ),
        (
            [
                {
                    "code": "otherQuestionnaireFull",
                    "sections": {
                        "documentRequirements": {"items": {"hasAmlPolicy": {"value": "maybe"}}}
                    },
                }
            ],
            "questionnaires[0].sections.documentRequirements.items.hasAmlPolicy",
        ),
        ({"code": "otherQuestionnaireFull"}, "questionnaires"),
    ],
)
def test_submission_validation(emulator: EmulatorProcess, body: object, field: str) -> None:
    customer = create_company(emulator)
    assert field in errors_of(
        emulator.put(f"{CUSTOMERS}/{customer['reference']}/questionnaires", json=body)
    )


def test_incomplete_then_complete_submission(emulator_reset: EmulatorProcess) -> None:
    emulator = emulator_reset
    reference = create_company(emulator)["reference"]
    path = f"{CUSTOMERS}/{reference}/questionnaires"
    partial = complete_answers()
    del partial[0]["sections"]["natureOfBusiness"]["items"]["businessDescription"]
    response = emulator.put(path, json=partial)
    assert (response.status_code, response.json()) == (202, {"message": "Submission accepted"})

    def submissions() -> list[dict]:
        return emulator.get(f"{QUESTIONNAIRES}?customerReference={reference}").json()

    [checked] = wait_until(lambda: [s for s in submissions() if s["status"] != "SUBMITTED"])
    assert checked["status"] == "INCOMPLETE"
    assert checked["missingItems"] == ["natureOfBusiness.businessDescription"]
    customer = emulator.get(f"{CUSTOMERS}/{reference}").json()
    assert customer["infoRequired"]["questionnaireCodes"] == ["financialServicesQuestionnaireFull"]
    [update] = emulator.webhooks.wait_for(1, "bvnk:platform:customer:update")
    assert update.json()["data"]["infoRequired"]["questionnaireCodes"] == [
        "financialServicesQuestionnaireFull"
    ]

    assert emulator.put(path, json=complete_answers()).status_code == 202
    wait_until(lambda: submissions()[-1]["status"] == "COMPLETE")
    customer = emulator.get(f"{CUSTOMERS}/{reference}").json()
    assert customer["infoRequired"]["questionnaireCodes"] == []
    assert len(emulator.get(QUESTIONNAIRES).json()) == 2


def test_a_document_asked_for_after_verification_then_rejected_with_a_reason(
    emulator_reset: EmulatorProcess,
) -> None:
    emulator = emulator_reset
    reference = create_individual(emulator)["reference"]
    emulator.control(f"customers/{reference}/status", {"status": "VERIFIED"}).raise_for_status()
    asked = emulator.control(
        f"customers/{reference}/request-document",
        {"type": "PROOF_OF_RESIDENCE", "description": "A bill from the last three months."},
    )
    assert asked.status_code == 200, asked.text
    body = emulator.get(f"{CUSTOMERS}/{reference}").json()
    assert body["status"] == "ACTIONS_REQUIRED", "a verified customer is reopened by a review"
    requested = [d for d in body["infoRequired"]["documents"] if d.get("description")]
    assert requested == [
        {"type": "PROOF_OF_RESIDENCE", "description": "A bill from the last three months."}
    ]
    uploaded = emulator.post(
        f"{CUSTOMERS}/{reference}/documents", json=[document("PROOF_OF_RESIDENCE")]
    ).json()
    review = emulator.control(
        f"documents/{uploaded[0]['reference']}/review",
        {"status": "REJECTED", "reason": "Cut off at the bottom."},
    )
    assert review.json()["rejectionReason"] == "Cut off at the bottom."
    events = emulator.webhooks.wait_for(1, "bvnk:platform:customer:document-status-change")
    rejected = [e.json()["data"] for e in events if e.json()["data"]["status"] == "REJECTED"]
    assert rejected[0]["rejectionReason"] == "Cut off at the bottom."
    body = emulator.get(f"{CUSTOMERS}/{reference}").json()
    assert any(d.get("description") for d in body["infoRequired"]["documents"]), "still asked"
    wrong = emulator.control(f"documents/{uploaded[0]['reference']}/review", {"status": "MAYBE"})
    assert wrong.status_code == 400
