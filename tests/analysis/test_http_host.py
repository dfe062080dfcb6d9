"""HTTP/1.x request line and Host header from a single segment."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netscope.analysis.http_host import METHODS, HttpRequest, parse_http_request


def test_get_with_host() -> None:
    request = parse_http_request(b"GET /index.html HTTP/1.1\r\nUser-Agent: x\r\nHost: example.org\r\n\r\n")
    assert request == HttpRequest("GET", "/index.html", "example.org")


@pytest.mark.parametrize("method", [m.decode() for m in METHODS])
def test_every_method(method: str) -> None:
    request = parse_http_request(f"{method} / HTTP/1.0\r\nhost: h.example:8080\r\n\r\n".encode())
    assert request == HttpRequest(method, "/", "h.example:8080")


def test_host_is_case_insensitive_and_trimmed() -> None:
    assert parse_http_request(b"GET / HTTP/1.1\r\nHOST: \t [fd00::2]:8080 \r\n\r\n").host == "[fd00::2]:8080"


def test_missing_or_unprintable_host() -> None:
    assert parse_http_request(b"GET / HTTP/1.1\r\nAccept: */*\r\n\r\n").host is None
    assert parse_http_request(b"GET / HTTP/1.1\r\nHost: a b\r\n\r\n").host is None
    assert parse_http_request(b"GET / HTTP/1.1\r\nHost: a\x01b\r\n\r\n").host is None
    assert parse_http_request(b"GET / HTTP/1.1\r\nHost: " + b"a" * 256 + b"\r\n\r\n").host is None


def test_a_host_line_cut_by_the_segment_end_is_not_trusted() -> None:
    assert parse_http_request(b"GET / HTTP/1.1\r\nHost: examp").host is None
    assert parse_http_request(b"GET / HTTP/1.1\r\nHost: example.org\r\n").host == "example.org"


def test_host_after_the_headers_is_ignored() -> None:
    assert parse_http_request(b"POST / HTTP/1.1\r\n\r\nHost: body.example\r\n").host is None


@pytest.mark.parametrize("payload", [
    b"HTTP/1.1 200 OK\r\n\r\n",  # a response
    b"GET / HTTP/2.0\r\n\r\n",
    b"get / HTTP/1.1\r\n\r\n",
    b"FETCH / HTTP/1.1\r\n\r\n",
    b"GET  / HTTP/1.1\r\n\r\n",
    b"GET / HTTP/1.1",  # no line end yet
    b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
    b"GET /" + b"a" * 3000 + b" HTTP/1.1\r\n\r\n",
])
def test_not_a_request(payload: bytes) -> None:
    assert parse_http_request(payload) is None


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(METHODS), st.binary(max_size=200))
def test_arbitrary_bytes_never_raise(method: bytes, tail: bytes) -> None:
    parse_http_request(method + b" " + tail)
    parse_http_request(tail)
