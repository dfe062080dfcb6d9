"""DNS decoding: agreement with dpkt on well-formed messages, and bounded refusal of hostile ones."""

from __future__ import annotations

import socket
import struct

import dpkt
from hypothesis import given, settings
from hypothesis import strategies as st

from netscope.analysis.dns import (
    MAX_POINTER_JUMPS,
    TYPE_A,
    TYPE_CNAME,
    parse_dns,
    parse_header,
)
from tests.analysis.name_packets import a_record, cname_record, dns_query, dns_response

HEADER_ONE_QUESTION = struct.pack("!6H", 0x1234, 0x0100, 1, 0, 0, 0)
HEADER_ONE_ANSWER = struct.pack("!6H", 0x1234, 0x8180, 0, 1, 0, 0)

labels = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-", min_size=1, max_size=20)
# A few shared suffixes so dpkt's packer compresses names against each other.
suffixes = st.sampled_from(["example.com", "example.org", "cdn.example.net", "local"])
names = st.builds(lambda head, suffix: ".".join([*head, suffix]), st.lists(labels, max_size=3), suffixes)
addresses_v4 = st.binary(min_size=4, max_size=4)
addresses_v6 = st.binary(min_size=16, max_size=16)


@st.composite
def records(draw: st.DrawFn) -> dpkt.dns.DNS.RR:
    name = draw(names)
    kind = draw(st.sampled_from(["A", "AAAA", "CNAME", "NS", "PTR", "MX", "TXT"]))
    ttl = draw(st.integers(0, 2**31))
    if kind == "A":
        record = dpkt.dns.DNS.RR(name=name, type=dpkt.dns.DNS_A, ttl=ttl, ip=draw(addresses_v4))
    elif kind == "AAAA":
        record = dpkt.dns.DNS.RR(name=name, type=dpkt.dns.DNS_AAAA, ttl=ttl, ip6=draw(addresses_v6))
    elif kind == "CNAME":
        record = dpkt.dns.DNS.RR(name=name, type=dpkt.dns.DNS_CNAME, ttl=ttl, cname=draw(names))
    elif kind == "NS":
        record = dpkt.dns.DNS.RR(name=name, type=dpkt.dns.DNS_NS, ttl=ttl, nsname=draw(names))
    elif kind == "PTR":
        record = dpkt.dns.DNS.RR(name=name, type=dpkt.dns.DNS_PTR, ttl=ttl, ptrname=draw(names))
    elif kind == "MX":
        record = dpkt.dns.DNS.RR(name=name, type=dpkt.dns.DNS_MX, ttl=ttl, preference=draw(st.integers(0, 65535)),
                                 mxname=draw(names))
    else:
        chunks = draw(st.lists(st.binary(max_size=30).map(lambda b: b.hex().encode()), min_size=1, max_size=3))
        record = dpkt.dns.DNS.RR(name=name, type=dpkt.dns.DNS_TXT, ttl=ttl, text=chunks)
    return record


@st.composite
def messages(draw: st.DrawFn) -> bytes:
    questions = [dpkt.dns.DNS.Q(name=name, type=draw(st.sampled_from([1, 5, 28, 255])))
                 for name in draw(st.lists(names, max_size=3))]
    flags = draw(st.sampled_from([dpkt.dns.DNS_RD, dpkt.dns.DNS_QR | dpkt.dns.DNS_RD | dpkt.dns.DNS_RA]))
    return bytes(dpkt.dns.DNS(id=draw(st.integers(0, 65535)), op=flags, qd=questions,
                              an=draw(st.lists(records(), max_size=6)), ns=draw(st.lists(records(), max_size=2)),
                              ar=draw(st.lists(records(), max_size=2))))


def _dpkt_rdata(record: dpkt.dns.DNS.RR) -> object:
    if record.type == dpkt.dns.DNS_A:
        return socket.inet_ntop(socket.AF_INET, record.ip)
    if record.type == dpkt.dns.DNS_AAAA:
        return socket.inet_ntop(socket.AF_INET6, record.ip6)
    for attribute in ("cname", "nsname", "ptrname", "mxname"):
        if hasattr(record, attribute):
            return getattr(record, attribute)
    return record.rdata


def _ours_rdata(record) -> object:
    if record.rtype in (1, 28):
        return record.address
    return record.target if record.target is not None else record.rdata


@settings(max_examples=300, deadline=None)
@given(messages())
def test_agrees_with_dpkt_on_well_formed_messages(wire: bytes) -> None:
    expected = dpkt.dns.DNS(wire)
    ours = parse_dns(wire)
    assert ours is not None
    assert ours.header.id == expected.id
    assert ours.header.is_response == bool(expected.qr)
    assert [(q.name, q.qtype, q.qclass) for q in ours.questions] == [(q.name, q.type, q.cls) for q in expected.qd]
    for mine, theirs in ((ours.answers, expected.an), (ours.authorities, expected.ns),
                         (ours.additionals, expected.ar)):
        assert [(r.name, r.rtype, r.rclass, r.ttl, r.rdata) for r in mine] == \
            [(r.name, r.type, r.cls, r.ttl, r.rdata) for r in theirs]
        assert [_ours_rdata(r) for r in mine] == [_dpkt_rdata(r) for r in theirs]


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=300))
def test_arbitrary_bytes_never_raise(wire: bytes) -> None:
    parse_dns(wire)


@settings(max_examples=300, deadline=None)
@given(messages(), st.data())
def test_corrupted_messages_never_raise(wire: bytes, data: st.DataObject) -> None:
    corrupted = bytearray(wire)
    for _ in range(data.draw(st.integers(1, 4))):
        at = data.draw(st.integers(0, len(corrupted) - 1))
        corrupted[at] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(corrupted)))
    for candidate in (bytes(corrupted), bytes(corrupted[:cut])):
        parse_dns(candidate)


def test_compressed_response_with_an_a_record() -> None:
    wire = dns_response("example.com", [a_record("example.com", "1.2.3.4", ttl=300)])
    assert b"\xc0\x0c" in wire  # the answer's name is a pointer to the question's
    message = parse_dns(wire)
    assert message is not None
    answer = message.answers[0]
    assert (answer.name, answer.rtype, answer.ttl, answer.address) == ("example.com", TYPE_A, 300, "1.2.3.4")


def test_header_shorter_than_twelve_bytes_is_not_dns() -> None:
    wire = dns_query("example.com")
    assert parse_header(wire[:11]) is None
    assert parse_dns(wire[:11]) is None


def test_truncated_label() -> None:
    assert parse_dns(HEADER_ONE_QUESTION + b"\x07exam") is None


def test_rdlen_past_the_end() -> None:
    wire = HEADER_ONE_ANSWER + b"\x00" + struct.pack("!HHIH", 1, 1, 60, 100) + b"\x01\x02\x03\x04"
    assert parse_dns(wire) is None


def test_pointer_loop() -> None:
    # "a" then a pointer back to that label: backward, so only the name limits can stop it.
    assert parse_dns(HEADER_ONE_QUESTION + b"\x01a\xc0\x0c" + b"\x00\x01\x00\x01") is None


def test_pointer_to_itself_and_forward_pointer() -> None:
    assert parse_dns(HEADER_ONE_QUESTION + b"\xc0\x0c\x00\x01\x00\x01") is None
    assert parse_dns(HEADER_ONE_QUESTION + b"\xc0\x12\x00\x01\x00\x01\x03com\x00") is None


def test_pointer_out_of_bounds_or_truncated() -> None:
    assert parse_dns(HEADER_ONE_QUESTION + b"\xff\xff\x00\x01\x00\x01") is None
    assert parse_dns(HEADER_ONE_QUESTION + b"\xc0") is None


def test_reserved_label_types() -> None:
    assert parse_dns(HEADER_ONE_QUESTION + b"\x40abc\x00\x00\x01\x00\x01") is None
    assert parse_dns(HEADER_ONE_QUESTION + b"\x80abc\x00\x00\x01\x00\x01") is None


def _pointer_chain(records: int) -> bytes:
    """`records` answers, each named by a pointer to the previous one's name: the last needs records-1 jumps."""
    tail = struct.pack("!HHIH", 1, 1, 60, 0)
    body = b"\x01a\x00" + tail
    starts = [12]
    for _ in range(records - 1):
        starts.append(12 + len(body))
        body += struct.pack("!H", 0xC000 | starts[-2]) + tail
    return struct.pack("!6H", 1, 0x8180, 0, records, 0, 0) + body


def test_pointer_jump_limit() -> None:
    assert parse_dns(_pointer_chain(MAX_POINTER_JUMPS + 1)) is not None
    assert parse_dns(_pointer_chain(MAX_POINTER_JUMPS + 2)) is None


def test_name_length_limit() -> None:
    def question(label_count: int) -> bytes:
        return HEADER_ONE_QUESTION + b"\x01a" * label_count + b"\x00\x00\x01\x00\x01"

    assert parse_dns(question(127)) is not None  # 127 * 2 + 1 = 255 bytes on the wire
    assert parse_dns(question(128)) is None
    long_labels = HEADER_ONE_QUESTION + (b"\x3f" + b"x" * 63) * 4 + b"\x00\x00\x01\x00\x01"
    assert parse_dns(long_labels) is None


def test_record_count_limit() -> None:
    question = b"\x00\x00\x01\x00\x01"
    assert parse_dns(struct.pack("!6H", 1, 0x0100, 1024, 0, 0, 0) + question * 1024) is not None
    assert parse_dns(struct.pack("!6H", 1, 0x0100, 1024, 0, 0, 1) + question * 1024) is None


def test_every_record_is_validated_even_past_the_answers() -> None:
    wire = dns_response("example.com", [a_record("example.com", "1.2.3.4")])
    broken_additional = struct.pack("!6H", *struct.unpack_from("!6H", wire)[:5], 1)
    assert parse_dns(broken_additional + wire[12:] + b"\x07bad") is None


def test_non_printable_bytes_are_escaped_and_root_is_a_dot() -> None:
    message = parse_dns(HEADER_ONE_QUESTION + b"\x03a\x01b\x00\x00\x01\x00\x01")
    assert message.questions[0].name == "a\\x01b"
    root = parse_dns(HEADER_ONE_QUESTION + b"\x00\x00\x02\x00\x01")
    assert root.questions[0].name == "."


def test_cname_target_is_decoded() -> None:
    message = parse_dns(dns_response("www.example.com", [cname_record("www.example.com", "cdn.example.net")]))
    record = message.answers[0]
    assert (record.rtype, record.target) == (TYPE_CNAME, "cdn.example.net")
