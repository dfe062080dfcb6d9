"""Decoding a flow's recent packets for the detail screen, with dpkt, on demand.

This runs in the UI process only when a person opens a flow, on the few dozen packets
the engine kept for it: per-packet Python is fine here and never touches the capture
path. Packets may be cut short (snaplen, or the engine's keep limit), so every step
tolerates truncation and keeps whatever layers did decode.
"""

from __future__ import annotations

import re
import socket
import struct
from dataclasses import dataclass

import dpkt

from netscope.engine.messages import FlowKey, PacketRecord
from netscope.linktypes import (
    DLT_EN10MB,
    DLT_IPV4,
    DLT_IPV6,
    DLT_LINUX_SLL,
    DLT_LINUX_SLL2,
    DLT_LOOP,
    DLT_NULL,
    DLT_RAW,
    DLT_RAW_OPENBSD,
    ETHERTYPE_ERSPAN_II,
    ETHERTYPE_ERSPAN_III,
    ETHERTYPE_IPV4,
    ETHERTYPE_IPV6,
    GENEVE_PORT,
    IPPROTO_GRE,
    IPPROTO_IPIP,
    IPPROTO_IPV6,
    JUMBO_OPTION,
    LLC_SNAP,
    LLC_SNAP_LEN,
    MIN_JUMBO,
    RADIOTAP_MIN_LEN,
    VXLAN_PORTS,
    WIFI_ADDR4_LEN,
    WIFI_DATA_TYPE,
    WIFI_FROM_DS,
    WIFI_HEADER_LEN,
    WIFI_HT_CONTROL_LEN,
    WIFI_LINKS,
    WIFI_ORDER,
    WIFI_PROTECTED,
    WIFI_QOS_LEN,
    WIFI_SUBTYPE_NO_DATA,
    WIFI_SUBTYPE_QOS,
    WIFI_TO_DS,
)
from netscope.ui.formatting import endpoint

HEX_LIMIT = 256  # bytes shown in the hex view, as the reference's detail view
DNS_PORTS = (53, 5353)  # mDNS uses the same wire format and is common on LANs
HTTP_METHODS = (b"GET", b"POST", b"PUT", b"DELETE", b"HEAD", b"OPTIONS", b"PATCH", b"CONNECT", b"TRACE")
TCP_FLAG_NAMES = ((dpkt.tcp.TH_SYN, "SYN"), (dpkt.tcp.TH_ACK, "ACK"), (dpkt.tcp.TH_FIN, "FIN"),
                  (dpkt.tcp.TH_RST, "RST"), (dpkt.tcp.TH_PUSH, "PSH"), (dpkt.tcp.TH_URG, "URG"),
                  (dpkt.tcp.TH_ECE, "ECE"), (dpkt.tcp.TH_CWR, "CWR"))
DNS_RCODES = {0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP", 5: "REFUSED"}
DNS_OPCODES = {0: "QUERY", 1: "IQUERY", 2: "STATUS", 4: "NOTIFY", 5: "UPDATE"}
DNS_TYPES = {1: "A", 2: "NS", 5: "CNAME", 6: "SOA", 12: "PTR", 15: "MX", 16: "TXT", 28: "AAAA", 33: "SRV",
             41: "OPT", 255: "ANY"}
IP_PROTOCOLS = {1: "ICMP", 6: "TCP", 17: "UDP", 58: "ICMPv6", 44: "IPv6-Fragment"}
_HOSTNAME_LABEL = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")



@dataclass(frozen=True)
class Layer:
    name: str
    fields: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class DecodedPacket:
    src: str  # "ip:port", "ip", or "" when no IP layer decoded
    dst: str
    protocol: str  # the highest layer understood: HTTP, TLS, DNS, TCP, UDP, ICMP, IPv4, ...
    info: str  # one line: flags/seq/ack, DNS question/answer, SNI, request line
    layers: tuple[Layer, ...]


def decode(record: PacketRecord) -> DecodedPacket:
    """Decode one kept packet as far as its bytes and dpkt allow."""
    layers: list[Layer] = []
    network = _link_layer(record, layers)
    network = _inside_tunnel(record, network, layers) or network
    if isinstance(network, dpkt.ip.IP):
        return _ip_layer(network, layers, version=4, wire_len=_ip_wire_length(record))
    if isinstance(network, dpkt.ip6.IP6):
        return _ip_layer(network, layers, version=6, wire_len=_ip_wire_length(record))
    name = layers[-1].name if layers else "?"
    return DecodedPacket("", "", name, f"{len(record.data)} bytes, no IP layer decoded", tuple(layers))


def direction(packet: DecodedPacket, key: FlowKey) -> str:
    """"A→B" or "B→A" relative to the flow's canonical endpoints."""
    _, a_ip, a_port, b_ip, b_port = key
    if packet.src == endpoint(a_ip, a_port) and packet.dst == endpoint(b_ip, b_port):
        return "A→B"
    if packet.src == endpoint(b_ip, b_port) and packet.dst == endpoint(a_ip, a_port):
        return "B→A"
    return "?"


def hex_dump(data: bytes, limit: int = HEX_LIMIT) -> list[str]:
    """The reference's hex rows: offset, 16 bytes split 8+8, then |ascii|."""
    lines = []
    shown = data[:limit]
    for offset in range(0, len(shown), 16):
        chunk = shown[offset:offset + 16]
        hex_part = "".join(f"{b:02x} " for b in chunk[:8]) + " " + "".join(f"{b:02x} " for b in chunk[8:])
        text = "".join(chr(b) if 32 <= b < 127 else "." for b in chunk)
        lines.append(f"{offset:04x}  {hex_part:<49} |{text}|")
    if len(data) > limit:
        lines.append(f"... ({len(data) - limit} bytes remaining)")
    return lines


# -- link ------------------------------------------------------------------------------------
def _mac(raw: bytes) -> str:
    return ":".join(f"{b:02x}" for b in raw)


def _link_layer(record: PacketRecord, layers: list[Layer]) -> object:
    data = record.data
    linktype = record.linktype
    try:
        if linktype == DLT_EN10MB:
            frame = dpkt.ethernet.Ethernet(data)
            fields = [("Source", _mac(frame.src)), ("Destination", _mac(frame.dst)),
                      ("EtherType", f"0x{frame.type:04x}")]
            fields += [("VLAN", f"id {tag.id} priority {tag.pri}") for tag in getattr(frame, "vlan_tags", [])]
            layers.append(Layer("Ethernet", tuple(fields)))
            return _inside_ethernet(frame, layers)
        if linktype == DLT_LINUX_SLL:
            frame = dpkt.sll.SLL(data)
            layers.append(Layer("Linux cooked", (("Packet type", str(frame.type)),
                                                 ("Protocol", f"0x{frame.ethtype:04x}"))))
            return frame.data
        if linktype == DLT_LINUX_SLL2:
            frame = dpkt.sll2.SLL2(data)
            layers.append(Layer("Linux cooked v2", (("Protocol", f"0x{frame.ethtype:04x}"),
                                                    ("Interface", str(frame.ifindex)))))
            return frame.data
        if linktype in (DLT_NULL, DLT_LOOP):
            frame = dpkt.loopback.Loopback(data)
            layers.append(Layer("Loopback", (("Family", str(frame.family)),)))
            return frame.data
    except (dpkt.UnpackError, struct.error, ValueError) as exc:
        layers.append(Layer("Link", (("Parse note", f"link header did not decode: {exc}"),)))
        return data
    if linktype in WIFI_LINKS:
        return _wifi_layers(data, WIFI_LINKS[linktype], layers)
    if linktype in (DLT_RAW, DLT_RAW_OPENBSD, DLT_IPV4, DLT_IPV6) and data:
        layers.append(Layer("Raw IP", (("Encapsulation", "none (IP starts at byte 0)"),)))
        try:
            return dpkt.ip6.IP6(data) if data[0] >> 4 == 6 else dpkt.ip.IP(data)
        except (dpkt.UnpackError, struct.error, ValueError):
            return data
    layers.append(Layer("Link", (("Link type", str(linktype)),)))
    return data


WIFI_TYPES = {0: "Management", 1: "Control", 2: "Data", 3: "Extension"}
WIFI_DIRECTIONS = {0: "within the BSS", WIFI_TO_DS: "to the AP (ToDS)", WIFI_FROM_DS: "from the AP (FromDS)",
                   WIFI_TO_DS | WIFI_FROM_DS: "between APs (ToDS and FromDS)"}


def _wifi_layers(data: bytes, radiotap: bool, layers: list[Layer]) -> object:
    """Radiotap and the 802.11 MAC header, read as the parser reads them (parse/wifi.py); then LLC/SNAP
    and what its EtherType names."""
    at = 0
    if radiotap:
        if len(data) < RADIOTAP_MIN_LEN:
            layers.append(Layer("Radiotap", (("Parse note", "header cut short"),)))
            return data
        at = struct.unpack_from("<H", data, 2)[0]
        layers.append(Layer("Radiotap", (("Header length", f"{at} bytes"),)))
    if len(data) < at + WIFI_HEADER_LEN:
        layers.append(Layer("802.11", (("Parse note", "MAC header cut short"),)))
        return data[at:]
    kind, flags = data[at], data[at + 1]
    frame_type, subtype = (kind >> 2) & 0x3, kind >> 4
    qos = frame_type == WIFI_DATA_TYPE and bool(subtype & WIFI_SUBTYPE_QOS)
    fields = [("Type", f"{WIFI_TYPES[frame_type]}{' (QoS)' if qos else ''}, subtype {subtype}"),
              ("Receiver", _mac(data[at + 4 : at + 10])), ("Transmitter", _mac(data[at + 10 : at + 16])),
              ("Address 3", _mac(data[at + 16 : at + 22])),
              ("Direction", WIFI_DIRECTIONS[flags & (WIFI_TO_DS | WIFI_FROM_DS)])]
    if flags & WIFI_PROTECTED:
        fields.append(("Protected", "yes: the body is encrypted"))
    layers.append(Layer("802.11", tuple(fields)))
    if frame_type != WIFI_DATA_TYPE or subtype & WIFI_SUBTYPE_NO_DATA or flags & WIFI_PROTECTED:
        return b""
    snap_at = at + WIFI_HEADER_LEN + WIFI_ADDR4_LEN * ((flags & 0x3) == 0x3)
    snap_at += (WIFI_QOS_LEN + WIFI_HT_CONTROL_LEN * bool(flags & WIFI_ORDER)) if qos else 0
    if data[snap_at : snap_at + len(LLC_SNAP)] != LLC_SNAP or len(data) < snap_at + LLC_SNAP_LEN:
        return data[snap_at:]
    ethertype = struct.unpack_from(">H", data, snap_at + 6)[0]
    layers.append(Layer("LLC/SNAP", (("EtherType", f"0x{ethertype:04x}"),)))
    body = data[snap_at + LLC_SNAP_LEN :]
    decoder = {ETHERTYPE_IPV4: dpkt.ip.IP, ETHERTYPE_IPV6: dpkt.ip6.IP6}.get(ethertype)
    try:
        return body if decoder is None else decoder(body)
    except (dpkt.UnpackError, struct.error, ValueError):
        return body


def _inside_ethernet(frame: dpkt.ethernet.Ethernet, layers: list[Layer]) -> object:
    """What an Ethernet frame carries, through an MPLS label stack or a PPPoE session as the parser goes."""
    labels = getattr(frame, "labels", None) or []
    if labels:
        layers.append(Layer("MPLS", tuple(("Label", f"{label} (exp {exp}, ttl {ttl})") for label, exp, ttl in labels)))
    carried = frame.data
    if isinstance(carried, dpkt.pppoe.PPPoE):
        ppp = carried.data
        protocol = getattr(ppp, "p", None)
        layers.append(Layer("PPPoE", (("Session", f"0x{carried.session:04x}"),
                                      ("PPP protocol", "?" if protocol is None else f"0x{protocol:04x}"))))
        carried = getattr(ppp, "data", ppp)
    return carried


def _inside_tunnel(record: PacketRecord, outer: object, layers: list[Layer]) -> dpkt.Packet | None:
    """The inner IP packet where the parser took a tunnel's (parse/tunnels.py); the outer one as a layer."""
    if not isinstance(outer, (dpkt.ip.IP, dpkt.ip6.IP6)) or record.l3_offset < 0:
        return None
    carried = outer.data
    udp = outer.p == dpkt.ip.IP_PROTO_UDP
    ports = (getattr(carried, "sport", None), getattr(carried, "dport", None)) if udp else ()
    kind = ("VXLAN" if set(VXLAN_PORTS) & set(ports) else "GENEVE" if GENEVE_PORT in ports
            else {IPPROTO_GRE: "GRE", IPPROTO_IPIP: "IPv4 in IP", IPPROTO_IPV6: "IPv6 in IP"}.get(outer.p))
    if kind == "GRE" and getattr(carried, "p", None) in (ETHERTYPE_ERSPAN_II, ETHERTYPE_ERSPAN_III):
        kind = "ERSPAN"  # a switch's port mirror
    data = record.data[record.l3_offset:]
    if kind is None or not data:
        return None
    try:
        inner = dpkt.ip6.IP6(data) if data[0] >> 4 == 6 else dpkt.ip.IP(data)
    except (dpkt.UnpackError, struct.error, ValueError):
        return None
    if (inner.src, inner.dst) == (outer.src, outer.dst):
        return None  # the parser found no IP inside (ARP in VXLAN, say) and stayed with this one
    family = socket.AF_INET if isinstance(outer, dpkt.ip.IP) else socket.AF_INET6
    source, destination = socket.inet_ntop(family, outer.src), socket.inet_ntop(family, outer.dst)
    if ports:
        source, destination = endpoint(source, ports[0]), endpoint(destination, ports[1])
    fields = [("Outer source", source), ("Outer destination", destination)]
    if kind == "VXLAN" and len(carried.data) >= 8:
        fields.append(("VNI", str(int.from_bytes(bytes(carried.data)[4:7], "big"))))
    layers.append(Layer(f"{kind} tunnel", tuple(fields)))
    return inner


# -- network and transport -----------------------------------------------------------------
def _ip_wire_length(record: PacketRecord) -> int | None:
    """How long the IP datagram was on the wire, by the frame's length (where the parser found the IP header)."""
    return record.wirelen - record.l3_offset if record.l3_offset >= 0 else None


def _jumbo_length(ip: dpkt.ip6.IP6) -> int | None:
    """An RFC 2675 jumbogram's length, from the Hop-by-Hop header's Jumbo Payload option."""
    hop_by_hop = ip.extension_hdrs.get(0) if ip.plen == 0 else None
    for option in getattr(hop_by_hop, "options", []):
        if option.get("type") == JUMBO_OPTION >> 8 and len(option.get("data", b"")) == 4:
            length = int.from_bytes(option["data"], "big")
            return length if length >= MIN_JUMBO else None
    return None


def _ip_layer(ip: dpkt.Packet, layers: list[Layer], *, version: int, wire_len: int | None) -> DecodedPacket:
    if version == 4:
        src, dst = socket.inet_ntoa(ip.src), socket.inet_ntoa(ip.dst)
        total = str(ip.len)
        datagram = ip.len
        if ip.len == 0 and wire_len is not None:  # TSO or BIG TCP: the frame says how long (parse/ip.py)
            datagram, total = wire_len, f"0 (TSO: {wire_len} by the frame)"
        proto, payload_len = ip.p, max(0, datagram - ip.hl * 4)
        flags = f"DF={int(bool(ip.df))} MF={int(bool(ip.mf))}"
        layers.append(Layer("IPv4", (("Source", src), ("Destination", dst),
                                     ("Protocol", f"{IP_PROTOCOLS.get(proto, 'Proto')} ({proto})"),
                                     ("TTL", str(ip.ttl)), ("Total length", total),
                                     ("ID", f"0x{ip.id:04x}"), ("Flags", flags), ("Fragment offset", str(ip.offset)))))
    else:
        src, dst = socket.inet_ntop(socket.AF_INET6, ip.src), socket.inet_ntop(socket.AF_INET6, ip.dst)
        proto, payload_len, shown = ip.p, ip.plen, str(ip.plen)
        jumbo = _jumbo_length(ip)
        if jumbo is not None:
            payload_len, shown = jumbo, f"0 (jumbo: {jumbo})"
        # What the transport header sees: the IP payload less the extension headers.
        payload_len -= sum(header.length for header in getattr(ip, "all_extension_headers", []))
        layers.append(Layer("IPv6", (("Source", src), ("Destination", dst),
                                     ("Next header", f"{IP_PROTOCOLS.get(proto, 'Proto')} ({proto})"),
                                     ("Hop limit", str(ip.hlim)), ("Payload length", shown),
                                     ("Flow label", f"0x{ip.flow:05x}"))))
    segment = ip.data
    if isinstance(segment, dpkt.tcp.TCP):
        return _tcp(segment, src, dst, payload_len, layers)
    if isinstance(segment, dpkt.udp.UDP):
        return _udp(segment, src, dst, layers)
    if isinstance(segment, (dpkt.icmp.ICMP, dpkt.icmp6.ICMP6)):
        name = "ICMP" if version == 4 else "ICMPv6"
        layers.append(Layer(name, (("Type", str(segment.type)), ("Code", str(segment.code)))))
        return DecodedPacket(src, dst, name, f"type={segment.type} code={segment.code}", tuple(layers))
    label = "IPv4" if version == 4 else "IPv6"
    return DecodedPacket(src, dst, label, f"{IP_PROTOCOLS.get(proto, f'proto {proto}')}, "
                                          f"{payload_len} bytes", tuple(layers))


def _tcp(tcp: dpkt.tcp.TCP, src: str, dst: str, ip_payload_len: int, layers: list[Layer]) -> DecodedPacket:
    flags = ", ".join(name for bit, name in TCP_FLAG_NAMES if tcp.flags & bit)  # the reference's `[SYN, ACK]`
    length = max(0, ip_payload_len - tcp.off * 4)
    layers.append(Layer("TCP", (("Source port", str(tcp.sport)), ("Destination port", str(tcp.dport)),
                                ("Flags", flags or "none"), ("Sequence", str(tcp.seq)),
                                ("Acknowledgment", str(tcp.ack)), ("Window", str(tcp.win)),
                                ("Payload length", str(length)))))
    info = f"[{flags}] seq={tcp.seq} ack={tcp.ack} win={tcp.win} len={length}"
    protocol = "TCP"
    payload = bytes(tcp.data)
    hello = client_hello(payload)
    if hello is not None:
        sni, legacy_version = hello
        layers.append(Layer("TLS", (("Type", "ClientHello"), ("Legacy version", f"0x{legacy_version:04x}"),
                                    ("SNI", sni or "(none)"))))
        protocol, info = "TLS", f"ClientHello sni={sni}" if sni else "ClientHello"
    elif (line := http_first_line(payload)) is not None:
        fields = [("Line", line)]
        host = _http_host(payload)
        if host:
            fields.append(("Host", host))
        layers.append(Layer("HTTP", tuple(fields)))
        protocol, info = "HTTP", line
    return DecodedPacket(endpoint(src, tcp.sport), endpoint(dst, tcp.dport), protocol, info, tuple(layers))


def _udp(udp: dpkt.udp.UDP, src: str, dst: str, layers: list[Layer]) -> DecodedPacket:
    layers.append(Layer("UDP", (("Source port", str(udp.sport)), ("Destination port", str(udp.dport)),
                                ("Length", str(udp.ulen)))))
    protocol, info = "UDP", f"len={max(0, udp.ulen - 8)}"
    if udp.sport in DNS_PORTS or udp.dport in DNS_PORTS:
        dns_layer, brief = dns_summary(bytes(udp.data))
        if dns_layer is not None:
            layers.append(dns_layer)
            protocol, info = "DNS", brief
    return DecodedPacket(endpoint(src, udp.sport), endpoint(dst, udp.dport), protocol, info, tuple(layers))


# -- applications ----------------------------------------------------------------------------
def _rdata(rr: dpkt.dns.DNS.RR) -> str:
    if rr.type == dpkt.dns.DNS_A:
        return socket.inet_ntoa(rr.ip)
    if rr.type == dpkt.dns.DNS_AAAA:
        return socket.inet_ntop(socket.AF_INET6, rr.ip6)
    for attribute in ("cname", "ptrname", "nsname", "mxname", "srvname"):
        if hasattr(rr, attribute):
            return getattr(rr, attribute) or "."
    if rr.type == dpkt.dns.DNS_TXT:
        return " ".join(f'"{chunk}"' for chunk in rr.text)
    return "0x" + rr.rdata[:24].hex() + ("..." if len(rr.rdata) > 24 else "")


def dns_summary(payload: bytes) -> tuple[Layer | None, str]:
    """The DNS layer fields and a one-line brief; (None, "") if the payload is not DNS-sized."""
    if len(payload) < 12:
        return None, ""
    ident, flags, qd, an, ns, ar = struct.unpack("!HHHHHH", payload[:12])
    is_response = bool(flags & dpkt.dns.DNS_QR)
    rcode = DNS_RCODES.get(flags & 0xF, "UNKNOWN")
    fields = [("ID", f"0x{ident:04x}"), ("Message", "response" if is_response else "query"),
              ("Opcode", DNS_OPCODES.get((flags >> 11) & 0xF, "UNKNOWN")), ("RCode", rcode),
              ("Counts", f"QD={qd} AN={an} NS={ns} AR={ar}")]
    head = f"id=0x{ident:04x} {'R ' + rcode if is_response else 'Q'}"
    try:
        message = dpkt.dns.DNS(payload)
    except (dpkt.UnpackError, struct.error, IndexError, ValueError, UnicodeDecodeError) as exc:
        fields.append(("Parse note", f"section parse failed: {exc or type(exc).__name__}"))
        return Layer("DNS", tuple(fields)), head
    questions = [f"{DNS_TYPES.get(q.type, f'TYPE{q.type}')} {q.name or '.'}" for q in message.qd[:2]]
    answers = [f"{rr.name or '.'} {DNS_TYPES.get(rr.type, f'TYPE{rr.type}')} {_rdata(rr)}" for rr in message.an[:3]]
    fields += [("Question", q) for q in questions] + [("Answer", a) for a in answers]
    brief = head
    if is_response and answers:
        brief += f" {answers[0]}" + (f" (+{len(message.an) - 1})" if len(message.an) > 1 else "")
    elif questions:
        brief += f" {questions[0]}"
    return Layer("DNS", tuple(fields)), brief


def valid_hostname(name: str) -> bool:
    """The reference's strict SNI hostname check: dotted labels of [A-Za-z0-9-], no edge dots."""
    if not 1 <= len(name) <= 255:
        return False
    return all(_HOSTNAME_LABEL.match(label) for label in name.split("."))


def client_hello(payload: bytes) -> tuple[str | None, int] | None:
    """(SNI or None, legacy_version) if `payload` starts a TLS ClientHello, else None.

    Hand-parsed rather than with dpkt.ssl: the engine keeps only the start of each packet,
    and dpkt rejects a record it cannot see whole, while the server_name extension usually
    sits well inside the kept bytes.
    """
    if len(payload) < 11 or payload[0] != 0x16 or not 0x0301 <= int.from_bytes(payload[1:3], "big") <= 0x0304:
        return None
    if payload[5] != 1:  # handshake type ClientHello
        return None
    legacy_version = int.from_bytes(payload[9:11], "big")
    try:
        pos = 11 + 32
        pos += 1 + payload[pos]  # session id
        pos += 2 + int.from_bytes(payload[pos:pos + 2], "big")  # cipher suites
        pos += 1 + payload[pos]  # compression methods
        end = pos + 2 + int.from_bytes(payload[pos:pos + 2], "big")
        pos += 2
        while pos + 4 <= min(end, len(payload)):
            ext_type = int.from_bytes(payload[pos:pos + 2], "big")
            ext_len = int.from_bytes(payload[pos + 2:pos + 4], "big")
            pos += 4
            if ext_type == 0:
                return _server_name(payload[pos:pos + ext_len]), legacy_version
            pos += ext_len
    except IndexError:
        pass
    return None, legacy_version


def _server_name(extension: bytes) -> str | None:
    pos = 2  # skip the list length
    while pos + 3 <= len(extension):
        name_type = extension[pos]
        name_len = int.from_bytes(extension[pos + 1:pos + 3], "big")
        name = extension[pos + 3:pos + 3 + name_len]
        if name_type == 0 and len(name) == name_len:
            try:
                text = name.decode("utf-8")
            except UnicodeDecodeError:
                return None
            return text if valid_hostname(text) else None
        pos += 3 + name_len
    return None


def http_first_line(payload: bytes) -> str | None:
    """The request line ("GET / HTTP/1.1") or status line ("HTTP/1.1 200 OK"), if any."""
    method = payload.split(b" ", 1)[0]
    if method not in HTTP_METHODS and not payload.startswith(b"HTTP/1."):
        return None
    line = payload.split(b"\r\n", 1)[0].split(b"\n", 1)[0]
    return line[:200].decode("latin-1")


def _http_host(payload: bytes) -> str | None:
    for line in payload.split(b"\r\n")[1:20]:
        if line.lower().startswith(b"host:"):
            return line[5:].strip().decode("latin-1")
    return None
