"""Link layer: where each packet's IP header starts and which IP version to expect there."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from netscope.capture.batch import RawBatch
from netscope.linktypes import (
    ETHERTYPE_IPV4,
    ETHERTYPE_IPV6,
    ETHERTYPE_LINKS,
    ETHERTYPE_MPLS,
    ETHERTYPE_PPPOE_SESSION,
    FIXED_VERSION_LINKS,
    MAX_MPLS_LABELS,
    MAX_VLAN_TAGS,
    MPLS_LABEL_LEN,
    NIBBLE_LINKS,
    PPP_IPV4,
    PPP_IPV6,
    PPPOE_HEADER_LEN,
    VLAN_TAG_LEN,
    VLAN_TPIDS,
    WIFI_LINKS,
)
from netscope.parse.columns import Status
from netscope.parse.gather import WORD, ByteReader, bits, field
from netscope.parse.wifi import wifi_link

IP_HEADER_READ = 40  # what decode_ip reads at the IP header: a whole IPv6 header


@dataclass(slots=True)
class LinkLayer:
    """Per-packet outcome of the link layer.

    `status` is final for packets with `ip_version` 0; the others still have an IP header to
    check at `l3_offset` (relative to the packet start), and their status stays OK until decode_ip decides it.
    `ip_header`, when set, already holds the IP_HEADER_READ bytes at `l3_offset` of every packet
    (read together with the link header, so decode_ip needs no gather of its own).
    """

    status: np.ndarray  # uint8
    ip_version: np.ndarray  # uint8: 4 or 6 = IP header expected, 0 = stop here
    l3_offset: np.ndarray  # int64
    vlan_id: np.ndarray  # uint16
    ip_header: np.ndarray | None = None  # (n, IP_HEADER_READ) uint8


def decode_link(raw: RawBatch, reader: ByteReader) -> LinkLayer:
    """Dispatch on the batch's DLT; an unknown DLT marks every packet, it never raises."""
    n = raw.count
    if raw.linktype in ETHERTYPE_LINKS:
        header_len, ethertype_at = ETHERTYPE_LINKS[raw.linktype]
        return _ethertype_link(raw, reader, header_len, ethertype_at)
    if raw.linktype in NIBBLE_LINKS:
        return _nibble_link(raw, reader, NIBBLE_LINKS[raw.linktype])
    if raw.linktype in WIFI_LINKS:
        status, ip_version, l3_offset = wifi_link(raw, reader, WIFI_LINKS[raw.linktype])
        return LinkLayer(status, ip_version, l3_offset, np.zeros(n, dtype=np.uint16))
    if raw.linktype in FIXED_VERSION_LINKS:
        return LinkLayer(
            status=np.full(n, Status.OK, dtype=np.uint8),
            ip_version=np.full(n, FIXED_VERSION_LINKS[raw.linktype], dtype=np.uint8),
            l3_offset=np.zeros(n, dtype=np.int64),
            vlan_id=np.zeros(n, dtype=np.uint16),
        )
    return LinkLayer(
        status=np.full(n, Status.UNSUPPORTED_LINK, dtype=np.uint8),
        ip_version=np.zeros(n, dtype=np.uint8),
        l3_offset=np.zeros(n, dtype=np.int64),
        vlan_id=np.zeros(n, dtype=np.uint16),
    )


def _is_vlan_tag(ethertype: np.ndarray) -> np.ndarray:
    return (ethertype == VLAN_TPIDS[0]) | (ethertype == VLAN_TPIDS[1])


def _ethertype_link(raw: RawBatch, reader: ByteReader, header_len: int, ethertype_at: int) -> LinkLayer:
    """Ethernet, SLL and SLL2: an EtherType, then up to eight 802.1Q/802.1ad tags, then PPPoE or MPLS."""
    n = raw.count
    status = (raw.caplen < header_len).view(np.uint8) * np.uint8(Status.TRUNCATED_LINK)  # OK is 0
    # One read from the EtherType through an untagged packet's IP header: only tagged packets
    # need their IP header read again, further on.
    ip_start = header_len - ethertype_at
    head = reader.block(raw.offset, -(-(ip_start + IP_HEADER_READ) // WORD), ethertype_at)
    ethertype = field(head, 0, 2)
    l3_offset = np.full(n, header_len, dtype=np.int64)
    vlan_id = np.zeros(n, dtype=np.uint16)

    for tag_index in range(MAX_VLAN_TAGS):
        tagged = np.flatnonzero(_is_vlan_tag(ethertype) & (status == Status.OK))
        if tagged.size == 0:
            break
        tagged, tag_end = _captured(raw, status, tagged, l3_offset[tagged] + VLAN_TAG_LEN)
        tag_at = tag_end - VLAN_TAG_LEN
        tci_and_type = reader.u32(raw.offset[tagged] + tag_at)
        if tag_index == 0:
            vlan_id[tagged] = bits(tci_and_type, 16, 12)
        ethertype[tagged] = bits(tci_and_type, 0, 16)
        l3_offset[tagged] = tag_at + VLAN_TAG_LEN

    _pppoe_sessions(raw, reader, status, ethertype, l3_offset)
    _mpls_stacks(raw, reader, status, ethertype, l3_offset)

    # Arithmetic rather than masked stores: IPv4 and IPv6 interleave unpredictably in a batch.
    is_ipv4 = (ethertype == ETHERTYPE_IPV4).view(np.uint8)
    is_ipv6 = (ethertype == ETHERTYPE_IPV6).view(np.uint8)
    ip_version = (is_ipv4 * np.uint8(4) + is_ipv6 * np.uint8(6)) * (status == Status.OK).view(np.uint8)
    status[(status == Status.OK) & (ip_version == 0)] = Status.NOT_IP
    ip_header = head[:, ip_start:ip_start + IP_HEADER_READ]
    moved = np.flatnonzero(l3_offset != header_len)
    if moved.size:
        ip_header = ip_header.copy()
        ip_header[moved] = reader.block(raw.offset[moved] + l3_offset[moved], IP_HEADER_READ // WORD)
    return LinkLayer(status, ip_version, l3_offset, vlan_id, ip_header)


def _captured(raw: RawBatch, status: np.ndarray, rows: np.ndarray, end: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The `rows` whose link header was captured up to `end` (relative to the packet), with their
    `end`; the others are marked TRUNCATED_LINK."""
    complete = raw.caplen[rows] >= end
    status[rows[~complete]] = Status.TRUNCATED_LINK
    return rows[complete], end[complete]


def _pppoe_sessions(raw: RawBatch, reader: ByteReader, status: np.ndarray, ethertype: np.ndarray,
                    l3_offset: np.ndarray) -> None:
    """PPPoE session packets (DSL links) carry IP after their PPP protocol field; in place."""
    session = np.flatnonzero((ethertype == ETHERTYPE_PPPOE_SESSION) & (status == Status.OK))
    if not session.size:
        return
    session, at = _captured(raw, status, session, l3_offset[session] + PPPOE_HEADER_LEN)
    protocol = reader.u16(raw.offset[session] + at - 2)
    ethertype[session] = (protocol == PPP_IPV4) * ETHERTYPE_IPV4 + (protocol == PPP_IPV6) * ETHERTYPE_IPV6
    l3_offset[session] = at


def _mpls_stacks(raw: RawBatch, reader: ByteReader, status: np.ndarray, ethertype: np.ndarray,
                 l3_offset: np.ndarray) -> None:
    """MPLS packets (provider links) carry IP after their bottom label, known by its version
    nibble as tshark guesses it; anything else there (a pseudowire) is not IP. In place."""
    walking = np.flatnonzero(((ethertype == ETHERTYPE_MPLS[0]) | (ethertype == ETHERTYPE_MPLS[1]))
                             & (status == Status.OK))
    for _ in range(MAX_MPLS_LABELS):
        if not walking.size:
            return
        walking, at = _captured(raw, status, walking, l3_offset[walking] + MPLS_LABEL_LEN)
        bottom = bits(reader.u32(raw.offset[walking] + at - MPLS_LABEL_LEN), 8, 1) == 1
        l3_offset[walking] = at
        below = walking[bottom]
        nibble = reader.u8(raw.offset[below] + l3_offset[below]) >> 4
        ethertype[below] = (nibble == 4) * ETHERTYPE_IPV4 + (nibble == 6) * ETHERTYPE_IPV6
        status[below[raw.caplen[below] == l3_offset[below]]] = Status.TRUNCATED_IP  # not one byte of IP
        walking = walking[~bottom]


def _nibble_link(raw: RawBatch, reader: ByteReader, header_len: int) -> LinkLayer:
    """NULL, LOOP and raw IP: the IP version is the first nibble after the (fixed) link header."""
    n = raw.count
    nibble = reader.u8(raw.offset, header_len) >> 4
    is_ip = (nibble == 4) | (nibble == 6)
    status = (~is_ip).view(np.uint8) * np.uint8(Status.NOT_IP)  # OK is 0; no mixed-mask store
    status[raw.caplen == header_len] = Status.TRUNCATED_IP  # link header but not one IP byte
    status[raw.caplen < header_len] = Status.TRUNCATED_LINK
    ip_version = (nibble * (status == Status.OK)).astype(np.uint8)
    return LinkLayer(status, ip_version, np.full(n, header_len, dtype=np.int64), np.zeros(n, np.uint16))
