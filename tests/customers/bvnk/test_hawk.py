"""Hawk signing against three known-good vectors (BVNK's construction, no payload hash)."""

from __future__ import annotations

import re

import pytest

from customers.bvnk.hawk import hawk_header, normalized_string

SPEC_KEY = "werxhqb98rpaxn39848xrunpaw3489ruxnpa98w4rxn"
SPEC_URL = "http://example.com:8000/resource/1?b=1&a=2"


def test_vector_1_hawk_spec_with_ext() -> None:
    header = hawk_header(
        "GET",
        SPEC_URL,
        auth_id="dh37fgj492je",
        secret=SPEC_KEY,
        ts=1353832234,
        nonce="j4h3g2",
        ext="some-app-ext-data",
    )
    assert header == (
        'Hawk id="dh37fgj492je", ts="1353832234", nonce="j4h3g2", ext="some-app-ext-data", '
        'mac="6R4rV5iE+NPoym+WwjeHzjAGXUtLNIxmo1vpMofpLAE="'
    )


def test_vector_2_empty_ext_is_left_out() -> None:
    header = hawk_header(
        "get", SPEC_URL, auth_id="dh37fgj492je", secret=SPEC_KEY, ts=1353832234, nonce="j4h3g2"
    )
    assert header == (
        'Hawk id="dh37fgj492je", ts="1353832234", nonce="j4h3g2", '
        'mac="nfp3t5BVkMvjhU3PrD0ftTp7NcVpETEX2HEi/Fo4S2g="'
    )


def test_vector_3_bvnk_shaped_request() -> None:
    header = hawk_header(
        "POST",
        "https://api.sandbox.bvnk.com/platform/v1/customers",
        auth_id="vbfc61D890wg6LAAVbkR11qP9O6cXeMNmKWgcUNZaOHPiQeebp9cl6h02tWv84R8",
        secret="test-secret",
        ts=1728655954,
        nonce="MdPBLt",
    )
    assert header.endswith('mac="nkIFTV3K/gXw3DlUbuHWypmGLYTPDEc7RXRszNrIBlQ="')


def test_normalized_string_has_nine_lines() -> None:
    text = normalized_string(
        "post", "https://API.Sandbox.bvnk.com/platform/v1/customers?page=0", ts=1, nonce="n"
    )
    assert text == (
        "hawk.1.header\n1\nn\nPOST\n/platform/v1/customers?page=0\napi.sandbox.bvnk.com\n443\n\n\n"
    )


@pytest.mark.parametrize(
    ("url", "host", "port"),
    [
        ("http://localhost/x", "localhost", "80"),
        ("https://api.bvnk.com/x", "api.bvnk.com", "443"),
        ("http://127.0.0.1:8001/x", "127.0.0.1", "8001"),
    ],
)
def test_host_and_port_come_from_the_url(url: str, host: str, port: str) -> None:
    lines = normalized_string("GET", url, ts=1, nonce="n").split("\n")
    assert lines[5:7] == [host, port]


def test_defaults_draw_a_fresh_nonce_and_current_time() -> None:
    first = hawk_header("GET", "https://api.bvnk.com/x", auth_id="id", secret="s")
    second = hawk_header("GET", "https://api.bvnk.com/x", auth_id="id", secret="s")
    pattern = r'^Hawk id="id", ts="(\d+)", nonce="([0-9a-f]{12})", mac="[A-Za-z0-9+/]+={0,2}"$'
    first_match, second_match = re.match(pattern, first), re.match(pattern, second)
    assert first_match and second_match
    assert first_match.group(2) != second_match.group(2)


def test_refuses_a_relative_url_or_a_quote_in_an_attribute() -> None:
    with pytest.raises(ValueError, match="absolute"):
        hawk_header("GET", "/platform/v1/customers", auth_id="id", secret="s")
    with pytest.raises(ValueError, match="ext"):
        hawk_header("GET", "https://api.bvnk.com/", auth_id="id", secret="s", ext='a"b')
