"""Wire length when libpcap only tells us the captured length.

pcapy's `next_batch` metadata carries caplen but not the original length. A packet shorter
than the snaplen cannot have been cut, so its wire length is its caplen. A packet that fills
the snaplen may have been cut; for those the IP header still says how long the datagram was,
so link header + IPv4 total length (or IPv6 40 + payload length) is a close estimate. It is
exact for Ethernet/SLL/loopback/raw IP frames except for trailers (Ethernet padding, FCS)
that the IP length does not cover. Every step is a numpy gather over the packets at the
snaplen; the common case (nothing at the snaplen) costs one comparison.
"""

from __future__ import annotations

import numpy as np

DLT_NULL, DLT_EN10MB, DLT_RAW, DLT_RAW_ALT, DLT_LOOP, DLT_LINUX_SLL = 0, 1, 12, 101, 108, 113

# Bytes before the network header for the link types netscope parses (reference §2.1).
LINK_HEADER_LEN = {DLT_EN10MB: 14, DLT_LINUX_SLL: 16, DLT_NULL: 4, DLT_LOOP: 4, DLT_RAW: 0, DLT_RAW_ALT: 0}

ETHERTYPE_IPV4, ETHERTYPE_IPV6 = 0x0800, 0x86DD
VLAN_TPIDS = (0x8100, 0x88A8, 0x9100)
MAX_VLAN_TAGS = 2
IPV6_HEADER_LEN = 40

MAX_SNAPLEN = 262144  # libpcap's ceiling; it replaces 0 or larger requests with this


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
    """Offset of the IP header in each packet, and whether the link layer says it carries IP."""
    l2 = np.full(start.shape, LINK_HEADER_LEN[linktype], np.int64)
    if linktype not in (DLT_EN10MB, DLT_LINUX_SLL):
        return l2, np.ones(start.shape, bool)  # no protocol field: the IP version nibble decides
    ethertype = _be16(data, start + l2 - 2, caplen >= l2)
    if linktype == DLT_EN10MB:
        for _ in range(MAX_VLAN_TAGS):
            tagged = np.isin(ethertype, VLAN_TPIDS) & (caplen >= l2 + 4)
            l2 = l2 + 4 * tagged
            ethertype = np.where(tagged, _be16(data, start + l2 - 2, tagged), ethertype)
    return l2, (ethertype == ETHERTYPE_IPV4) | (ethertype == ETHERTYPE_IPV6)


def estimate_wirelen(data: np.ndarray, offset: np.ndarray, caplen: np.ndarray, linktype: int,
                     snaplen: int) -> tuple[np.ndarray, int]:
    """Wire lengths for one batch, and how many of them had to be estimated from an IP header.

    `snaplen` <= 0 means "no limit" (a pcapng interface without one): nothing can be cut.
    """
    wirelen = caplen.astype(np.int64, copy=True)
    if snaplen <= 0 or linktype not in LINK_HEADER_LEN:
        return wirelen, 0
    cut = np.flatnonzero(caplen >= snaplen)
    if cut.size == 0:
        return wirelen, 0
    start = offset[cut].astype(np.int64)
    length = caplen[cut].astype(np.int64)
    l3, carries_ip = _network_offset(data, start, length, linktype)
    has_version = carries_ip & (length > l3)
    version = np.where(has_version, data[np.where(has_version, start + l3, 0)] >> 4, 0)
    ipv4 = (version == 4) & (length >= l3 + 4)
    ipv6 = (version == 6) & (length >= l3 + 6)
    ip_len = np.where(ipv4, _be16(data, start + l3 + 2, ipv4),
                      IPV6_HEADER_LEN + _be16(data, start + l3 + 4, ipv6))
    estimated = ipv4 | ipv6
    wirelen[cut] = np.where(estimated, np.maximum(length, l3 + ip_len), length)
    return wirelen, int(np.count_nonzero(estimated))
