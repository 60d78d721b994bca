"""Hawk verification: three known-good vectors and the 401 cases over HTTP."""

from __future__ import annotations

import time
from typing import Any

import pytest
import requests

from bvnk_emulator import hawk
from tests.emulator_server import EmulatorProcess, HawkAuth

VECTOR_KEY = "werxhqb98rpaxn39848xrunpaw3489ruxnpa98w4rxn"
SPEC_REQUEST: dict[str, Any] = {
    "ts": 1353832234,
    "nonce": "j4h3g2",
    "method": "GET",
    "resource": "/resource/1?b=1&a=2",
    "host": "example.com",
    "port": 8000,
}
BVNK_VECTOR: dict[str, Any] = {
    "ts": 1728655954,
    "nonce": "MdPBLt",
    "method": "POST",
    "resource": "/platform/v1/customers",
    "host": "api.sandbox.bvnk.com",
    "port": 443,
}
BVNK_MAC = "nkIFTV3K/gXw3DlUbuHWypmGLYTPDEc7RXRszNrIBlQ="


def test_vector_1_official_hawk_spec() -> None:
    mac = hawk.compute_mac(VECTOR_KEY, ext="some-app-ext-data", **SPEC_REQUEST)
    assert mac == "6R4rV5iE+NPoym+WwjeHzjAGXUtLNIxmo1vpMofpLAE="


def test_vector_2_empty_ext() -> None:
    assert (
        hawk.compute_mac(VECTOR_KEY, **SPEC_REQUEST)
        == "nfp3t5BVkMvjhU3PrD0ftTp7NcVpETEX2HEi/Fo4S2g="
    )


def test_vector_3_is_accepted_by_the_verifier_with_a_frozen_clock() -> None:
    header = f'Hawk id="bvnk-id", ts="1728655954", nonce="MdPBLt", mac="{BVNK_MAC}"'
    auth_id = hawk.verify(
        header,
        method="POST",
        resource="/platform/v1/customers",
        host="api.sandbox.bvnk.com",
        port=443,
        credentials={"bvnk-id": "test-secret"},
        nonces=hawk.NonceCache(),
        now=1728655954 + 30,
    )
    assert auth_id == "bvnk-id"


def test_vector_1_with_ext_is_accepted_by_the_verifier() -> None:
    header = (
        'Hawk id="dh37fgj492je", ts="1353832234", nonce="j4h3g2", '
        'ext="some-app-ext-data", mac="6R4rV5iE+NPoym+WwjeHzjAGXUtLNIxmo1vpMofpLAE="'
    )
    assert (
        hawk.verify(
            header,
            method="GET",
            resource="/resource/1?b=1&a=2",
            host="example.com",
            port=8000,
            credentials={"dh37fgj492je": VECTOR_KEY},
            nonces=hawk.NonceCache(),
            now=1353832234,
        )
        == "dh37fgj492je"
    )


def test_build_header_matches_bvnk_example_format() -> None:
    header = hawk.build_header("bvnk-id", "test-secret", **BVNK_VECTOR)
    assert header == f'Hawk id="bvnk-id", ts="1728655954", nonce="MdPBLt", mac="{BVNK_MAC}"'


def _verify(
    header: str | None, now: float = 1728655954, nonces: hawk.NonceCache | None = None
) -> str:
    return hawk.verify(
        header,
        method="POST",
        resource="/platform/v1/customers",
        host="api.sandbox.bvnk.com",
        port=443,
        credentials={"bvnk-id": "test-secret"},
        nonces=nonces or hawk.NonceCache(),
        now=now,
    )


GOOD = f'Hawk id="bvnk-id", ts="1728655954", nonce="MdPBLt", mac="{BVNK_MAC}"'


@pytest.mark.parametrize(
    ("header", "message"),
    [
        (None, "Missing Authorization header"),
        ("Bearer abc", "Authorization scheme must be Hawk"),
        ('Hawk id="bvnk-id", ts="1728655954"', "Missing Hawk attributes: nonce, mac"),
        ('Hawk id="bvnk-id" ts=1', "Malformed Hawk header"),
        (GOOD.replace("bvnk-id", "someone-else"), "Unknown credentials"),
        (GOOD.replace("nkIF", "AAAA"), "Bad mac"),
    ],
)
def test_verifier_rejects(header: str | None, message: str) -> None:
    with pytest.raises(hawk.HawkError, match=message):
        _verify(header)


def test_verifier_rejects_clock_skew_beyond_60_seconds() -> None:
    _verify(GOOD, now=1728655954 + 60)
    with pytest.raises(hawk.HawkError, match="Stale timestamp"):
        _verify(GOOD, now=1728655954 + 61)
    with pytest.raises(hawk.HawkError, match="Stale timestamp"):
        _verify(GOOD, now=1728655954 - 61)


def test_verifier_rejects_a_nonce_reused_within_15_minutes() -> None:
    nonces = hawk.NonceCache()
    _verify(GOOD, nonces=nonces)
    with pytest.raises(hawk.HawkError, match="Invalid nonce"):
        _verify(GOOD, now=1728655954 + 10, nonces=nonces)
    # After the window the nonce may be used again (the MAC check still applies).
    assert nonces.check_and_store("bvnk-id", "MdPBLt", 1728655954 + 15 * 60 + 1)


def test_split_host_defaults_the_port_by_scheme() -> None:
    assert hawk.split_host("api.sandbox.bvnk.com", "https") == ("api.sandbox.bvnk.com", 443)
    assert hawk.split_host("Emulator", "http") == ("emulator", 80)
    assert hawk.split_host("127.0.0.1:8001", "http") == ("127.0.0.1", 8001)


# -- over HTTP ----------------------------------------------------------------------------

pytestmark_http = pytest.mark.emulator
PATH = "/platform/v1/accounts/industries"


def _assert_401(response: requests.Response, message: str) -> None:
    assert response.status_code == 401, response.text
    body = response.json()
    assert body["status"] == "Unauthorized"
    assert len(body["traceId"]) == 32
    assert body["details"]["errors"]["Authorization"] == [message]
    assert response.headers["WWW-Authenticate"].startswith("Hawk")


@pytestmark_http
def test_signed_request_is_accepted(emulator: EmulatorProcess) -> None:
    assert emulator.get(PATH).status_code == 200


@pytestmark_http
def test_api_prefix_alias_is_accepted(emulator: EmulatorProcess) -> None:
    assert emulator.get("/api" + PATH).status_code == 200


@pytestmark_http
def test_signed_query_string_is_part_of_the_mac(emulator: EmulatorProcess) -> None:
    assert emulator.get("/platform/v1/customers?page=0&size=5").status_code == 200


@pytestmark_http
def test_missing_header(emulator: EmulatorProcess) -> None:
    _assert_401(requests.get(emulator.url + PATH, timeout=5), "Missing Authorization header")


@pytestmark_http
def test_unknown_id(emulator: EmulatorProcess) -> None:
    response = emulator.get(PATH, auth=HawkAuth("nobody", emulator.secret))
    _assert_401(response, "Unknown credentials")


@pytestmark_http
def test_bad_mac(emulator: EmulatorProcess) -> None:
    response = emulator.get(PATH, auth=HawkAuth(emulator.auth_id, "wrong-secret"))
    _assert_401(response, "Bad mac")


@pytestmark_http
def test_mac_for_another_path_is_rejected(emulator: EmulatorProcess) -> None:
    prepared = requests.Request("GET", emulator.url + "/platform/v1/customers").prepare()
    header = emulator.hawk_auth()(prepared).headers["Authorization"]
    response = requests.get(emulator.url + PATH, headers={"Authorization": header}, timeout=5)
    _assert_401(response, "Bad mac")


@pytestmark_http
def test_stale_timestamp(emulator: EmulatorProcess) -> None:
    auth = HawkAuth(emulator.auth_id, emulator.secret, ts=int(time.time()) - 120)
    response = emulator.get(PATH, auth=auth)
    _assert_401(response, "Stale timestamp")
    assert 'ts="' in response.headers["WWW-Authenticate"]


@pytestmark_http
def test_replayed_nonce(emulator: EmulatorProcess) -> None:
    auth = HawkAuth(
        emulator.auth_id, emulator.secret, ts=int(time.time()), nonce=f"replay-{time.time_ns()}"
    )
    assert emulator.get(PATH, auth=auth).status_code == 200
    _assert_401(emulator.get(PATH, auth=auth), "Invalid nonce")


@pytestmark_http
def test_fixture_hawk_session_signs_full_urls(emulator: EmulatorProcess) -> None:
    session = emulator.hawk_session()
    assert session.get(emulator.url + PATH, timeout=5).status_code == 200
    assert session.get(emulator.url + "/platform/v1/customers?size=1", timeout=5).status_code == 200
