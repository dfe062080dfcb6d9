"""RecentPackets: the last flow packets of a flow, byte for byte, whatever the batch sizes.

The oracle reads the same capture with dpkt: packet bytes, times and lengths come from there,
and only "which packets are flow packets" is taken from the parser (the ring's own rule).
"""

from __future__ import annotations

import ipaddress
from pathlib import Path

import dpkt
import numpy as np
import pytest

from netscope.capture.batch import RawBatch
from netscope.engine.recent import KEEP_BYTES, WATCH_PACKETS, RecentPackets
from netscope.parse.batch_parser import parse_batch

BUSIEST = ("tcp", "10.88.0.1", 39246, "10.88.0.2", 5201)  # the iperf3 stream of the sample
ETHERNET_HEADER = 14  # the sample has no VLAN tags


def read_with_dpkt(path: Path) -> list[tuple[float, int, bytes]]:
    with path.open("rb") as handle:
        return [(ts, len(data), data) for ts, data in dpkt.pcap.Reader(handle)]


def whole_capture(packets: list[tuple[float, int, bytes]]) -> RawBatch:
    return RawBatch.from_packets([p[2] for p in packets], [round(p[0] * 1e6) for p in packets], linktype=1)


def key_of(data: bytes) -> tuple[str, str, int, str, int] | None:
    ip = dpkt.ethernet.Ethernet(data).data
    if not isinstance(ip, (dpkt.ip.IP, dpkt.ip6.IP6)) or not isinstance(ip.data, (dpkt.tcp.TCP, dpkt.udp.UDP)):
        return None
    proto = "tcp" if isinstance(ip.data, dpkt.tcp.TCP) else "udp"
    return (proto, str(ipaddress.ip_address(ip.src)), ip.data.sport, str(ipaddress.ip_address(ip.dst)),
            ip.data.dport)


def same_flow(key: tuple, other: tuple | None) -> bool:
    return other is not None and (other == key or other == (key[0], key[3], key[4], key[1], key[2]))


def feed(rings: list[RecentPackets], whole: RawBatch, cuts: list[int]) -> None:
    """Feed `whole` as slices ending at `cuts` (shared buffer, like the replay pacing does)."""
    start = 0
    for stop in [*cuts, whole.count]:
        piece = whole.slice(start, stop)
        parsed = parse_batch(piece)
        for ring in rings:
            ring.add(piece, parsed, parsed.flow_mask())
        start = stop


def expected(packets: list, flow_packet: np.ndarray, capacity: int, key: tuple, upto: int) -> list[tuple]:
    """The key's packets among the last `capacity` flow packets of the first `upto` packets."""
    window = np.flatnonzero(flow_packet[:upto])[-capacity:]
    hits = [packets[i] for i in window if same_flow(key, key_of(packets[i][2]))][-WATCH_PACKETS:]
    return [(round(ts * 1e6), wire, data[:KEEP_BYTES], ETHERNET_HEADER) for ts, wire, data in hits]


def seen(records) -> list[tuple]:
    """What the screen gets of each packet; the IP header's place lets it read TSO lengths (packet_decode)."""
    return [(round(r.ts * 1e6), r.wirelen, r.data, r.l3_offset) for r in records]


@pytest.mark.parametrize("capacity", [2048, 300, 40])
@pytest.mark.parametrize("batch_packets", [32768, 1000, 7, 1])
def test_detail_is_the_flows_packets_among_the_last_flow_packets(sample_pcap: Path, capacity: int,
                                                                 batch_packets: int) -> None:
    packets = read_with_dpkt(sample_pcap)
    whole = whole_capture(packets)
    flow_packet = parse_batch(whole).flow_mask()
    window = np.flatnonzero(flow_packet)[-capacity:]
    keys = {key_of(packets[int(window[0])][2]), key_of(packets[int(window[-1])][2]), BUSIEST}
    rings = {key: RecentPackets(capacity) for key in keys}  # a ring follows the first flow it is asked about
    feed(list(rings.values()), whole, list(range(batch_packets, whole.count, batch_packets)))
    found = 0
    for key, ring in rings.items():
        want = expected(packets, flow_packet, capacity, key, whole.count)
        assert seen(ring.detail(key)) == want
        found += bool(want)
    assert found >= 1

def test_a_flow_outside_the_ring_has_no_packets_until_it_is_followed(sample_pcap: Path) -> None:
    packets = read_with_dpkt(sample_pcap)
    whole = whole_capture(packets)
    flow_packet = parse_batch(whole).flow_mask()
    half = whole.count // 2
    ring = RecentPackets(1)
    first = whole.slice(0, half)
    parsed = parse_batch(first)
    ring.add(first, parsed, parsed.flow_mask())
    last_flow_packet = int(np.flatnonzero(flow_packet[:half])[-1])
    others = [i for i in np.flatnonzero(flow_packet[half:]) + half
              if not same_flow(key_of(packets[i][2]), key_of(packets[last_flow_packet][2]))]
    quiet_key = key_of(packets[others[0]][2])
    assert ring.detail(quiet_key) == ()
    rest = whole.slice(half, whole.count)
    parsed = parse_batch(rest)
    ring.add(rest, parsed, parsed.flow_mask())
    followed = [(round(ts * 1e6), wire, data[:KEEP_BYTES], ETHERNET_HEADER) for ts, wire, data in packets[half:]
                if same_flow(quiet_key, key_of(data))][-WATCH_PACKETS:]
    assert followed and seen(ring.detail(quiet_key)) == followed


def test_followed_flow_keeps_its_latest_packets_across_batches(sample_pcap: Path) -> None:
    packets = read_with_dpkt(sample_pcap)
    whole = whole_capture(packets)
    ring = RecentPackets()
    cut = 1200
    feed([ring], whole.slice(0, cut), list(range(100, cut, 100)))
    before = seen(ring.detail(BUSIEST))
    feed([ring], whole.slice(cut, whole.count), [])
    want = [(round(ts * 1e6), wire, data[:KEEP_BYTES], ETHERNET_HEADER) for ts, wire, data in packets
            if same_flow(BUSIEST, key_of(data))][-WATCH_PACKETS:]
    assert seen(ring.detail(BUSIEST)) == want != before
