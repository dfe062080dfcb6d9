"""TLS ClientHello SNI: the reference's accepted shapes, its limits, and refusal of malformed input."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netscope.analysis.tls_sni import ClientHello, parse_client_hello, strict_hostname
from tests.analysis.name_packets import client_hello, extension, sni_extension

SUPPORTED_GROUPS = extension(10, b"\x00\x02\x00\x1d")


def test_valid_sni() -> None:
    assert parse_client_hello(client_hello(sni_extension(b"example.com"))) == ClientHello(0x0303, "example.com")


def test_sni_after_other_extensions() -> None:
    hello = client_hello(SUPPORTED_GROUPS + extension(21, b"\x00" * 40) + sni_extension(b"api.example.org"))
    assert parse_client_hello(hello).sni == "api.example.org"


def test_no_sni() -> None:
    assert parse_client_hello(client_hello(SUPPORTED_GROUPS)) == ClientHello(0x0303, None)
    assert parse_client_hello(client_hello(None)) == ClientHello(0x0303, None)


@pytest.mark.parametrize(("record_version", "legacy_version"), [(0x0301, 0x0303), (0x0303, 0x0303), (0x0304, 0x0301)])
def test_version_combinations(record_version: int, legacy_version: int) -> None:
    hello = client_hello(sni_extension(b"example.com"), record_version=record_version, legacy_version=legacy_version)
    assert parse_client_hello(hello) == ClientHello(legacy_version, "example.com")


@pytest.mark.parametrize("record_version", [0x0300, 0x0305, 0x0201])
def test_other_record_versions_are_not_tls(record_version: int) -> None:
    assert parse_client_hello(client_hello(sni_extension(b"example.com"), record_version=record_version)) is None


@pytest.mark.parametrize("name", [b"bad host", b"under_score.example", b".example.com", b"example.com.",
                                  b"a..b", b"-lead.example", b"trail-.example", b"x" * 64 + b".com",
                                  b"caf\xc3\xa9.example", b""])
def test_names_that_are_not_strict_hostnames_are_dropped(name: bytes) -> None:
    assert parse_client_hello(client_hello(sni_extension(name))) == ClientHello(0x0303, None)


def test_hostname_length_limit() -> None:
    name = b".".join([b"a" * 63] * 4)[:255]
    assert strict_hostname(name) == name.decode()
    assert strict_hostname(name + b"a") is None


def test_first_host_name_entry_is_taken() -> None:
    other = struct.pack("!BH", 7, 3) + b"abc"
    host = struct.pack("!BH", 0, 11) + b"example.com"
    entries = other + host
    ext = struct.pack("!HHH", 0, len(entries) + 2, len(entries)) + entries
    assert parse_client_hello(client_hello(ext)).sni == "example.com"


def test_at_most_sixteen_entries_are_scanned() -> None:
    others = (struct.pack("!BH", 7, 1) + b"x") * 16
    host = struct.pack("!BH", 0, 11) + b"example.com"
    entries = others + host
    ext = struct.pack("!HHH", 0, len(entries) + 2, len(entries)) + entries
    assert parse_client_hello(client_hello(ext)).sni is None


def test_list_length_must_match_the_extension_exactly() -> None:
    entry = struct.pack("!BH", 0, 11) + b"example.com"
    for list_len in (len(entry) - 1, len(entry) + 1, 0xFFFF):
        ext = struct.pack("!HHH", 0, len(entry) + 2, list_len) + entry
        assert parse_client_hello(client_hello(ext)).sni is None


def test_truncated_entry_inside_the_list() -> None:
    entry = struct.pack("!BH", 0, 40) + b"example.com"
    ext = struct.pack("!HHH", 0, len(entry) + 2, len(entry)) + entry
    assert parse_client_hello(client_hello(ext)).sni is None


def test_malformed_extension_after_sni_still_yields_sni() -> None:
    broken = struct.pack("!HH", 0xFF01, 500) + b"\x00" * 4  # claims 500 bytes, has 4
    assert parse_client_hello(client_hello(sni_extension(b"example.com") + broken)).sni == "example.com"


def test_malformed_extension_before_sni_is_refused() -> None:
    broken = struct.pack("!HH", 0xFF01, 500) + b"\x00" * 4
    assert parse_client_hello(client_hello(broken + sni_extension(b"example.com"))) is None


def test_only_sixty_four_extensions_are_scanned() -> None:
    filler = extension(0xFFAA, b"") * 64
    assert parse_client_hello(client_hello(filler + sni_extension(b"example.com"))).sni is None
    filler = extension(0xFFAA, b"") * 63
    assert parse_client_hello(client_hello(filler + sni_extension(b"example.com"))).sni == "example.com"


def test_large_extensions_and_many_cipher_suites_still_parse() -> None:
    padding = extension(21, b"\x00" * (16384 - 4 - len(sni_extension(b"example.com"))))
    hello = client_hello(padding + sni_extension(b"example.com"), cipher_suites=900)
    assert len(hello) > 18000
    assert parse_client_hello(hello).sni == "example.com"


def test_extensions_over_the_limit_are_refused() -> None:
    padding = extension(21, b"\x00" * (16385 - 4 - len(sni_extension(b"example.com"))))
    assert parse_client_hello(client_hello(padding + sni_extension(b"example.com"))) is None


@pytest.mark.parametrize("cut", [0, 4, 5, 20, 60])
def test_a_record_cut_short_is_refused(cut: int) -> None:
    assert parse_client_hello(client_hello(sni_extension(b"example.com"))[:cut]) is None


def test_header_checks() -> None:
    good = client_hello(sni_extension(b"example.com"))
    assert parse_client_hello(b"\x17" + good[1:]) is None  # application data, not handshake
    assert parse_client_hello(good[:5] + b"\x02" + good[6:]) is None  # ServerHello
    assert parse_client_hello(client_hello(sni_extension(b"example.com"), session_id=b"\x00" * 33)) is None
    assert parse_client_hello(client_hello(sni_extension(b"example.com"), cipher_suites=0)) is None
    bad_handshake_len = good[:6] + b"\xff\xff\xff" + good[9:]
    assert parse_client_hello(bad_handshake_len) is None


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=400))
def test_arbitrary_bytes_never_raise(payload: bytes) -> None:
    parse_client_hello(b"\x16\x03\x01" + payload)
    parse_client_hello(payload)


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_corrupted_hellos_never_raise(data: st.DataObject) -> None:
    hello = bytearray(client_hello(SUPPORTED_GROUPS + sni_extension(b"www.example.com")))
    for _ in range(data.draw(st.integers(1, 4))):
        hello[data.draw(st.integers(0, len(hello) - 1))] = data.draw(st.integers(0, 255))
    result = parse_client_hello(bytes(hello))
    assert result is None or result.sni is None or strict_hostname(result.sni.encode()) == result.sni
