"""Wire length when libpcap only tells us the captured length.

pcapy's `next_batch` metadata carries caplen but not the original length. A packet shorter
than the snaplen cannot have been cut, so its wire length is its caplen. A packet that fills
the snaplen may have been cut; for those the IP header still says how long the datagram was,
so link header + IPv4 total length (or IPv6 40 + payload length) is a close estimate. A file
does not always say its snaplen truthfully, so there every packet is checked. It is
exact for every link type the parser reads (netscope/linktypes.py: Ethernet, SLL and SLL2 with up to
eight VLAN tags, loopback, raw IP) except for trailers (Ethernet padding, FCS) that the IP
length does not cover. Every step is a numpy gather over the packets at the
snaplen; the common case (nothing at the snaplen) costs one comparison.
"""

from __future__ import annotations

import numpy as np

from netscope.capture.pcapfile import MAX_CAPLEN
from netscope.linktypes import (
    ETHERTYPE_IPV4,
    ETHERTYPE_IPV6,
    ETHERTYPE_LINKS,
    FIXED_VERSION_LINKS,
    IP_LINKS,
    JUMBO_OPTION,
    MAX_VLAN_TAGS,
    MIN_JUMBO,
    NIBBLE_LINKS,
    VLAN_TAG_LEN,
    VLAN_TPIDS,
)

IPV6_HEADER_LEN = 40

MAX_SNAPLEN = MAX_CAPLEN  # libpcap's ceiling; it replaces 0 or larger requests with this


def effective_snaplen(snaplen: int) -> int:
    """The snaplen libpcap really applies to a live handle."""
    return snaplen if 0 < snaplen <= MAX_SNAPLEN else MAX_SNAPLEN


def _be16(data: np.ndarray, at: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Big-endian uint16 at each position where `valid`, 0 elsewhere (positions may be out of range)."""
    if data.size < 2:
        return np.zeros(at.shape, np.int64)
    safe = np.where(valid, at, 0)
    value = (data[safe].astype(np.int64) << 8) | data[safe + 1]
    return np.where(valid, value, 0)


def _network_offset(data: np.ndarray, start: np.ndarray, caplen: np.ndarray,
                    linktype: int) -> tuple[np.ndarray, np.ndarray]:
    """Offset of the IP header in each packet, and the IP version its link layer announces (0 = none, not IP)."""
    if linktype in FIXED_VERSION_LINKS:
        return np.zeros(start.shape, np.int64), np.full(start.shape, FIXED_VERSION_LINKS[linktype], np.int64)
    if linktype in NIBBLE_LINKS:
        l3 = np.full(start.shape, NIBBLE_LINKS[linktype], np.int64)
        has_nibble = caplen > l3
        return l3, np.where(has_nibble, data[np.where(has_nibble, start + l3, 0)] >> 4, 0).astype(np.int64)
    header_len, ethertype_at = ETHERTYPE_LINKS[linktype]
    l3 = np.full(start.shape, header_len, np.int64)
    ethertype = _be16(data, start + ethertype_at, caplen >= header_len)
    for _ in range(MAX_VLAN_TAGS):  # as the parser does: each tag carries the next EtherType
        tagged = np.isin(ethertype, VLAN_TPIDS) & (caplen >= l3 + VLAN_TAG_LEN)
        if not tagged.any():
            break
        ethertype = np.where(tagged, _be16(data, start + l3 + 2, tagged), ethertype)
        l3 = l3 + VLAN_TAG_LEN * tagged
    return l3, np.select([ethertype == ETHERTYPE_IPV4, ethertype == ETHERTYPE_IPV6], [4, 6], 0)


def _ipv6_payload_length(data: np.ndarray, ip_start: np.ndarray, available: np.ndarray,
                         ipv6: np.ndarray) -> np.ndarray:
    """The payload length field, or a jumbogram's Jumbo Payload option where the field is 0
    (the parser's rule, parse/ip.py: Linux's BIG TCP sends such super-packets)."""
    payload_len = _be16(data, ip_start + 4, ipv6)
    jumbo = ipv6 & (payload_len == 0) & (available >= IPV6_HEADER_LEN + 8)
    jumbo &= (_be16(data, ip_start + 6, jumbo) >> 8) == 0  # next header: Hop-by-Hop
    option = ip_start + IPV6_HEADER_LEN
    jumbo &= _be16(data, option + 2, jumbo) == JUMBO_OPTION
    length = (_be16(data, option + 4, jumbo) << 16) | _be16(data, option + 6, jumbo)
    return np.where(jumbo & (length >= MIN_JUMBO), length, payload_len)


def estimate_wirelen(data: np.ndarray, offset: np.ndarray, caplen: np.ndarray, linktype: int,
                     snaplen: int | None) -> tuple[np.ndarray, int]:
    """Wire lengths for one batch, and how many packets the IP header says were cut.

    `snaplen` <= 0 means "no limit" (a live handle without one): nothing can be cut. None means
    the cut is unknown (a file: editcap -s leaves a pcapng interface's snaplen as it was), so
    every packet is a candidate, which costs a gather over the whole batch instead of one
    comparison.
    """
    wirelen = caplen.astype(np.int64, copy=True)
    if (snaplen is not None and snaplen <= 0) or linktype not in IP_LINKS:
        return wirelen, 0
    cut = np.flatnonzero(caplen >= snaplen) if snaplen is not None else np.arange(caplen.size)
    if cut.size == 0:
        return wirelen, 0
    start = offset[cut].astype(np.int64)
    length = caplen[cut].astype(np.int64)
    l3, version = _network_offset(data, start, length, linktype)
    ipv4 = (version == 4) & (length >= l3 + 4)
    ipv6 = (version == 6) & (length >= l3 + 6)
    ip_len = np.where(ipv4, _be16(data, start + l3 + 2, ipv4),
                      IPV6_HEADER_LEN + _ipv6_payload_length(data, start + l3, length - l3, ipv6))
    estimate = np.where(ipv4 | ipv6, np.maximum(length, l3 + ip_len), length)
    wirelen[cut] = estimate
    return wirelen, int(np.count_nonzero(estimate > length))
