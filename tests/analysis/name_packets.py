"""Frames and messages built by hand (dpkt, struct) for the DNS, SNI, Host and NameObserver tests."""

from __future__ import annotations

import socket
import struct

import dpkt

from netscope.capture.batch import RawBatch

DLT_EN10MB = 1
MAC_A = b"\x02\x00\x00\x00\x00\x0a"
MAC_B = b"\x02\x00\x00\x00\x00\x0b"
PSH_ACK = dpkt.tcp.TH_PUSH | dpkt.tcp.TH_ACK


def _frame(src: str, dst: str, segment: dpkt.Packet, proto: int) -> bytes:
    if ":" in src:
        ip: dpkt.Packet = dpkt.ip6.IP6(src=socket.inet_pton(socket.AF_INET6, src),
                                       dst=socket.inet_pton(socket.AF_INET6, dst), nxt=proto, hlim=64,
                                       data=segment, plen=len(bytes(segment)))
        ether_type = dpkt.ethernet.ETH_TYPE_IP6
    else:
        ip = dpkt.ip.IP(src=socket.inet_aton(src), dst=socket.inet_aton(dst), p=proto, ttl=64, data=segment)
        ether_type = dpkt.ethernet.ETH_TYPE_IP
    return bytes(dpkt.ethernet.Ethernet(src=MAC_A, dst=MAC_B, type=ether_type, data=ip))


def udp(src: str, sport: int, dst: str, dport: int, payload: bytes) -> bytes:
    segment = dpkt.udp.UDP(sport=sport, dport=dport, data=payload)
    segment.ulen = 8 + len(payload)
    return _frame(src, dst, segment, dpkt.ip.IP_PROTO_UDP)


def tcp(src: str, sport: int, dst: str, dport: int, payload: bytes = b"", flags: int = PSH_ACK,
        seq: int = 1) -> bytes:
    segment = dpkt.tcp.TCP(sport=sport, dport=dport, seq=seq, ack=1, flags=flags, win=64240, data=payload)
    return _frame(src, dst, segment, dpkt.ip.IP_PROTO_TCP)


def batch(frames: list[bytes], first_us: int = 1_700_000_000_000_000) -> RawBatch:
    return RawBatch.from_packets(frames, [first_us + i for i in range(len(frames))], DLT_EN10MB)


def a_record(name: str, address: str, ttl: int = 60) -> dpkt.dns.DNS.RR:
    if ":" in address:
        record = dpkt.dns.DNS.RR(name=name, type=dpkt.dns.DNS_AAAA, ttl=ttl,
                                 ip6=socket.inet_pton(socket.AF_INET6, address))
        record.rlen = 16
    else:
        record = dpkt.dns.DNS.RR(name=name, type=dpkt.dns.DNS_A, ttl=ttl, ip=socket.inet_aton(address))
        record.rlen = 4
    return record


def cname_record(name: str, target: str, ttl: int = 60) -> dpkt.dns.DNS.RR:
    return dpkt.dns.DNS.RR(name=name, type=dpkt.dns.DNS_CNAME, ttl=ttl, cname=target)


def dns_query(name: str, ident: int = 0x1234, qtype: int = dpkt.dns.DNS_A) -> bytes:
    return bytes(dpkt.dns.DNS(id=ident, op=dpkt.dns.DNS_RD, qd=[dpkt.dns.DNS.Q(name=name, type=qtype)]))


def dns_response(name: str, answers: list[dpkt.dns.DNS.RR], ident: int = 0x1234, rcode: int = 0,
                 additionals: list[dpkt.dns.DNS.RR] | None = None) -> bytes:
    message = dpkt.dns.DNS(id=ident, op=dpkt.dns.DNS_QR | dpkt.dns.DNS_RD | dpkt.dns.DNS_RA, rcode=rcode,
                           qd=[dpkt.dns.DNS.Q(name=name, type=dpkt.dns.DNS_A)], an=answers,
                           ar=additionals or [])
    return bytes(message)


def sni_extension(name: bytes, name_type: int = 0) -> bytes:
    entry = struct.pack("!BH", name_type, len(name)) + name
    return struct.pack("!HHH", 0, len(entry) + 2, len(entry)) + entry


def extension(ext_type: int, body: bytes) -> bytes:
    return struct.pack("!HH", ext_type, len(body)) + body


def client_hello(extensions: bytes | None, record_version: int = 0x0301, legacy_version: int = 0x0303,
                 cipher_suites: int = 2, session_id: bytes = b"\x11" * 32) -> bytes:
    """A ClientHello record; `extensions` is the raw extension list (None: no extensions block at all)."""
    body = struct.pack("!H", legacy_version) + b"\x22" * 32
    body += bytes([len(session_id)]) + session_id
    body += struct.pack("!H", 2 * cipher_suites) + b"\x13\x01" * cipher_suites
    body += b"\x01\x00"
    if extensions is not None:
        body += struct.pack("!H", len(extensions)) + extensions
    handshake = b"\x01" + len(body).to_bytes(3, "big") + body
    return struct.pack("!BHH", 0x16, record_version, len(handshake)) + handshake
