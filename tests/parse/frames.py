"""Frames for the parser tests: hypothesis strategies that build them with dpkt, and a dpkt oracle.

Every generated frame remembers where its layers start and end (`Frame`), so that truncation
tests can say which status a cut at any byte must produce without re-deriving it from the parser.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

import dpkt
from hypothesis import strategies as st

from netscope.parse.columns import PROTO_ICMP, PROTO_ICMPV6, PROTO_TCP, PROTO_UDP, Status

ETHERTYPE_LINKS = (1, 113, 276)
NIBBLE_LINKS = (0, 108, 12, 101)
FIXED_VERSION_LINKS = {228: 4, 229: 6}
SUPPORTED_LINKS = ETHERTYPE_LINKS + NIBBLE_LINKS + tuple(FIXED_VERSION_LINKS)
OTHER_PROTO = 253  # experimental protocol number: no transport decoder anywhere

# Extension headers that dpkt also walks (it does not know 135/139/140, tested by example).
_OPTION_HEADERS = (0, 60)
_ROUTING, _FRAGMENT, _AH = 43, 44, 51


@dataclass
class Frame:
    """One built frame and its layer boundaries (absolute byte positions within the frame)."""

    data: bytes
    linktype: int
    link_end: int  # first byte of the IP header (or of the non-IP payload)
    ip: int = 0  # 4, 6 or 0 for a non-IP frame
    ip_header_end: int = 0  # end of the IPv4 header with options, or of the fixed IPv6 header
    extensions: list[tuple[int, int]] = field(default_factory=list)  # (end, kind) per IPv6 ext. header
    fragment_header_end: int | None = None  # a non-initial fragment is known once this is captured
    proto: int = 0
    transport_end: int = 0  # end of what the TCP/UDP/ICMP header needs captured; 0 for other protocols


def _u(data: bytes) -> int:
    return int.from_bytes(data, "big")


# ---------------------------------------------------------------- building


@st.composite
def transports(draw: st.DrawFn, version: int) -> tuple[int, bytes, int]:
    """(protocol, bytes, header length) of a TCP/UDP/ICMP/other segment."""
    payload = draw(st.binary(max_size=48))
    kind = draw(st.sampled_from(["tcp", "udp", "icmp", "other"]))
    if kind == "tcp":
        options = b"\x01" * (4 * draw(st.integers(0, 10)))
        segment = dpkt.tcp.TCP(
            sport=draw(st.integers(0, 0xFFFF)), dport=draw(st.integers(0, 0xFFFF)),
            seq=draw(st.integers(0, 2**32 - 1)), ack=draw(st.integers(0, 2**32 - 1)),
            win=draw(st.integers(0, 0xFFFF)), opts=options, data=payload,
        )
        segment.off = 5 + len(options) // 4
        segment.flags = draw(st.integers(0, 0x1FF))
        return PROTO_TCP, bytes(segment), 14  # the window and options may be cut: ports to flags are read
    if kind == "udp":
        declared = draw(st.one_of(st.just(8 + len(payload)), st.integers(0, 0xFFFF)))
        segment = dpkt.udp.UDP(sport=draw(st.integers(0, 0xFFFF)), dport=draw(st.integers(0, 0xFFFF)),
                               ulen=declared, data=payload)
        return PROTO_UDP, bytes(segment), 8
    if kind == "icmp":
        if version == 4:
            proto, icmp_type = PROTO_ICMP, draw(st.sampled_from([0, 8, 13, 14, 42, 200]))
        else:
            proto, icmp_type = PROTO_ICMPV6, draw(st.sampled_from([128, 129, 133, 135, 136, 200]))
        segment = dpkt.icmp.ICMP(type=icmp_type, code=draw(st.integers(0, 255)),
                                 data=draw(st.binary(min_size=4, max_size=4)) + payload)
        return proto, bytes(segment), 8
    return OTHER_PROTO, payload, 0


@st.composite
def ipv4_packets(draw: st.DrawFn) -> tuple[bytes, dict]:
    proto, segment, transport_len = draw(transports(4))
    options = b"\x01" * (4 * draw(st.integers(0, 10)))
    fragment_offset = draw(st.one_of(st.just(0), st.just(0), st.just(0), st.integers(1, 0x1FFF)))
    packet = dpkt.ip.IP(
        src=draw(st.binary(min_size=4, max_size=4)), dst=draw(st.binary(min_size=4, max_size=4)),
        p=proto, ttl=draw(st.integers(0, 255)), id=draw(st.integers(0, 0xFFFF)), opts=options,
        data=segment,
    )
    packet.hl = 5 + len(options) // 4
    packet.offset = fragment_offset
    packet.mf = draw(st.integers(0, 1))
    header_len = 20 + len(options)
    layout = {"ip": 4, "ip_header_end": header_len, "proto": proto,
              "fragment_header_end": header_len if fragment_offset else None,
              "transport_end": header_len + transport_len if transport_len else 0}
    return bytes(packet), layout


@st.composite
def extension_header(draw: st.DrawFn, kind: int, next_header: int, last_fragment: bool) -> bytes:
    if kind in _OPTION_HEADERS:
        units = draw(st.integers(0, 3))
        return bytes([next_header, units]) + bytes((units + 1) * 8 - 2)  # Pad1 options
    if kind == _ROUTING:
        units = 2 * draw(st.integers(0, 2))
        return bytes([next_header, units, draw(st.integers(0, 255)), 0]) + bytes(4 + units * 8)
    if kind == _FRAGMENT:
        offset = draw(st.integers(1, 0x1FFF)) if last_fragment else 0
        return bytes([next_header, 0]) + struct.pack(">HI", offset << 3 | draw(st.integers(0, 1)),
                                                     draw(st.integers(0, 2**32 - 1)))
    units = draw(st.integers(1, 6))  # AH: (units + 2) * 4 bytes, at least the 12 fixed ones
    return bytes([next_header, units, 0, 0]) + draw(st.binary(min_size=units * 4 + 4, max_size=units * 4 + 4))


@st.composite
def ipv6_packets(draw: st.DrawFn) -> tuple[bytes, dict]:
    proto, segment, transport_len = draw(transports(6))
    kinds = draw(st.lists(st.sampled_from([*_OPTION_HEADERS, _ROUTING, _FRAGMENT, _AH]), max_size=3))
    if kinds[:1] == [_FRAGMENT]:
        kinds = kinds[:1]  # dpkt 1.9.8 fails on a leading fragment header followed by another one
    non_initial_fragment = bool(kinds) and kinds[-1] == _FRAGMENT and draw(st.booleans())
    headers, extensions, end = [], [], 40
    for index, kind in enumerate(kinds):
        next_header = kinds[index + 1] if index + 1 < len(kinds) else proto
        header = draw(extension_header(kind, next_header, non_initial_fragment and index == len(kinds) - 1))
        headers.append(header)
        end += len(header)
        extensions.append((end, kind))
    body = b"".join(headers) + segment
    packet = dpkt.ip6.IP6(
        src=draw(st.binary(min_size=16, max_size=16)), dst=draw(st.binary(min_size=16, max_size=16)),
        nxt=kinds[0] if kinds else proto, hlim=draw(st.integers(0, 255)), plen=len(body), data=body,
    )
    layout = {"ip": 6, "ip_header_end": 40, "proto": proto, "extensions": extensions,
              "fragment_header_end": end if non_initial_fragment else None,
              "transport_end": end + transport_len if transport_len else 0}
    return bytes(packet), layout


def link_header(linktype: int, protocol: int, version: int, family_little_endian: bool) -> bytes:
    """The link header in front of an IP packet (or non-IP payload) for `linktype`."""
    if linktype == 1:
        return b"\x02\x00\x00\x00\x00\x0b\x02\x00\x00\x00\x00\x0a" + struct.pack(">H", protocol)
    if linktype == 113:
        return struct.pack(">HHH8sH", 0, 1, 6, b"\x02\x00\x00\x00\x00\x0a", protocol)
    if linktype == 276:
        return struct.pack(">HHiHBB8s", protocol, 0, 3, 1, 0, 6, b"\x02\x00\x00\x00\x00\x0a")
    if linktype in (0, 108):
        family = 2 if version == 4 else 24
        order = "<I" if linktype == 0 and family_little_endian else ">I"
        return struct.pack(order, family)
    return b""


@st.composite
def frames(draw: st.DrawFn, linktype: int, allow_vlan: bool = True) -> Frame:
    """A well-formed frame for `linktype`: IPv4/IPv6 (or ARP on EtherType links) plus a trailer."""
    if linktype in FIXED_VERSION_LINKS:
        version = FIXED_VERSION_LINKS[linktype]
    else:
        choices = [4, 6, 0] if linktype in ETHERTYPE_LINKS else [4, 6]
        version = draw(st.sampled_from(choices))
    tag_count = draw(st.integers(0, 2)) if allow_vlan and linktype in ETHERTYPE_LINKS else 0
    # The link's protocol field holds the first tag's TPID; each tag is a TCI followed by the
    # next TPID or, for the last tag, the real EtherType. dpkt follows an inner tag only if 0x8100.
    tpids = [draw(st.sampled_from([0x8100, 0x88A8])), 0x8100][:tag_count]
    chain = [*tpids, {4: 0x0800, 6: 0x86DD, 0: 0x0806}[version]]
    header = link_header(linktype, chain[0], version, draw(st.booleans()))
    for next_protocol in chain[1:]:
        header += struct.pack(">HH", draw(st.integers(0, 0xFFFF)), next_protocol)
    link_end = len(header)
    trailer = draw(st.binary(max_size=8))
    if version == 0:
        arp = bytes(dpkt.arp.ARP(sha=b"\x02" * 6, spa=b"\x0a\x00\x00\x01", tha=b"\x00" * 6, tpa=b"\x0a\x00\x00\x02"))
        return Frame(header + arp + trailer, linktype, link_end)
    packet, layout = draw(ipv4_packets() if version == 4 else ipv6_packets())
    shift = {"ip_header_end", "fragment_header_end", "transport_end"}
    for key in shift:
        if layout.get(key):
            layout[key] += link_end
    layout["extensions"] = [(end + link_end, kind) for end, kind in layout.get("extensions", [])]
    return Frame(header + packet + trailer, linktype, link_end, **layout)


# ---------------------------------------------------------------- oracles

COLUMNS = ("status", "ip_version", "ip_proto", "src_hi", "src_lo", "dst_hi", "dst_lo", "src_port",
           "dst_port", "has_l4", "tcp_flags", "tcp_seq", "tcp_ack", "tcp_window", "payload_len",
           "icmp_type", "icmp_code", "vlan_id", "l3_offset", "l4_offset")


def blank_fields() -> dict[str, int]:
    fields = dict.fromkeys(COLUMNS, 0)
    fields.update(status=Status.OK, has_l4=False, l3_offset=-1, l4_offset=-1)
    return fields


def _dpkt_link(data: bytes, linktype: int) -> tuple[object, int, int]:
    """(network-layer object or bytes, its offset, outermost VLAN id) as dpkt decodes them."""
    if linktype == 1:
        ether = dpkt.ethernet.Ethernet(data)
        tags = getattr(ether, "vlan_tags", [])
        return ether.data, 14 + 4 * len(tags), tags[0].id if tags else 0
    if linktype in (113, 276):
        link = dpkt.sll.SLL(data) if linktype == 113 else dpkt.sll2.SLL2(data)
        offset, ethertype, tags = len(link.pack_hdr()), link.ethtype, []
        while ethertype in (0x8100, 0x88A8) and len(tags) < 2:
            tags.append(dpkt.ethernet.VLANtag8021Q(data[offset:]))
            ethertype, offset = tags[-1].type, offset + 4
        decoder = {0x0800: dpkt.ip.IP, 0x86DD: dpkt.ip6.IP6}.get(ethertype)
        network = decoder(data[offset:]) if decoder else data[offset:]
        return network, offset, tags[0].id if tags else 0
    if linktype in (0, 108):
        return dpkt.loopback.Loopback(data).data, 4, 0
    decoder = dpkt.ip.IP if data[0] >> 4 == 4 else dpkt.ip6.IP6
    return decoder(data), 0, 0


def dpkt_fields(data: bytes, linktype: int) -> dict[str, int]:
    """Every ParsedBatch column for one untruncated generated frame, decoded by dpkt."""
    fields = blank_fields()
    network, l3, fields["vlan_id"] = _dpkt_link(data, linktype)
    if isinstance(network, dpkt.ip.IP):
        fields.update(ip_version=4, ip_proto=network.p, src_lo=_u(network.src), dst_lo=_u(network.dst))
        non_initial_fragment = network.offset != 0
        transport_at = l3 + network.hl * 4
        segment_len = network.len - network.hl * 4
    elif isinstance(network, dpkt.ip6.IP6):
        fields.update(ip_version=6, ip_proto=network.p, src_hi=_u(network.src[:8]), src_lo=_u(network.src[8:]),
                      dst_hi=_u(network.dst[:8]), dst_lo=_u(network.dst[8:]))
        extensions = network.all_extension_headers
        non_initial_fragment = any(
            isinstance(header, dpkt.ip6.IP6FragmentHeader) and header.frag_off for header in extensions
        )
        if non_initial_fragment:
            fields["ip_proto"] = _FRAGMENT  # the walk stops at the fragment header
        extension_len = sum(header.length for header in extensions)
        transport_at = l3 + 40 + extension_len
        segment_len = network.plen - extension_len
    else:
        fields["status"] = Status.NOT_IP
        return fields
    fields["l3_offset"] = l3
    if non_initial_fragment:
        fields["status"] = Status.FRAGMENT
        return fields

    segment = network.data
    if isinstance(segment, dpkt.tcp.TCP):
        fields.update(src_port=segment.sport, dst_port=segment.dport, tcp_flags=segment.flags & 0xFF,
                      tcp_seq=segment.seq, tcp_ack=segment.ack, tcp_window=segment.win,
                      payload_len=max(segment_len - segment.off * 4, 0))
    elif isinstance(segment, dpkt.udp.UDP):
        fields.update(src_port=segment.sport, dst_port=segment.dport, payload_len=max(segment.ulen - 8, 0))
    elif isinstance(segment, (dpkt.icmp.ICMP, dpkt.icmp6.ICMP6)) and len(bytes(segment)) >= 8:
        fields.update(icmp_type=segment.type, icmp_code=segment.code)
    else:
        return fields
    fields.update(has_l4=True, l4_offset=transport_at)
    return fields


def status_after_cut(frame: Frame, cut: int) -> tuple[Status, int | None]:
    """(status, ip_proto if the cut decides it) for `frame` captured up to byte `cut` only."""
    if cut < frame.link_end:
        return Status.TRUNCATED_LINK, None
    if frame.ip == 0:
        return Status.NOT_IP, None
    if cut < frame.link_end + (20 if frame.ip == 4 else 40) or cut < frame.ip_header_end:
        return Status.TRUNCATED_IP, None
    for end, kind in frame.extensions:
        if cut < end:  # the walk stops at a cut extension header: its number, no transport
            return Status.OK, kind
    if frame.fragment_header_end is not None:
        return Status.FRAGMENT, None
    if frame.transport_end and cut < frame.transport_end:
        return Status.TRUNCATED_L4, None
    return Status.OK, None


def row_fields(parsed: object, index: int) -> dict[str, int]:
    """One packet of a ParsedBatch as plain ints, comparable with `dpkt_fields`."""
    return {name: int(getattr(parsed, name)[index]) for name in COLUMNS}
