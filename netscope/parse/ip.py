"""IPv4 and IPv6 headers (with the IPv6 extension-header walk) over the whole batch at once."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from netscope.capture.batch import RawBatch
from netscope.linktypes import JUMBO_OPTION, MIN_JUMBO
from netscope.parse.columns import Status
from netscope.parse.gather import WORD, ByteReader, bits, block_words, field, pick
from netscope.parse.link import LinkLayer

IPV4_MIN_HEADER = 20
IPV6_HEADER = 40
MAX_IPV6_EXTENSION_HEADERS = 8

IPPROTO_HOPOPTS = 0
IPPROTO_ROUTING = 43
IPPROTO_FRAGMENT = 44
IPPROTO_AH = 51
IPPROTO_DSTOPTS = 60
IPPROTO_MOBILITY = 135
IPPROTO_HIP = 139
IPPROTO_SHIM6 = 140

# Every extension header the walk follows, as a lookup table by protocol number (one gather,
# where np.isin sorts). All but AH and Fragment count their length in 8-octet units beyond the
# first 8 octets.
_IS_EXTENSION_HEADER = np.zeros(256, dtype=bool)
_IS_EXTENSION_HEADER[[IPPROTO_HOPOPTS, IPPROTO_ROUTING, IPPROTO_FRAGMENT, IPPROTO_AH, IPPROTO_DSTOPTS,
                      IPPROTO_MOBILITY, IPPROTO_HIP, IPPROTO_SHIM6]] = True
_FRAGMENT_HEADER_LEN = 8
_JUMBO_READ = 8  # a Hop-by-Hop header's first 8 bytes: next header, length, Jumbo Payload option


@dataclass(slots=True)
class IpLayer:
    """Network-layer columns for the whole batch, plus where each transport header must fit.

    Offsets are relative to the packet start. `payload_end` is the IP payload end clamped to the
    captured bytes (a transport header must fit before it); `declared_len` is the transport
    segment length from the IP length fields alone, so payload sizes stay right on
    snaplen-truncated captures. Transport fields are meaningful only where `status` is OK.
    """

    status: np.ndarray  # uint8
    ip_version: np.ndarray  # uint8
    proto: np.ndarray  # uint8
    src_hi: np.ndarray  # uint64
    src_lo: np.ndarray  # uint64
    dst_hi: np.ndarray  # uint64
    dst_lo: np.ndarray  # uint64
    l3_offset: np.ndarray  # int64, -1 where no IP header was read
    transport_offset: np.ndarray  # int64
    payload_end: np.ndarray  # int64
    declared_len: np.ndarray  # int64


def decode_ip(raw: RawBatch, reader: ByteReader, link: LinkLayer) -> IpLayer:
    """Validate IPv4/IPv6 headers in the reference's order and find the transport protocol.

    Both versions are decoded from the same 40-byte read over the whole batch; only IPv6
    packets with extension headers pay for more.
    """
    l3 = link.l3_offset
    at = raw.offset + l3
    available = raw.caplen - l3
    is_v4 = link.ip_version == 4
    is_v6 = link.ip_version == 6
    # One 40-byte read per packet. IPv4: version/IHL, TOS, total length, id, flags/fragment
    # offset | TTL, protocol, checksum, source | destination. IPv6: version/traffic class/flow
    # label, payload length, next header, hop limit | source | destination.
    header = link.ip_header if link.ip_header is not None else reader.block(at, IPV6_HEADER // WORD)
    first, second, third, fourth, fifth = block_words(header, 0, IPV6_HEADER // WORD)

    version = bits(first, 60, 4)
    ihl = bits(first, 56, 4)
    v4_header_len = ihl * 4
    total_len = _tso_total_length(raw, l3, is_v4, bits(first, 32, 16))
    v6_payload_len = _jumbo_payload_length(reader, at, available, is_v6, bits(first, 16, 16), bits(first, 8, 8))

    # Later assignments win, so the most basic failure of each packet is the one reported.
    status = link.status.copy()
    status[is_v4 & (bits(first, 0, 13) != 0)] = Status.FRAGMENT
    status[is_v4 & (total_len < v4_header_len)] = Status.BAD_IP
    status[is_v4 & (available < v4_header_len)] = Status.TRUNCATED_IP
    status[is_v4 & ((ihl < 5) | (version != 4))] = Status.BAD_IP
    status[is_v4 & (available < IPV4_MIN_HEADER)] = Status.TRUNCATED_IP
    status[is_v6 & (version != 6)] = Status.BAD_IP
    status[is_v6 & (available < IPV6_HEADER)] = Status.TRUNCATED_IP

    proto = pick(is_v4, bits(second, 48, 8), bits(first, 8, 8))
    # Datagram length counted from the start of the IP header, as both versions' length fields say.
    ip_len = pick(is_v4, total_len, v6_payload_len + IPV6_HEADER)
    transport_offset = l3 + pick(is_v4, v4_header_len, IPV6_HEADER)
    payload_end = l3 + np.minimum(ip_len, available)
    v6 = np.flatnonzero(is_v6 & (status == Status.OK))
    v6_proto, v6_transport, v6_fragment = _walk_extension_headers(
        reader, raw.offset[v6], proto[v6], transport_offset[v6], payload_end[v6]
    )
    proto[v6] = v6_proto
    transport_offset[v6] = v6_transport
    status[v6[v6_fragment]] = Status.FRAGMENT
    # IPv4 options and IPv6 extension headers are not part of the transport segment.
    declared_len = ip_len - (transport_offset - l3)

    parsed = (status == Status.OK) | (status == Status.FRAGMENT)
    v6_parsed = parsed & is_v6
    src_lo = pick(is_v4, bits(second, 0, 32), third)
    src_lo *= parsed
    dst_lo = pick(is_v4, bits(third, 32, 32), fifth)
    dst_lo *= parsed

    return IpLayer(
        status=status,
        ip_version=link.ip_version * parsed.view(np.uint8),
        proto=pick(parsed, proto).astype(np.uint8),
        src_hi=(second * v6_parsed).view(np.uint64),
        src_lo=src_lo.view(np.uint64),
        dst_hi=(fourth * v6_parsed).view(np.uint64),
        dst_lo=dst_lo.view(np.uint64),
        l3_offset=pick(parsed, l3, -1),
        transport_offset=transport_offset,
        payload_end=payload_end,
        declared_len=declared_len,
    )


def _tso_total_length(raw: RawBatch, l3: np.ndarray, is_v4: np.ndarray, total_len: np.ndarray) -> np.ndarray:
    """IPv4 total length, with 0 read as "the rest of the frame", as Wireshark's TSO support does.

    Linux's IPv4 BIG TCP hands the capture point super-packets longer than 65535 bytes with a
    total length of 0; so do some TSO drivers for any size. The frame's wire length is then the
    only length there is (a live packet cut at the snaplen counts what was captured: libpcap's
    batch read does not pass the original length on).
    """
    unsized = np.flatnonzero(is_v4 & (total_len == 0))
    if unsized.size:
        total_len[unsized] = np.maximum(raw.wirelen[unsized] - l3[unsized], 0)
    return total_len


def _jumbo_payload_length(reader: ByteReader, at: np.ndarray, available: np.ndarray, is_v6: np.ndarray,
                          payload_len: np.ndarray, next_header: np.ndarray) -> np.ndarray:
    """IPv6 payload length, taken from a jumbogram's Jumbo Payload option (linktypes.JUMBO_OPTION)
    where the header field is 0; any other payload length 0 stays 0, which the transport layer
    then finds too short."""
    candidates = np.flatnonzero(is_v6 & (payload_len == 0) & (next_header == IPPROTO_HOPOPTS)
                                & (available >= IPV6_HEADER + _JUMBO_READ))
    if candidates.size:
        option = reader.block(at[candidates], 1, IPV6_HEADER)
        jumbo = field(option, 4, 4).astype(np.int64)
        valid = (field(option, 2, 2) == JUMBO_OPTION) & (jumbo >= MIN_JUMBO)
        payload_len[candidates[valid]] = jumbo[valid]
    return payload_len


def _walk_extension_headers(reader: ByteReader, packet_start: np.ndarray, next_header: np.ndarray,
                            start: np.ndarray, end: np.ndarray
                            ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Follow up to 8 extension headers; return (protocol, transport offset, non-initial fragment).

    Offsets are relative to `packet_start`. Each round handles only the packets still inside an
    extension header, so a batch without any costs one membership test. A header that would run
    past the payload end stops the walk with the protocol left at that header's own number (no
    transport layer, not an error), as does the 9th header.
    """
    proto = next_header.copy()
    position = start.copy()
    fragment = np.zeros(proto.size, dtype=bool)
    walking = np.flatnonzero(_IS_EXTENSION_HEADER[proto])
    for _ in range(MAX_IPV6_EXTENSION_HEADERS):
        if walking.size == 0:
            break
        at, kind = position[walking], proto[walking]
        # Next header, length and, in a fragment header only, the 13-bit offset and flags.
        word = reader.u32(packet_start[walking] + at)
        length_field = bits(word, 16, 8)
        header_len = pick(kind == IPPROTO_AH, (length_field + 2) * 4, (length_field + 1) * 8)
        header_len[kind == IPPROTO_FRAGMENT] = _FRAGMENT_HEADER_LEN
        fits = at + header_len <= end[walking]
        later_fragment = fits & (kind == IPPROTO_FRAGMENT) & (bits(word, 3, 13) != 0)
        fragment[walking[later_fragment]] = True
        advance = fits & ~later_fragment
        walking = walking[advance]
        proto[walking] = bits(word[advance], 24, 8)
        position[walking] = at[advance] + header_len[advance]
        walking = walking[_IS_EXTENSION_HEADER[proto[walking]]]
    return proto, position, fragment
