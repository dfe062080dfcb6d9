"""TcpHealth against the packet-by-packet oracle on random TCP exchanges (hypothesis).

Flows are fed the way the tracker feeds them: rows, directions and `started` marks per
packet, a row reused by a later flow (sometimes within one batch), batches split at
random points. Sequence numbers start anywhere, including just below 2^32, and move in
small steps back and forth so that retransmissions, reordering, duplicate ACKs,
keep-alives and cumulative ACKs all occur; times move by amounts around the rules'
thresholds (3 ms, 20 ms) and occasionally backwards.
"""

from __future__ import annotations

from dataclasses import fields

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from netscope.analysis.tcp_health import TcpHealth, TcpHealthSettings
from netscope.flow.expired import ExpiredFlows
from netscope.flow.records import FlowColumns
from netscope.flow.tracker import BatchFlows
from netscope.parse.columns import PROTO_TCP

from .tcp_oracle import ACK, Flow
from .tcp_traffic import ISN, M32, STEP_US, Packet, assert_same, flow_packets, parsed

ROW_STRIDE = 700  # table rows far apart, so the per-row columns have to grow


def batch_flows(packets: list[Packet], started: list[bool]) -> BatchFlows:
    n = len(packets)
    return BatchFlows(ip_version=np.full(n, 4, dtype=np.uint8), row=np.array([p.row for p in packets], np.int64),
                      a_to_b=np.array([p.direction == 0 for p in packets]), created=np.array(started),
                      started=np.array(started), packets_before=np.zeros(n, np.int64))


def flow_columns(rows: list[int], first_us: list[int]) -> FlowColumns:
    n = len(rows)
    columns = {f.name: np.zeros(n, dtype=np.int64) for f in fields(FlowColumns) if f.default is not None}
    columns.update(ip_version=np.full(n, 4, dtype=np.uint8), first_us=np.array(first_us, dtype=np.int64),
                   row=np.array(rows, dtype=np.int64))
    return FlowColumns(**columns)


@st.composite
def traffic(draw) -> tuple[list[Packet], list[bool], list[int], list[int]]:
    """Packets in capture order with started marks, times, and batch boundaries."""
    per_row = []
    for row in range(draw(st.integers(1, 4))):
        flows = draw(st.lists(flow_packets(row * ROW_STRIDE), min_size=1, max_size=2))
        per_row.append([(p, i == 0) for flow in flows for i, p in enumerate(flow)])
    tags = [row for row, items in enumerate(per_row) for _ in items]
    order = draw(st.permutations(tags))
    cursor = [0] * len(per_row)
    packets, started, ts_us = [], [], []
    now = draw(st.integers(1_000_000, 2_000_000))
    for row in order:
        packet, first = per_row[row][cursor[row]]  # row: index into per_row; packet.row: table row
        cursor[row] += 1
        step = draw(STEP_US)
        now += max(step, 1) if first else step  # a new flow starts strictly later than anything before it
        packets.append(packet)
        started.append(first)
        ts_us.append(now)
    cuts = sorted(set(draw(st.lists(st.integers(1, len(packets)), max_size=6))) | {len(packets)})
    return packets, started, ts_us, cuts


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(traffic())
def test_batches_agree_with_the_oracle(case) -> None:
    packets, started, ts_us, cuts = case
    health = TcpHealth(TcpHealthSettings(keep_expired=True))
    current: dict[int, Flow] = {}
    ended: list[tuple[int, Flow]] = []
    begin = 0
    for end in cuts:
        chunk = packets[begin:end]
        health.observe(parsed(chunk, ts_us[begin:end]), batch_flows(chunk, started[begin:end]))
        for packet, first, ts in zip(chunk, started[begin:end], ts_us[begin:end], strict=True):
            if first:
                if packet.row in current:
                    ended.append((packet.row, current[packet.row]))
                current[packet.row] = Flow(first_us=ts)
            flow = current[packet.row]
            if packet.proto == PROTO_TCP:
                flow.packet(packet.direction, ts, packet.flags, packet.seq, packet.ack, packet.window, packet.payload)
            else:
                flow.first_us = min(flow.first_us, ts)
        begin = end
        rows = sorted(current)
        values = health.columns_for(np.full(len(rows), 4), np.array(rows))
        for i, row in enumerate(rows):
            assert_same(values, i, current[row])

    gone = ended + sorted(current.items())
    expired = ExpiredFlows(flow_columns([row for row, _ in gone], [flow.first_us for _, flow in gone]),
                           np.zeros(len(gone), np.uint8), np.zeros(len(gone), np.int64))
    attached = health.attach_expired(expired).flows
    values = {name: getattr(attached, name) for name in (
        "retransmissions", "out_of_order", "rtt_samples", "rtt_last_ms", "rtt_min_ms", "rtt_ewma_ms",
        "rtt_handshake_ms")}
    for i, (_, flow) in enumerate(gone):
        assert_same(values, i, flow)


@st.composite
def bulk_transfer(draw) -> tuple[list[Packet], list[int], list[int]]:
    """A long one-way transfer whose ACKs lag far behind, so that the 128-entry in-flight
    limit drops samples; some segments are resent and some ACKs repeat or go backwards."""
    rng_seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(rng_seed)
    isn = (draw(ISN), draw(ISN))
    sent = 0
    acked = 0
    packets, ts_us = [], []
    now = 1_000_000
    for _ in range(draw(st.integers(100, 700))):
        now += int(rng.choice([0, 1, 10, 100, 4_000]))
        roll = rng.random()
        if roll < 0.8:
            size = int(rng.choice([1, 100, 1448]))
            at = sent if rng.random() < 0.9 else max(0, sent - int(rng.integers(1, 5)) * 100)
            packets.append(Packet(0, 0, ACK, (isn[0] + at) % M32, isn[1], 512, size))
            sent = max(sent, at + size)
        else:
            move = rng.random()
            if move < 0.02:
                acked = sent  # one cumulative ACK for everything: many samples at once
            elif move < 0.9:
                acked = min(sent, acked + int(rng.integers(0, 800)))
            else:
                acked = max(0, acked - 300)
            packets.append(Packet(0, 1, ACK, isn[1], (isn[0] + acked) % M32, 512, 0))
        ts_us.append(now)
    cuts = sorted(set(draw(st.lists(st.integers(1, len(packets)), max_size=4))) | {len(packets)})
    return packets, ts_us, cuts


@settings(max_examples=60, deadline=None)
@given(bulk_transfer())
def test_in_flight_limit_across_batches(case) -> None:
    packets, ts_us, cuts = case
    health = TcpHealth()
    flow = Flow(first_us=ts_us[0])
    begin = 0
    for end in cuts:
        chunk = packets[begin:end]
        health.observe(parsed(chunk, ts_us[begin:end]), batch_flows(chunk, [i == 0 for i in range(begin, end)]))
        for packet, ts in zip(chunk, ts_us[begin:end], strict=True):
            flow.packet(packet.direction, ts, packet.flags, packet.seq, packet.ack, packet.window, packet.payload)
        begin = end
    assert_same(health.columns_for(np.array([4]), np.array([0])), 0, flow)
