"""Hand-built frames (with dpkt) for the detail screen and decoder tests."""

from __future__ import annotations

import socket
import struct

import dpkt

MAC_A = b"\x02\x00\x00\x00\x00\x0a"
MAC_B = b"\x02\x00\x00\x00\x00\x0b"


def _ip(src: str, dst: str, payload: dpkt.Packet, proto: int) -> dpkt.Packet:
    if ":" in src:
        packet = dpkt.ip6.IP6(src=socket.inet_pton(socket.AF_INET6, src), dst=socket.inet_pton(socket.AF_INET6, dst),
                              nxt=proto, hlim=64, data=payload, plen=len(bytes(payload)))
        packet.p = proto
        return packet
    return dpkt.ip.IP(src=socket.inet_aton(src), dst=socket.inet_aton(dst), p=proto, ttl=64, id=0x1234,
                      data=payload, df=1)


def ethernet(src: str, dst: str, segment: dpkt.Packet, proto: int) -> bytes:
    ip = _ip(src, dst, segment, proto)
    ether_type = dpkt.ethernet.ETH_TYPE_IP6 if ":" in src else dpkt.ethernet.ETH_TYPE_IP
    return bytes(dpkt.ethernet.Ethernet(src=MAC_A, dst=MAC_B, type=ether_type, data=ip))


def tcp(src: str, sport: int, dst: str, dport: int, flags: int, seq: int, ack: int = 0,
        payload: bytes = b"") -> bytes:
    segment = dpkt.tcp.TCP(sport=sport, dport=dport, seq=seq, ack=ack, flags=flags, win=64240, data=payload)
    return ethernet(src, dst, segment, dpkt.ip.IP_PROTO_TCP)


def udp(src: str, sport: int, dst: str, dport: int, payload: bytes) -> bytes:
    segment = dpkt.udp.UDP(sport=sport, dport=dport, data=payload)
    segment.ulen = 8 + len(payload)
    return ethernet(src, dst, segment, dpkt.ip.IP_PROTO_UDP)


def dns_query(name: str, ident: int = 0x1234) -> bytes:
    message = dpkt.dns.DNS(id=ident, op=dpkt.dns.DNS_RD, qd=[dpkt.dns.DNS.Q(name=name, type=dpkt.dns.DNS_A)])
    return bytes(message)


def dns_answer(name: str, address: str, ident: int = 0x1234) -> bytes:
    answer = dpkt.dns.DNS.RR(name=name, type=dpkt.dns.DNS_A, ttl=60, ip=socket.inet_aton(address))
    answer.rlen = 4
    message = dpkt.dns.DNS(id=ident, op=dpkt.dns.DNS_QR | dpkt.dns.DNS_RD | dpkt.dns.DNS_RA,
                           qd=[dpkt.dns.DNS.Q(name=name, type=dpkt.dns.DNS_A)], an=[answer])
    return bytes(message)


def client_hello(server_name: str | bytes, padding: int = 0) -> bytes:
    """A minimal TLS 1.2 ClientHello record carrying one server_name (and optional padding)."""
    name = server_name.encode() if isinstance(server_name, str) else server_name
    entry = b"\x00" + struct.pack("!H", len(name)) + name
    sni = struct.pack("!HH", 0, len(entry) + 2) + struct.pack("!H", len(entry)) + entry
    pad = struct.pack("!HH", 21, padding) + b"\x00" * padding if padding else b""
    extensions = sni + pad
    body = (b"\x03\x03" + b"\x11" * 32 + b"\x00" + struct.pack("!H", 4) + b"\x13\x01\x13\x02" + b"\x01\x00"
            + struct.pack("!H", len(extensions)) + extensions)
    handshake = b"\x01" + len(body).to_bytes(3, "big") + body
    return b"\x16\x03\x01" + struct.pack("!H", len(handshake)) + handshake


HTTP_GET = b"GET /index.html HTTP/1.1\r\nHost: example.test\r\nUser-Agent: curl/8\r\n\r\n"
