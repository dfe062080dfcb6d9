"""Flows summed by address (flow/hosts.py) against a packet-by-packet count per address."""

from __future__ import annotations

import ipaddress
from collections import defaultdict

import numpy as np
from hypothesis import given, settings

from netscope.flow.hosts import HostColumns
from netscope.flow.query import FlowQuery
from netscope.flow.tracker import FlowSettings, FlowTracker
from netscope.parse.columns import PROTO_TCP, PROTO_UDP
from tests.flow.packets import Packet, canonical, make_batch
from tests.flow.test_against_oracle import feed, packet_streams

FLOW_PROTOS = (PROTO_TCP, PROTO_UDP)


def oracle_hosts(packets: list[Packet], counted=lambda packet: True) -> dict[str, tuple]:
    """address -> (flows, tx packets, rx packets, tx bytes, rx bytes), one packet at a time."""
    flows: dict[str, set] = defaultdict(set)
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for p in packets:
        if p.proto not in FLOW_PROTOS or p.status != 0 or not counted(p):
            continue
        key = canonical(p)[0]
        for address in (p.src, p.dst):
            flows[str(ipaddress.ip_address(address))].add(key)
        sent, received = counts[str(ipaddress.ip_address(p.src))], counts[str(ipaddress.ip_address(p.dst))]
        sent[0] += 1
        sent[2] += p.wirelen
        received[1] += 1
        received[3] += p.wirelen
    return {address: (len(flows[address]), *counts[address]) for address in flows}


def table_of(hosts: HostColumns) -> dict[str, tuple]:
    return {row.address: (row.flows, row.tx_packets, row.rx_packets, row.tx_bytes, row.rx_bytes)
            for row in hosts.rows()}


@settings(max_examples=150, deadline=None)
@given(packet_streams(steps=(0, 1, 1000)))
def test_hosts_sum_every_packet_of_each_address(stream):
    packets, cuts = stream
    tracker = FlowTracker(FlowSettings(timeout_s=0))
    feed(tracker, packets, cuts)
    hosts = tracker.hosts()
    assert table_of(hosts) == oracle_hosts(packets)
    assert hosts.count == len(set(table_of(hosts)))  # one row per address
    # and the same from the exported flow table: one implementation for both
    assert table_of(HostColumns.of_flows(tracker.snapshot()).summed()) == table_of(hosts)


@settings(max_examples=60, deadline=None)
@given(packet_streams(steps=(0, 1, 1000)))
def test_a_filter_sums_only_the_flows_it_matches(stream):
    packets, cuts = stream
    tracker = FlowTracker(FlowSettings(timeout_s=0))
    feed(tracker, packets, cuts)
    hosts = tracker.hosts(FlowQuery.parse("port:80"))
    assert table_of(hosts) == oracle_hosts(packets, lambda p: 80 in (p.sport, p.dport))


def test_the_tick_counts_what_each_address_moved_once():
    tracker = FlowTracker(FlowSettings(timeout_s=0))
    tracker.observe(make_batch([Packet("10.0.0.1", 1, "10.0.0.2", 2, wirelen=100),
                                Packet("127.0.0.1", 5, "127.0.0.1", 6, wirelen=40)]))
    tracker.end_tick()
    tracker.observe(make_batch([Packet("10.0.0.2", 2, "10.0.0.1", 1, wirelen=300),
                                Packet("10.0.0.3", 9, "10.0.0.1", 1, proto=PROTO_UDP, wirelen=50)]))
    tracker.end_tick()
    rows = {row.address: row for row in tracker.hosts().rows(tick_seconds=2.0)}
    assert (rows["10.0.0.1"].tick_bytes, rows["10.0.0.1"].flows) == (350, 2)
    assert (rows["10.0.0.2"].tick_bytes, rows["10.0.0.2"].bytes_total) == (300, 400)
    assert rows["10.0.0.1"].rate_bps == 350 * 8 / 2.0
    # a flow between two sockets of one address: one flow, its packet sent and received
    loop = rows["127.0.0.1"]
    assert (loop.flows, loop.tx_packets, loop.rx_packets, loop.tick_bytes) == (1, 1, 1, 0)


def test_top_ranks_by_each_measure_and_ties_by_address():
    hosts = HostColumns(
        ip_version=np.array([4, 4, 6, 4], np.uint8), hi=np.array([0, 0, 1, 0], np.uint64),
        lo=np.array([3, 1, 2, 2], np.uint64), flows=np.array([1, 5, 2, 2]),
        tx_packets=np.array([1, 1, 9, 1]), rx_packets=np.array([0, 0, 0, 0]),
        tx_bytes=np.array([10, 10, 5, 700]), rx_bytes=np.array([0, 0, 0, 0]),
        tick_packets=np.array([0, 1, 0, 0]), tick_bytes=np.array([0, 10, 0, 0]))
    addresses = lambda by, n=None: [row.address for row in hosts.top(n, by).rows()]  # noqa: E731
    assert addresses("rate") == ["0.0.0.1", "0.0.0.2", "0.0.0.3", "::1:0:0:0:2"]  # quiet ones by bytes
    assert addresses("bytes", 2) == ["0.0.0.2", "0.0.0.1"]  # 10 and 10: the smaller address first
    assert addresses("packets", 1) == ["::1:0:0:0:2"]
    assert addresses("flows") == ["0.0.0.1", "0.0.0.2", "::1:0:0:0:2", "0.0.0.3"]


def test_sums_of_shards_are_the_sums_of_one_table():
    packets = [Packet(f"10.0.{i % 3}.1", 1000 + i, f"10.1.{i % 5}.2", 80, wirelen=60 + i) for i in range(200)]
    packets += [Packet("2001:db8::1", 5, "2001:db8::2", 6, proto=PROTO_UDP, wirelen=99)]
    whole, shards = FlowTracker(FlowSettings(timeout_s=0)), [FlowTracker(FlowSettings(timeout_s=0)) for _ in range(2)]
    whole.observe(make_batch(packets))
    shards[0].observe(make_batch(packets[::2]))
    shards[1].observe(make_batch(packets[1::2]))
    merged = HostColumns.concat([shard.hosts() for shard in shards]).summed()
    assert table_of(merged) == table_of(whole.hosts())
    assert merged.count == 3 + 5 + 2


def test_ipv6_addresses_with_a_zero_high_half_stay_apart_from_ipv4_ones():
    """::1 and ::10.0.0.1 are stored with hi = 0, like IPv4's 0.0.0.1 and 10.0.0.1."""
    packets = [Packet("0.0.0.1", 1, "10.0.0.1", 2, proto=PROTO_UDP), Packet("::1", 1, "::10.0.0.1", 2, proto=PROTO_UDP)]
    shards = [FlowTracker(FlowSettings(timeout_s=0)) for _ in range(2)]
    for shard, packet in zip(shards, packets, strict=True):
        shard.observe(make_batch([packet]))
    merged = HostColumns.concat([shard.hosts() for shard in shards]).summed()
    assert sorted(table_of(merged)) == ["0.0.0.1", "10.0.0.1", "::1", "::a00:1"]
