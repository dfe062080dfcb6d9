"""Tunnels (parse/tunnels.py): VXLAN, GENEVE, GRE and IP in IP packets belong to their inner flow, as in tshark."""

from __future__ import annotations

import random
import struct
from pathlib import Path

import dpkt
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netscope.analysis.names import NameObserver
from netscope.capture.batch import RawBatch
from netscope.engine.core import Engine, EngineSettings
from netscope.engine.snapshot import SourceInfo
from netscope.parse.batch_parser import parse_batch
from netscope.parse.columns import PROTO_ICMP, PROTO_TCP, PROTO_UDP, Status
from netscope.pipeline.routing import shard_ids
from tests.parse.test_cases import MACS, ipv4, ipv6, tcp
from tests.tshark_oracle import netscope_flows, tshark_flows, write_frames

OUTER_SRC, OUTER_DST = bytes([172, 16, 0, 1]), bytes([172, 16, 0, 2])
INNER_V4 = 0x0A000001  # ipv4() of test_cases: 10.0.0.1 -> 192.168.1.2, TCP 40000 -> 443


def ether(ethertype: int, payload: bytes) -> bytes:
    return MACS + struct.pack(">H", ethertype) + payload


def outer_ip(proto: int, payload: bytes) -> bytes:
    return bytes(dpkt.ip.IP(src=OUTER_SRC, dst=OUTER_DST, p=proto, data=payload))


def outer_udp(dport: int, payload: bytes, sport: int = 51234) -> bytes:
    return outer_ip(PROTO_UDP, bytes(dpkt.udp.UDP(sport=sport, dport=dport, ulen=8 + len(payload), data=payload)))


def vxlan(frame: bytes, vni: int = 42, flags: int = 0x08) -> bytes:
    return struct.pack(">B3xI", flags, vni << 8) + frame


def geneve(protocol: int, payload: bytes, options: bytes = b"") -> bytes:
    return struct.pack(">BBH", len(options) // 4, 0, protocol) + struct.pack(">I", 7 << 8) + options + payload


def gre(protocol: int, payload: bytes, key: int | None = None, sequence: int | None = None,
        checksum: bool = False, version: int = 0) -> bytes:
    flags = (0x8000 if checksum else 0) | (0x2000 if key is not None else 0) | (0x1000 if sequence is not None else 0)
    extra = (b"\0\0\0\0" if checksum else b"") + b"".join(
        struct.pack(">I", value) for value in (key, sequence) if value is not None)
    return struct.pack(">HH", flags | version, protocol) + extra + payload


def erspan(frame: bytes, kind: int, subheader: bool = False) -> bytes:
    """A port mirror over GRE: type I (no sequence number, no header), II (8 bytes), III (12, +8)."""
    if kind == 1:
        return gre(0x88BE, frame)
    if kind == 2:
        return gre(0x88BE, struct.pack(">II", (1 << 28) | 10, 0) + frame, sequence=7)
    header = struct.pack(">III", (2 << 28) | 10, 0x1234_5678, 0x0000_0000 | int(subheader))
    return gre(0x22EB, header + (bytes(8) if subheader else b"") + frame, sequence=7)


def udp(payload: bytes = b"query", sport: int = 5000, dport: int = 53) -> bytes:
    return bytes(dpkt.udp.UDP(sport=sport, dport=dport, ulen=8 + len(payload), data=payload))


def row(frame: bytes, linktype: int = 1, caplen: int | None = None) -> dict[str, int]:
    raw = RawBatch.from_packets([frame[:caplen]], [0], linktype, [len(frame)])
    parsed = parse_batch(raw)
    return {name: getattr(parsed, name)[0].item() for name in parsed.__slots__}


INNER_TCP = ipv4(tcp(b"hello"))
TUNNELS = {
    "vxlan": (ether(0x0800, outer_udp(4789, vxlan(ether(0x0800, INNER_TCP)))), 14 + 20 + 8 + 8 + 14),
    "vxlan on linux's default port": (ether(0x0800, outer_udp(8472, vxlan(ether(0x0800, INNER_TCP)))),
                                      14 + 20 + 8 + 8 + 14),
    "vxlan, reply direction": (ether(0x0800, outer_udp(40123, vxlan(ether(0x0800, INNER_TCP)), sport=4789)),
                               14 + 20 + 8 + 8 + 14),
    "geneve with options": (ether(0x0800, outer_udp(6081, geneve(0x6558, ether(0x0800, INNER_TCP), bytes(8)))),
                            14 + 20 + 8 + 8 + 8 + 14),
    "geneve carrying ip": (ether(0x0800, outer_udp(6081, geneve(0x0800, INNER_TCP))), 14 + 20 + 8 + 8),
    "gre": (ether(0x0800, outer_ip(47, gre(0x0800, INNER_TCP))), 14 + 20 + 4),
    "gre with key and sequence": (ether(0x0800, outer_ip(47, gre(0x0800, INNER_TCP, key=9, sequence=1))),
                                  14 + 20 + 12),
    "gre with checksum, bridging": (ether(0x0800, outer_ip(47, gre(0x6558, ether(0x0800, INNER_TCP), checksum=True))),
                                    14 + 20 + 8 + 14),
    "erspan type i": (ether(0x0800, outer_ip(47, erspan(ether(0x0800, INNER_TCP), 1))), 14 + 20 + 4 + 14),
    "erspan type ii": (ether(0x0800, outer_ip(47, erspan(ether(0x0800, INNER_TCP), 2))), 14 + 20 + 8 + 8 + 14),
    "erspan type iii": (ether(0x0800, outer_ip(47, erspan(ether(0x0800, INNER_TCP), 3))), 14 + 20 + 8 + 12 + 14),
    "erspan type iii, subheader": (ether(0x0800, outer_ip(47, erspan(ether(0x0800, INNER_TCP), 3, True))),
                                   14 + 20 + 8 + 20 + 14),
    "ip in ip": (ether(0x0800, outer_ip(4, INNER_TCP)), 14 + 20),
    "ip in ipv6": (ether(0x86DD, ipv6(INNER_TCP, 4)), 14 + 40),
    "vxlan in gre": (ether(0x0800, outer_ip(47, gre(0x0800, outer_udp(4789, vxlan(ether(0x0800, INNER_TCP)))))),
                     14 + 20 + 4 + 20 + 8 + 8 + 14),
    "raw ip link": (outer_ip(4, INNER_TCP), 20),
}


@pytest.mark.parametrize("name", TUNNELS)
def test_a_tunnelled_tcp_segment_is_its_inner_flow_s_packet(name: str) -> None:
    frame, inner_ip = TUNNELS[name]
    parsed = row(frame, linktype=101 if name == "raw ip link" else 1)
    assert (parsed["status"], parsed["ip_proto"], parsed["src_lo"], parsed["dst_port"], parsed["payload_len"],
            parsed["tcp_seq"]) == (Status.OK, PROTO_TCP, INNER_V4, 443, 5, 7)
    assert (parsed["l3_offset"], parsed["l4_offset"]) == (inner_ip, inner_ip + 20)
    assert parsed["wirelen"] == len(frame)  # the bytes it took on the captured link


def test_an_ipv6_flow_inside_ipv4() -> None:
    inner = ipv6(bytes(tcp(b"x")), PROTO_TCP)
    parsed = row(ether(0x0800, outer_ip(41, inner)))  # 6in4, as sit tunnels send it
    assert (parsed["ip_version"], parsed["ip_proto"], parsed["dst_port"], parsed["src_hi"]) == (
        6, PROTO_TCP, 443, 0x20010DB8_00000000)


@pytest.mark.parametrize(("frame", "proto", "dst_port"), [
    # Not IP inside: the outer packet of the outer flow.
    (ether(0x0800, outer_udp(4789, vxlan(ether(0x0806, bytes(28))))), PROTO_UDP, 4789),
    # No VXLAN I flag: some other protocol on the port.
    (ether(0x0800, outer_udp(4789, vxlan(ether(0x0800, INNER_TCP), flags=0))), PROTO_UDP, 4789),
    # PPTP's enhanced GRE (version 1) carries PPP: left alone.
    (ether(0x0800, outer_ip(47, gre(0x880B, b"\xff\x03\x00\x21" + INNER_TCP, key=1, version=1))), 47, 0),
    # GRE carrying something else (ERSPAN).
    (ether(0x0800, outer_ip(47, gre(0x88BE, bytes(40)))), 47, 0),
])
def test_what_stays_the_outer_packet(frame: bytes, proto: int, dst_port: int) -> None:
    parsed = row(frame)
    assert (parsed["status"], parsed["ip_proto"], parsed["dst_port"], parsed["src_lo"], parsed["l3_offset"]) == (
        Status.OK, proto, dst_port, int.from_bytes(OUTER_SRC, "big"), 14)


def test_an_inner_packet_cut_by_the_snaplen() -> None:
    frame = ether(0x0800, outer_udp(4789, vxlan(ether(0x0800, INNER_TCP))))
    inner_ip = 14 + 20 + 8 + 8 + 14
    assert row(frame, caplen=inner_ip + 20 + 14)["status"] == Status.OK  # ports to flags are what flows need
    assert (row(frame, caplen=inner_ip + 20 + 4)["status"], row(frame, caplen=inner_ip + 20 + 4)["src_lo"]) == (
        Status.TRUNCATED_L4, INNER_V4)
    # Cut inside the inner IP or Ethernet header: no inner packet to speak of, so the outer one.
    for caplen in (inner_ip + 10, inner_ip - 8):
        assert (row(frame, caplen=caplen)["status"], row(frame, caplen=caplen)["dst_port"]) == (Status.OK, 4789)


def test_icmp_inside_a_tunnel_is_no_flow_packet() -> None:
    echo = bytes(dpkt.icmp.ICMP(type=8, data=b"\0" * 8))
    ping = bytes(dpkt.ip.IP(src=bytes(4), dst=bytes(4), p=PROTO_ICMP, data=echo))
    parsed = row(ether(0x0800, outer_ip(47, gre(0x0800, ping))))
    assert (parsed["ip_proto"], parsed["icmp_type"], parsed["has_l4"]) == (PROTO_ICMP, 8, True)


def test_both_directions_of_an_inner_flow_share_a_shard() -> None:
    # VXLAN senders pick the outer source port from the inner packet: both directions differ.
    forward = ether(0x0800, outer_udp(4789, vxlan(ether(0x0800, INNER_TCP)), sport=50001))
    back = ether(0x0800, bytes(dpkt.ip.IP(src=OUTER_DST, dst=OUTER_SRC, p=PROTO_UDP, data=udp(
        vxlan(ether(0x0800, INNER_TCP)), sport=61999, dport=4789))))
    for shards in (2, 3, 4, 7):
        ids = [shard_ids(RawBatch.from_packets([frame], [0], 1), shards)[0] for frame in (forward, back)]
        assert ids[0] == ids[1]


def test_mixed_tunnels_equal_tshark_s_inner_flows(tmp_path: Path, require_tool) -> None:
    require_tool("tshark")
    rnd = random.Random(11)
    frames = []
    for _ in range(400):
        size = rnd.randrange(200)
        segment = tcp(b"t" * size, flags=0x18)
        segment.sport = rnd.choice((40000, 40001, 40002))
        inner4, inner6 = ipv4(segment), ipv6(bytes(segment), PROTO_TCP)
        inner_udp = ipv4(udp(b"u" * size, sport=rnd.choice((5000, 5001))), proto=PROTO_UDP)
        vxlan_port = rnd.randrange(49152, 65536)  # per packet, as a kernel's flow hash would vary it
        frames.append(rnd.choice([
            ether(0x0800, outer_udp(4789, vxlan(ether(0x0800, inner4)), sport=vxlan_port)),
            ether(0x0800, outer_udp(4789, vxlan(ether(0x86DD, inner6)), sport=vxlan_port)),
            ether(0x0800, outer_udp(4789, vxlan(ether(0x0800, inner_udp)), sport=vxlan_port)),
            ether(0x0800, outer_udp(4789, vxlan(ether(0x0806, bytes(28))), sport=vxlan_port)),
            ether(0x0800, outer_udp(6081, geneve(0x6558, ether(0x0800, inner4), bytes(4)))),
            ether(0x0800, outer_ip(47, gre(0x0800, inner4, key=5))),
            ether(0x0800, outer_ip(47, gre(0x86DD, inner6, sequence=rnd.randrange(1 << 32)))),
            ether(0x0800, outer_ip(47, gre(0x6558, ether(0x0800, inner_udp)))),
            ether(0x0800, outer_ip(47, erspan(ether(0x0800, inner4), rnd.choice((1, 2, 3))))),
            ether(0x0800, outer_ip(47, erspan(ether(0x86DD, inner6), 3, subheader=True))),
            ether(0x0800, outer_ip(4, inner4)),
            ether(0x0800, outer_ip(41, inner6)),
            ether(0x86DD, ipv6(inner4, 4)),
            ether(0x0800, outer_udp(9999, b"not a tunnel")),
        ]))
    capture = write_frames(tmp_path / "overlay.pcap", frames)
    expected = tshark_flows(capture, innermost=True)
    assert netscope_flows(capture, tmp_path / "flows.json") == expected
    assert netscope_flows(capture, tmp_path / "flows.json", "--pipeline", "--workers", "2") == expected
    # Three TCP flows per address family, two inner UDP flows, the outer flows of ARP and 9999.
    protocols = sorted(key[0] for key in expected)
    assert protocols.count("tcp") == 6 and protocols.count("udp") >= 4
    assert np.all([key[2] != 4789 and key[4] != 4789 for key in expected if key[0] == "tcp"])


def test_a_malformed_inner_ip_header_leaves_the_outer_flow_s_packet():
    bad = bytearray(INNER_TCP)
    bad[0] = 0x43  # IHL 3: no IPv4 header is that short
    parsed = row(ether(0x0800, outer_udp(4789, vxlan(ether(0x0800, bytes(bad))))))
    assert (parsed["status"], parsed["ip_proto"], parsed["dst_port"]) == (Status.OK, PROTO_UDP, 4789)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["vxlan", "geneve", "gre", "ipip", "erspan3"]), st.binary(max_size=80),
                          st.integers(0, 200)), min_size=1, max_size=12))
def test_any_bytes_inside_a_tunnel_parse_without_raising(packets) -> None:
    """Whatever a tunnel carries (and wherever the snaplen cuts it), each packet gets a status and
    offsets inside its captured bytes."""
    wrap = {"vxlan": lambda inner: outer_udp(4789, vxlan(inner)),
            "geneve": lambda inner: outer_udp(6081, inner),  # the GENEVE header itself is random here
            "gre": lambda inner: outer_ip(47, inner),
            "ipip": lambda inner: outer_ip(4, inner),
            "erspan3": lambda inner: outer_ip(47, gre(0x22EB, inner, sequence=1))}
    frames = [ether(0x0800, wrap[kind](payload)) for kind, payload, _ in packets]
    cuts = [min(len(frame), 34 + cut) for frame, (_, _, cut) in zip(frames, packets, strict=True)]
    raw = RawBatch.from_packets([frame[:cut] for frame, cut in zip(frames, cuts, strict=True)], [0] * len(frames), 1,
                                [len(frame) for frame in frames])
    parsed = parse_batch(raw)
    assert parsed.count == len(frames)
    assert np.all(parsed.l4_offset < np.maximum(parsed.caplen, 1)) and np.all(parsed.l3_offset < parsed.caplen)
    assert np.all((parsed.ip_version == 0) | (parsed.l3_offset >= 14))
    flows = parsed.flow_mask()  # a flow packet's ports (and a TCP segment's flags) were captured
    assert np.all(parsed.l4_offset[flows] + 8 <= parsed.caplen[flows])


def test_names_and_tcp_health_work_through_tunnels() -> None:
    """A DNS answer inside VXLAN names the address a TCP flow inside GRE connects to."""
    answer = dpkt.dns.DNS(id=1, qr=1, qd=[dpkt.dns.DNS.Q(name="inner.example.org", type=1)],
                          an=[dpkt.dns.DNS.RR(name="inner.example.org", type=1, cls=1, ttl=60, rlen=4,
                                              rdata=bytes([10, 1, 2, 3]))])
    dns = bytes(dpkt.ip.IP(src=bytes([10, 0, 0, 53]), dst=bytes([10, 0, 0, 9]), p=PROTO_UDP,
                           data=udp(bytes(answer), sport=53, dport=5000)))
    syn = dpkt.tcp.TCP(sport=40000, dport=443, flags=dpkt.tcp.TH_SYN, seq=1)
    syn_ack = dpkt.tcp.TCP(sport=443, dport=40000, flags=dpkt.tcp.TH_SYN | dpkt.tcp.TH_ACK, seq=7, ack=2)
    ack = dpkt.tcp.TCP(sport=40000, dport=443, flags=dpkt.tcp.TH_ACK, seq=2, ack=8)
    client, server = bytes([10, 0, 0, 9]), bytes([10, 1, 2, 3])
    frames = [ether(0x0800, outer_udp(4789, vxlan(ether(0x0800, dns)))),
              ether(0x0800, outer_ip(47, gre(0x0800, bytes(dpkt.ip.IP(src=client, dst=server, p=6, data=syn))))),
              ether(0x0800, outer_ip(47, gre(0x0800, bytes(dpkt.ip.IP(src=server, dst=client, p=6, data=syn_ack))))),
              ether(0x0800, outer_ip(47, gre(0x0800, bytes(dpkt.ip.IP(src=client, dst=server, p=6, data=ack)))))]
    engine = Engine(EngineSettings(), SourceInfo("overlay", "file", "Ethernet"), names=NameObserver())
    engine.process(RawBatch.from_packets(frames, [1_000_000, 1_100_000, 1_100_500, 1_100_800], 1))
    snapshot = engine.tick("finished", 0.0, [])
    web = next(row for row in snapshot.top_flows if row.proto == "tcp")
    assert snapshot.flow_names[web.key].name_b == "inner.example.org"
    assert web.tcp_state == "established" and web.client == "a_to_b"
    assert (web.rtt_handshake_ms, web.rtt_samples) == (pytest.approx(0.8), 2)  # SYN to ACK; both handshake halves
