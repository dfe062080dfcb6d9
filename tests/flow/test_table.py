"""Storage behaviour: growth when unlimited, IPv6 keys, bounded memory under churn, row mapping."""

from __future__ import annotations

import numpy as np

from netscope.flow.keys import V4
from netscope.flow.table import PACKETS_MAX, FlowTable
from netscope.flow.tracker import FlowSettings, FlowTracker
from netscope.parse.columns import PROTO_ICMP, PROTO_UDP, TCP_SYN, Status
from tests.flow.packets import Packet, make_batch


def v4(i: int, ts: int = 0, **kw) -> Packet:
    return Packet(f"10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}", 1000 + i % 5000, "172.16.0.1", 80, ts_us=ts, **kw)


def v6(i: int, ts: int = 0, **kw) -> Packet:
    return Packet(f"2001:db8::{i:x}", 443, f"2001:db8:1::{i % 7:x}", 8443, ts_us=ts, **kw)


def test_unlimited_tables_grow_by_doubling_and_keep_every_flow():
    tracker = FlowTracker(FlowSettings(timeout_s=0, max_flows=0))
    start_v4, start_v6 = tracker._table(4).capacity, tracker._table(6).capacity
    total = 2000 * (3 * start_v4 // 2000 + 1)
    for lo in range(0, total, 2000):
        packets = [v4(i) for i in range(lo, lo + 2000)] + [v6(i) for i in range(lo // 10, lo // 10 + 200)]
        tracker.observe(make_batch(packets))
    assert tracker.active_flows == tracker.flows_seen == total + total // 10
    assert tracker._table(4).capacity >= total > start_v4 and tracker._table(6).capacity > start_v6
    # Every flow is still found, and a second pass over the same packets creates nothing.
    tracker.observe(make_batch([v4(i) for i in range(0, total, 97)] + [v6(i) for i in range(0, total // 10, 13)]))
    assert not tracker.last_batch.created.any()
    assert tracker.active_flows == total + total // 10
    assert tracker.snapshot().packets_total.sum() == total + total // 10 + len(range(0, total, 97)) + len(
        range(0, total // 10, 13))


def test_churn_under_a_limit_keeps_the_storage_bounded():
    tracker = FlowTracker(FlowSettings(timeout_s=0, max_flows=100))
    table = tracker._table(4)
    capacity, slots = table.capacity, table.index.size
    for lo in range(0, 20_000, 50):
        tracker.observe(make_batch([v4(i, ts=i) for i in range(lo, lo + 50)]))
    assert tracker.active_flows == 100 and tracker.evicted_count == 19_900
    assert (table.capacity, table.index.size) == (capacity, slots)
    assert table.hwm <= 150
    assert table.index.live == 100 and table.index.live + table.index.tombstones <= 0.6 * slots
    assert sorted(r.a_port for r in tracker.snapshot().rows()) == sorted(1000 + i % 5000 for i in range(19_900, 20_000))


def test_ipv6_flows_are_counted_like_ipv4_ones():
    tracker = FlowTracker(FlowSettings())
    tracker.observe(make_batch([Packet("2001:db8::2", 443, "2001:db8::1", 5000, wirelen=1500, flags=TCP_SYN),
                                Packet("2001:db8::1", 5000, "2001:db8::2", 443, wirelen=60),
                                Packet("fe80::1", 53, "fe80::1", 53, proto=PROTO_UDP, wirelen=80)]))
    rows = {r.key: r for r in tracker.snapshot().rows()}
    tcp = rows[("tcp", "2001:db8::1", 5000, "2001:db8::2", 443)]
    assert (tcp.packets_ab, tcp.bytes_ab, tcp.packets_ba, tcp.bytes_ba) == (1, 60, 1, 1500)
    assert (tcp.tcp_state, tcp.client) == ("syn_sent", "b_to_a")
    udp = rows[("udp", "fe80::1", 53, "fe80::1", 53)]
    assert (udp.packets_ab, udp.packets_ba, udp.tcp_state) == (1, 0, None)


def test_last_batch_maps_each_packet_to_its_row():
    tracker = FlowTracker(FlowSettings())
    tracker.observe(make_batch([v4(1)]))
    batch = [v4(2), Packet("10.0.0.9", 1, "10.0.0.8", 2, proto=PROTO_ICMP),
             Packet("172.16.0.1", 80, "10.0.0.1", 1001), v6(1), v4(2), v4(3, status=Status.TRUNCATED_L4)]
    tracker.observe(make_batch(batch))
    mapping = tracker.last_batch
    assert mapping.ip_version.tolist() == [4, 0, 4, 6, 4, 0]
    assert mapping.row[[1, 5]].tolist() == [-1, -1]
    assert mapping.row[0] == mapping.row[4] != mapping.row[2]
    assert mapping.a_to_b[[0, 2, 3, 4]].tolist() == [True, False, True, True]
    assert mapping.created.tolist() == [True, False, False, True, True, False]
    assert mapping.started.tolist() == [True, False, False, True, False, False]
    snapshot = tracker.snapshot()
    rows = {(r.key, int(row)) for r, row in zip(snapshot.rows(), snapshot.row, strict=True)}
    assert (("tcp", "10.0.0.2", 1002, "172.16.0.1", 80), int(mapping.row[0])) in rows


def test_started_marks_where_a_reused_row_begins_a_new_flow():
    tracker = FlowTracker(FlowSettings(timeout_s=1))
    # Flow 1 expires at the pass after the packet at 3 s; flow 3 then takes its row, same batch.
    tracker.observe(make_batch([v4(1, ts=0), v4(2, ts=3_000_000), v4(3, ts=3_000_001), v4(3, ts=3_000_002)]))
    mapping = tracker.last_batch
    assert mapping.row[0] == mapping.row[2] == mapping.row[3]
    assert mapping.created.tolist() == [True, True, True, True]
    assert mapping.started.tolist() == [True, True, True, False]


def test_packet_counters_saturate():
    table = FlowTable(V4, 1024)
    keys = V4.pack(*(np.zeros(1, np.uint64),) * 4, np.array([6], np.uint8), np.ones(1, np.uint16),
                   np.full(1, 2, np.uint16))
    table.reserve(1)
    rows = table.resolve(keys)
    ones = np.ones(1, bool)
    table.apply(rows, ones, np.zeros(1, np.int64), np.ones(1, np.int64), np.zeros(1, np.uint8))
    table.packets_ab[rows] = PACKETS_MAX - 1
    three = np.zeros(3, np.int64)
    table.apply(np.repeat(rows, 3), np.ones(3, bool), three, three + 1, np.zeros(3, np.uint8))
    assert table.columns(rows).packets_ab.tolist() == [PACKETS_MAX]
    assert table.columns(rows).bytes_ab.tolist() == [4]
