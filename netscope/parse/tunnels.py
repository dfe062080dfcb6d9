"""Tunnels: a packet carried in VXLAN, GENEVE, GRE or IP-in-IP belongs to its inner flow.

An overlay network (Kubernetes with flannel, Calico or Cilium, OpenStack, a site-to-site GRE
link) shows a capture on the underlay one UDP or GRE flow per pair of tunnel endpoints, which
is all iftop would show; the flows that carry the traffic are inside. tshark dissects them,
and so does netscope: a packet whose inner headers decode as IP is reported as its inner
packet (addresses, ports, TCP fields, offsets), still counted with its outer wire length, the
bytes it took on the captured link. One whose inner headers are not IP (ARP inside VXLAN, say)
stays the outer packet of the outer flow, and so does one with a malformed inner IP header or
one cut by the snaplen before its inner IP header is whole. Tunnels inside tunnels are followed
MAX_DEPTH deep.

Which packets are tunnels, as tshark decides by default: UDP to or from port 4789 with the
VXLAN I flag, UDP to or from 6081 (GENEVE version 0), IP protocol 47 (GRE version 0, carrying
IPv4, IPv6, Ethernet, or a port mirror as ERSPAN types I to III), 4 (IPv4) and 41 (IPv6).
Also VXLAN on 8472, the Linux kernel's default port, which flannel uses; tshark needs
`-d udp.port==8472,vxlan` for it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from netscope.capture.batch import RawBatch
from netscope.linktypes import (
    DLT_EN10MB,
    DLT_RAW,
    ETHERTYPE_ERSPAN_II,
    ETHERTYPE_ERSPAN_III,
    ETHERTYPE_IPV4,
    ETHERTYPE_IPV6,
    ETHERTYPE_TEB,
    GENEVE_PORT,
    IPPROTO_GRE,
    IPPROTO_IPIP,
    IPPROTO_IPV6,
    VXLAN_PORTS,
)
from netscope.parse.columns import PROTO_UDP, Status
from netscope.parse.gather import ByteReader, bits

TUNNEL_UDP_PORTS = (*VXLAN_PORTS, GENEVE_PORT)
MAX_DEPTH = 2

UDP_HEADER = 8
VXLAN_HEADER = 8
VXLAN_FLAG_VNI = 0x08  # the I flag: a valid VNI, set by every VXLAN sender
GENEVE_HEADER = 8
GRE_HEADER = 4
GRE_CHECKSUM, GRE_ROUTING, GRE_KEY, GRE_SEQUENCE = 0x8000, 0x4000, 0x2000, 0x1000
GRE_VERSION_MASK = 0x0007
ERSPAN_II_HEADER = 8
ERSPAN_III_HEADER = 12
ERSPAN_III_SUBHEADER = 8  # the platform-specific subheader, present when the O flag (bit 0 of word 3) is set


Parts = list[tuple[np.ndarray, np.ndarray]]  # (rows, where their inner packet starts)


@dataclass(frozen=True, slots=True)
class Tunnelled:
    """Packets `rows` of a batch whose inner packet starts `inner_start` bytes into each, as `linktype`."""

    rows: np.ndarray  # int64
    inner_start: np.ndarray  # int64, relative to the packet start
    linktype: int  # DLT_EN10MB or DLT_RAW


def tunnel_udp_port(src_port: np.ndarray, dst_port: np.ndarray) -> np.ndarray:
    """Packets with a tunnel's UDP port on either side; routing hashes them by address only."""
    return _on_port(src_port, dst_port, TUNNEL_UDP_PORTS)


def _on_port(src_port: np.ndarray, dst_port: np.ndarray, ports: tuple[int, ...]) -> np.ndarray:
    either = np.zeros(src_port.shape[0], dtype=bool)
    for port in ports:
        either |= (src_port == port) | (dst_port == port)
    return either


def find_tunnels(raw: RawBatch, reader: ByteReader, status: np.ndarray, proto: np.ndarray, has_l4: np.ndarray,
                 src_port: np.ndarray, dst_port: np.ndarray, transport_offset: np.ndarray) -> list[Tunnelled]:
    """The batch's tunnel packets, grouped by the link type their inner packet starts with.

    `transport_offset` is where the IP payload starts (the UDP header of VXLAN and GENEVE).
    The inner packet must start within the captured bytes; whether it decodes is the caller's.
    """
    ok = status == Status.OK
    ethernet: Parts = []
    raw_ip: Parts = []

    udp = np.flatnonzero(ok & has_l4 & (proto == PROTO_UDP) & tunnel_udp_port(src_port, dst_port))
    if udp.size:
        header = transport_offset[udp] + UDP_HEADER
        fits = raw.caplen[udp] >= header + VXLAN_HEADER  # GENEVE's fixed header is as long
        udp, header = udp[fits], header[fits]
        first = reader.u32(raw.offset[udp] + header)
        sport, dport = src_port[udp], dst_port[udp]
        vxlan = _on_port(sport, dport, VXLAN_PORTS) & (((first >> 24) & VXLAN_FLAG_VNI) != 0)
        ethernet.append((udp[vxlan], header[vxlan] + VXLAN_HEADER))
        # GENEVE: version (2 bits), options length in 4-byte words (6), flags, protocol type.
        geneve = ~vxlan & _on_port(sport, dport, (GENEVE_PORT,)) & (bits(first, 30, 2) == 0)
        inner = header + GENEVE_HEADER + bits(first, 24, 6) * 4
        ethertype = first & 0xFFFF
        bridged = geneve & (ethertype == ETHERTYPE_TEB)
        ethernet.append((udp[bridged], inner[bridged]))
        routed = geneve & ((ethertype == ETHERTYPE_IPV4) | (ethertype == ETHERTYPE_IPV6))
        raw_ip.append((udp[routed], inner[routed]))

    ip_in_ip = np.flatnonzero(ok & ~has_l4 & ((proto == IPPROTO_IPIP) | (proto == IPPROTO_IPV6)))
    raw_ip.append((ip_in_ip, transport_offset[ip_in_ip]))

    gre = np.flatnonzero(ok & ~has_l4 & (proto == IPPROTO_GRE))
    if gre.size:
        _gre(raw, reader, gre, transport_offset[gre], ethernet, raw_ip)

    found = []
    for linktype, parts in ((DLT_EN10MB, ethernet), (DLT_RAW, raw_ip)):
        rows = np.concatenate([rows for rows, _ in parts]) if parts else np.empty(0, np.int64)
        if rows.size:
            starts = np.concatenate([start for _, start in parts])
            inside = starts < raw.caplen[rows]
            found.append(Tunnelled(rows[inside], starts[inside], linktype))
    return found


def _gre(raw: RawBatch, reader: ByteReader, gre: np.ndarray, at: np.ndarray, ethernet: Parts, raw_ip: Parts) -> None:
    """GRE packets `gre` (the header at `at`): what they carry goes to `ethernet` or `raw_ip`."""
    fits = raw.caplen[gre] >= at + GRE_HEADER
    gre, at = gre[fits], at[fits]
    first = reader.u32(raw.offset[gre] + at)
    flags, ethertype = first >> 16, first & 0xFFFF
    # Version 0 only (1 is PPTP's enhanced GRE, carrying PPP); no source routing (RFC 1701's
    # deprecated field, of variable length). Checksum, key and sequence add 4 bytes each.
    plain = ((flags & GRE_VERSION_MASK) == 0) & ((flags & GRE_ROUTING) == 0)
    inner = at + GRE_HEADER + 4 * sum(
        ((flags & bit) != 0).astype(np.int64) for bit in (GRE_CHECKSUM, GRE_KEY, GRE_SEQUENCE))
    bridged = plain & (ethertype == ETHERTYPE_TEB)
    ethernet.append((gre[bridged], inner[bridged]))
    routed = plain & ((ethertype == ETHERTYPE_IPV4) | (ethertype == ETHERTYPE_IPV6))
    raw_ip.append((gre[routed], inner[routed]))
    mirrored = plain & (ethertype == ETHERTYPE_ERSPAN_II)  # type I without a sequence number, else II
    header = np.where((flags[mirrored] & GRE_SEQUENCE) != 0, ERSPAN_II_HEADER, 0)
    ethernet.append((gre[mirrored], inner[mirrored] + header))
    mirrored = plain & (ethertype == ETHERTYPE_ERSPAN_III)
    # A word read past a short packet only moves a start that lies past its end anyway.
    flags_word = reader.u32(raw.offset[gre[mirrored]] + inner[mirrored] + 8)
    ethernet.append((gre[mirrored], inner[mirrored] + ERSPAN_III_HEADER + ERSPAN_III_SUBHEADER * (flags_word & 1)))


def inner_batch(raw: RawBatch, tunnel: Tunnelled) -> RawBatch:
    """The inner packets as a batch of their own over the same buffer (no bytes copied)."""
    rows = tunnel.rows
    return RawBatch(raw.data, raw.offset[rows] + tunnel.inner_start, raw.caplen[rows] - tunnel.inner_start,
                    raw.wirelen[rows], raw.ts_us[rows], tunnel.linktype)
