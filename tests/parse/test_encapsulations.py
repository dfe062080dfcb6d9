"""IP behind an MPLS label stack, a PPPoE session or a stack of VLAN tags: provider and DSL links,
which tshark decodes."""

from __future__ import annotations

import random
import struct
from pathlib import Path

import dpkt
import pytest

from netscope.capture.batch import RawBatch
from netscope.parse.batch_parser import parse_batch
from netscope.parse.columns import PROTO_TCP, PROTO_UDP, Status
from tests.parse.test_cases import MACS, ipv4, ipv6, tcp
from tests.tshark_oracle import netscope_flows, tshark_flows, write_frames


def mpls(labels: list[int], payload: bytes, bottom: bool = True) -> bytes:
    """A label stack (label, bottom-of-stack bit on the last one, TTL 64) and what it carries."""
    entries = [(label << 12) | ((bottom and i == len(labels) - 1) << 8) | 64 for i, label in enumerate(labels)]
    return b"".join(struct.pack(">I", entry) for entry in entries) + payload


def pppoe(protocol: int, payload: bytes) -> bytes:
    """A PPPoE session header (version/type 0x11, code 0, session 0x1234) and the PPP protocol."""
    return struct.pack(">BBHHH", 0x11, 0, 0x1234, len(payload) + 2, protocol) + payload


def ether(ethertype: int, payload: bytes, vlan: int | None = None) -> bytes:
    tag = b"" if vlan is None else struct.pack(">HH", 0x8100, vlan)
    return MACS + tag + struct.pack(">H", ethertype) + payload


def row(frame: bytes, linktype: int = 1) -> dict[str, int]:
    parsed = parse_batch(RawBatch.from_packets([frame], [0], linktype))
    return {name: getattr(parsed, name)[0].item() for name in parsed.__slots__}


def udp(payload: bytes = b"dns") -> bytes:
    return bytes(dpkt.udp.UDP(sport=53, dport=5353, ulen=8 + len(payload), data=payload))


@pytest.mark.parametrize(("frame", "l3_offset"), [
    (ether(0x8847, mpls([100], ipv4(tcp(b"abc")))), 18),
    (ether(0x8847, mpls([100, 200, 300], ipv4(tcp(b"abc")))), 26),
    (ether(0x8848, mpls([5], ipv4(tcp(b"abc")))), 18),  # multicast MPLS
    (ether(0x8847, mpls([1, 2], ipv4(tcp(b"abc"))), vlan=10), 26),
    (ether(0x8864, pppoe(0x0021, ipv4(tcp(b"abc")))), 22),
    (ether(0x8864, pppoe(0x0021, ipv4(tcp(b"abc"))), vlan=7), 26),  # the usual DSL uplink: VLAN 7, PPPoE
])
def test_ipv4_behind_mpls_or_pppoe_is_a_flow_packet(frame: bytes, l3_offset: int) -> None:
    parsed = row(frame)
    assert (parsed["status"], parsed["l3_offset"], parsed["dst_port"], parsed["payload_len"], parsed["src_lo"]) == (
        Status.OK, l3_offset, 443, 3, 0x0A000001)


def test_ipv6_behind_mpls_and_pppoe() -> None:
    for frame, l3_offset in ((ether(0x8847, mpls([7], ipv6(udp(), PROTO_UDP))), 18),
                             (ether(0x8864, pppoe(0x0057, ipv6(bytes(tcp(b"x")), PROTO_TCP))), 22)):
        parsed = row(frame)
        assert (parsed["status"], parsed["ip_version"], parsed["l3_offset"]) == (Status.OK, 6, l3_offset)


def test_sll_carries_mpls_too() -> None:
    frame = struct.pack(">HHH8sH", 0, 1, 6, bytes(8), 0x8847) + mpls([9], ipv4(tcp()))
    assert (row(frame, 113)["status"], row(frame, 113)["l3_offset"]) == (Status.OK, 20)


@pytest.mark.parametrize(("frame", "status"), [
    (ether(0x8847, mpls([16], bytes(4) + MACS + b"\x08\x00" + ipv4(tcp()))), Status.NOT_IP),  # pseudowire
    (ether(0x8847, mpls(list(range(1, 10)), ipv4(tcp()))), Status.NOT_IP),  # no bottom within 8 labels
    (ether(0x8847, mpls([1, 2], ipv4(tcp()), bottom=False)), Status.NOT_IP),
    (ether(0x8847, mpls([1, 2], b""))[:20], Status.TRUNCATED_LINK),  # the stack is cut
    (ether(0x8847, mpls([1], b"")), Status.TRUNCATED_IP),  # a bottom label and not one byte after it
    (ether(0x8864, pppoe(0xC021, b"\x01\x01\x00\x04")), Status.NOT_IP),  # LCP
    (ether(0x8864, pppoe(0x0021, b""))[:20], Status.TRUNCATED_LINK),
    (ether(0x8863, bytes(20)), Status.NOT_IP),  # PPPoE discovery
])
def test_what_is_no_ip_behind_them(frame: bytes, status: Status) -> None:
    assert row(frame)["status"] == status


def test_flows_behind_mpls_pppoe_and_vlan_stacks_equal_tshark_s(tmp_path: Path, require_tool) -> None:
    require_tool("tshark")
    rnd = random.Random(7)
    frames = []
    for _ in range(300):
        size = rnd.randrange(100)
        kind = rnd.randrange(8)
        segment = tcp(b"t" * size, flags=0x18)
        frames.append([
            ether(0x8847, mpls([rnd.randrange(16, 1 << 20)], ipv4(segment))),
            ether(0x8847, mpls([100, 200, 300], ipv4(segment))),
            ether(0x8848, mpls([5], ipv6(udp(b"u" * size), PROTO_UDP))),
            ether(0x8864, pppoe(0x0021, ipv4(udp(b"d" * size), proto=PROTO_UDP)), vlan=7),
            ether(0x8864, pppoe(0x0057, ipv6(bytes(segment), PROTO_TCP))),
            ether(0x8864, pppoe(0xC021, b"\x01\x01\x00\x04")),
            ether(0x8847, mpls([16], bytes(4) + MACS + b"\x08\x00" + ipv4(udp(), proto=PROTO_UDP))),
            MACS + struct.pack(">HHHHHH", 0x88A8, 10, 0x8100, 20, 0x8100, 30) + b"\x08\x00" + ipv4(segment),
        ][kind])
    capture = write_frames(tmp_path / "provider.pcap", frames)
    flows = netscope_flows(capture, tmp_path / "flows.json")
    assert flows == tshark_flows(capture) and len(flows) == 4
