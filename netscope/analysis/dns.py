"""Bounded DNS message decoding (reference §2.5), for passive DNS: the names flows talk to.

DNS arrives from anyone on the network, so every read is bounds-checked and every loop has a
named limit: a hostile message costs at most a few thousand steps and never raises. Public
functions answer None for anything malformed; `_Malformed` only carries the failure out of the
internal readers.
"""

from __future__ import annotations

import ipaddress
import struct
from dataclasses import dataclass

HEADER_LEN = 12
MAX_POINTER_JUMPS = 32
MAX_LABELS = 128
MAX_NAME_BYTES = 255  # wire length, length octets and the root octet included (RFC 1035 §2.3.4)
MAX_LABEL_BYTES = 63
MAX_RECORDS = 1024  # qd + an + ns + ar

TYPE_A, TYPE_NS, TYPE_CNAME, TYPE_PTR, TYPE_MX, TYPE_AAAA = 1, 2, 5, 12, 15, 28
CLASS_IN = 1
CLASS_MASK = 0x7FFF  # mDNS puts its cache-flush / unicast-response bit on top of the class

_NAME_TARGET_TYPES = (TYPE_NS, TYPE_CNAME, TYPE_PTR)

_HEADER = struct.Struct(">6H")
_QUESTION_TAIL = struct.Struct(">HH")
_RR_TAIL = struct.Struct(">HHIH")
# Bytes shown as themselves in names; anything else becomes \xNN so a name can never carry
# control characters into a terminal.
_PRINTABLE = bytes(range(0x20, 0x7F))
_RENDERED_BYTE = tuple(chr(b) if 0x20 <= b < 0x7F else f"\\x{b:02x}" for b in range(256))


@dataclass(frozen=True, slots=True)
class DnsHeader:
    id: int
    flags: int
    qdcount: int
    ancount: int
    nscount: int
    arcount: int

    @property
    def is_response(self) -> bool:
        return bool(self.flags & 0x8000)


@dataclass(frozen=True, slots=True)
class DnsQuestion:
    name: str
    qtype: int
    qclass: int


@dataclass(frozen=True, slots=True)
class ResourceRecord:
    name: str
    rtype: int
    rclass: int
    ttl: int
    rdata: bytes
    target: str | None = None  # the name NS, CNAME and PTR point to; MX's exchange

    @property
    def address(self) -> str | None:
        """The A/AAAA address as text (the same form flow keys use), if the RDATA has the right size."""
        if (self.rtype == TYPE_A and len(self.rdata) == 4) or (self.rtype == TYPE_AAAA and len(self.rdata) == 16):
            return str(ipaddress.ip_address(self.rdata))
        return None


@dataclass(frozen=True, slots=True)
class DnsMessage:
    header: DnsHeader
    questions: tuple[DnsQuestion, ...]
    answers: tuple[ResourceRecord, ...]
    authorities: tuple[ResourceRecord, ...]
    additionals: tuple[ResourceRecord, ...]


class _Malformed(Exception):
    """A section could not be decoded; the message says why (shown as a parse note)."""


def parse_header(payload: bytes) -> DnsHeader | None:
    if len(payload) < HEADER_LEN:
        return None
    return DnsHeader(*_HEADER.unpack_from(payload, 0))


def parse_dns(payload: bytes) -> DnsMessage | None:
    """The whole message, or None if it is shorter than a header or any record is malformed."""
    header = parse_header(payload)
    if header is None:
        return None
    try:
        return _parse_sections(bytes(payload), header)
    except _Malformed:
        return None


def _parse_sections(msg: bytes, header: DnsHeader) -> DnsMessage:
    counts = (header.qdcount, header.ancount, header.nscount, header.arcount)
    if sum(counts) > MAX_RECORDS:
        raise _Malformed(f"{sum(counts)} records exceed the limit of {MAX_RECORDS}")
    offset = HEADER_LEN
    questions = []
    for _ in range(header.qdcount):
        name, offset = _read_name(msg, offset)
        if offset + 4 > len(msg):
            raise _Malformed("question truncated")
        qtype, qclass = _QUESTION_TAIL.unpack_from(msg, offset)
        offset += 4
        questions.append(DnsQuestion(name, qtype, qclass))
    sections = []
    for count in counts[1:]:
        records = []
        for _ in range(count):
            record, offset = _read_record(msg, offset)
            records.append(record)
        sections.append(tuple(records))
    return DnsMessage(header, tuple(questions), *sections)


def _read_record(msg: bytes, offset: int) -> tuple[ResourceRecord, int]:
    name, offset = _read_name(msg, offset)
    if offset + _RR_TAIL.size > len(msg):
        raise _Malformed("resource record truncated")
    rtype, rclass, ttl, rdlen = _RR_TAIL.unpack_from(msg, offset)
    start = offset + _RR_TAIL.size
    end = start + rdlen
    if end > len(msg):
        raise _Malformed(f"rdlen {rdlen} runs past the end of the message")
    target = None
    if rtype in _NAME_TARGET_TYPES:
        target = _read_name_within(msg, start, end)
    elif rtype == TYPE_MX and rdlen >= 3:
        target = _read_name_within(msg, start + 2, end)
    return ResourceRecord(name, rtype, rclass, ttl, msg[start:end], target), end


def _read_name_within(msg: bytes, start: int, end: int) -> str:
    name, after = _read_name(msg, start)
    if after > end:
        raise _Malformed("name in rdata runs past rdlen")
    return name


def _read_name(msg: bytes, offset: int) -> tuple[str, int]:
    """Decode the (possibly compressed) name at `offset`: (text, offset just past it in place).

    Raises _Malformed, which `parse_dns` and the summaries turn into None or a note.
    """
    labels: list[bytes] = []
    wire_len = 1  # the root octet
    jumps = 0
    resume = -1  # where parsing continues after the first pointer
    pos = offset
    size = len(msg)
    while True:
        if pos >= size:
            raise _Malformed("name runs past the end of the message")
        length = msg[pos]
        if length >= 0xC0:
            if pos + 1 >= size:
                raise _Malformed("compression pointer truncated")
            target = ((length & 0x3F) << 8) | msg[pos + 1]
            if target >= pos:
                raise _Malformed(f"compression pointer {target} does not point backward")
            jumps += 1
            if jumps > MAX_POINTER_JUMPS:
                raise _Malformed(f"more than {MAX_POINTER_JUMPS} compression pointers")
            if resume < 0:
                resume = pos + 2
            pos = target
            continue
        if length > MAX_LABEL_BYTES:
            raise _Malformed(f"reserved label type 0x{length & 0xC0:02x}")
        if length == 0:
            return _render_name(labels), resume if resume >= 0 else pos + 1
        end = pos + 1 + length
        if end > size:
            raise _Malformed("label truncated")
        wire_len += 1 + length
        if wire_len > MAX_NAME_BYTES:
            raise _Malformed(f"name longer than {MAX_NAME_BYTES} bytes")
        labels.append(msg[pos + 1:end])
        if len(labels) > MAX_LABELS:
            raise _Malformed(f"more than {MAX_LABELS} labels")
        pos = end


def _render_label(label: bytes) -> str:
    if not label.translate(None, _PRINTABLE):
        return label.decode("ascii")
    return "".join(_RENDERED_BYTE[b] for b in label)


def _render_name(labels: list[bytes]) -> str:
    if not labels:
        return "."
    return ".".join(_render_label(label) for label in labels)
