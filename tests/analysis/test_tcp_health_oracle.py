"""TcpHealth against the packet-by-packet oracle on random TCP exchanges (hypothesis).

Flows are fed the way the tracker feeds them: rows, directions and `started` marks per
packet, a row reused by a later flow (sometimes within one batch), batches split at
random points. Sequence numbers start anywhere, including just below 2^32, and move in
small steps back and forth so that retransmissions, reordering, duplicate ACKs,
keep-alives and cumulative ACKs all occur; times move by amounts around the rules'
thresholds (3 ms, 20 ms) and occasionally backwards.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from netscope.analysis.tcp_health import TcpHealth, TcpHealthSettings
from netscope.flow.expired import ExpiredFlows
from netscope.flow.records import FlowColumns
from netscope.flow.tracker import BatchFlows
from netscope.parse.columns import PROTO_TCP, PROTO_UDP, ParsedBatch

from .tcp_oracle import ACK, FIN, RST, SYN, Flow

PSH = 0x08
M32 = 1 << 32


@dataclass(frozen=True)
class Packet:
    row: int
    direction: int
    flags: int
    seq: int
    ack: int
    window: int
    payload: int
    proto: int = PROTO_TCP


def parsed(packets: list[Packet], ts_us: list[int]) -> ParsedBatch:
    n = len(packets)
    columns = {f.name: np.zeros(n, dtype=np.int64) for f in fields(ParsedBatch)}
    columns.update(
        ts_us=np.array(ts_us, dtype=np.int64),
        ip_proto=np.array([p.proto for p in packets], dtype=np.uint8),
        tcp_flags=np.array([p.flags for p in packets], dtype=np.uint8),
        tcp_seq=np.array([p.seq for p in packets], dtype=np.uint32),
        tcp_ack=np.array([p.ack for p in packets], dtype=np.uint32),
        tcp_window=np.array([p.window for p in packets], dtype=np.uint16),
        payload_len=np.array([p.payload for p in packets], dtype=np.int64),
    )
    return ParsedBatch(**columns)


def batch_flows(packets: list[Packet], started: list[bool]) -> BatchFlows:
    n = len(packets)
    return BatchFlows(ip_version=np.full(n, 4, dtype=np.uint8), row=np.array([p.row for p in packets], np.int64),
                      a_to_b=np.array([p.direction == 0 for p in packets]), created=np.array(started),
                      started=np.array(started))


def flow_columns(rows: list[int], first_us: list[int]) -> FlowColumns:
    n = len(rows)
    columns = {f.name: np.zeros(n, dtype=np.int64) for f in fields(FlowColumns) if f.default is not None}
    columns.update(ip_version=np.full(n, 4, dtype=np.uint8), first_us=np.array(first_us, dtype=np.int64),
                   row=np.array(rows, dtype=np.int64))
    return FlowColumns(**columns)


FLAGS = st.sampled_from([ACK, ACK, ACK, ACK | PSH, ACK | PSH, SYN, SYN | ACK, ACK | FIN, FIN, RST, ACK | RST, 0])
ISN = st.one_of(st.sampled_from([0, 1, M32 - 1, M32 - 150, M32 - 1000]), st.integers(0, M32 - 1))
STEP_US = st.sampled_from([1, 1, 5, 50, 1_000, 2_999, 3_000, 5_000, 19_999, 20_000, 60_000, 0, -10])


@st.composite
def flow_packets(draw, row: int) -> list[Packet]:
    """One flow's packets around two initial sequence numbers.

    Besides random segments and ACKs, some packets are drawn in the shapes the rules look
    for: a handshake, the next in-order segment, a duplicate ACK, a resend from where the
    peer's ACKs stand.
    """
    isn = (draw(ISN), draw(ISN))
    proto = draw(st.sampled_from([PROTO_TCP] * 5 + [PROTO_UDP]))
    high = [0, 0]  # highest seq + len sent, as an offset from the direction's ISN
    acked = [0, 0]  # latest ACK sent, as an offset from the peer's ISN
    window = [512, 512]
    out: list[Packet] = []

    def emit(direction: int, flags: int, at: int, ack_at: int, size: int, win: int) -> None:
        high[direction] = max(high[direction], at + size + bool(flags & SYN) + bool(flags & FIN))
        if flags & ACK:
            acked[direction], window[direction] = ack_at, win
        out.append(Packet(row, direction, flags, (isn[direction] + at) % M32, (isn[1 - direction] + ack_at) % M32,
                          win, size, proto))

    for _ in range(draw(st.integers(1, 30))):
        d = draw(st.integers(0, 1))
        shape = draw(st.sampled_from(["random"] * 4 + ["next", "next", "dupack", "resend", "handshake"]))
        size = draw(st.sampled_from([0, 0, 1, 100, 100, 300]))
        if shape == "handshake":
            emit(d, SYN, 0, 0, 0, 512)
            emit(1 - d, SYN | ACK, 0, 1, 0, 512)
            closer = draw(st.sampled_from([d, d, 1 - d]))  # an ACK from the SYN-ACK's side completes nothing
            emit(closer, ACK, 1, 1, 0, 512)
        elif shape == "next":
            emit(d, ACK | PSH, high[d], high[1 - d], size, window[d])
        elif shape == "dupack":
            emit(d, ACK, high[d], acked[d], 0, window[d])
        elif shape == "resend":
            emit(d, ACK, acked[1 - d], high[1 - d], max(size, 1), window[d])
        else:
            at = draw(st.integers(0, 15)) * 100 + draw(st.sampled_from([0, 0, 0, 0, 1, -1, 50]))
            ack_at = draw(st.integers(0, 16)) * 100 + draw(st.sampled_from([0, 0, 1]))
            emit(d, draw(FLAGS), at, ack_at, size, draw(st.sampled_from([0, 512, 512, 1024])))
    return out


@st.composite
def traffic(draw) -> tuple[list[Packet], list[bool], list[int], list[int]]:
    """Packets in capture order with started marks, times, and batch boundaries."""
    per_row = []
    for row in range(draw(st.integers(1, 4))):
        flows = draw(st.lists(flow_packets(row), min_size=1, max_size=2))
        per_row.append([(p, i == 0) for flow in flows for i, p in enumerate(flow)])
    tags = [row for row, items in enumerate(per_row) for _ in items]
    order = draw(st.permutations(tags))
    cursor = [0] * len(per_row)
    packets, started, ts_us = [], [], []
    now = draw(st.integers(1_000_000, 2_000_000))
    for row in order:
        packet, first = per_row[row][cursor[row]]
        cursor[row] += 1
        step = draw(STEP_US)
        now += max(step, 1) if first else step  # a new flow starts strictly later than anything before it
        packets.append(packet)
        started.append(first)
        ts_us.append(now)
    cuts = sorted(set(draw(st.lists(st.integers(1, len(packets)), max_size=6))) | {len(packets)})
    return packets, started, ts_us, cuts


def assert_same(values: dict[str, np.ndarray], i: int, flow: Flow) -> None:
    assert values["retransmissions"][i] == flow.retransmissions
    assert values["out_of_order"][i] == flow.out_of_order
    assert values["rtt_samples"][i] == len(flow.samples)
    if flow.samples:
        assert round(values["rtt_last_ms"][i] * 1000) == flow.samples[-1]
        assert round(values["rtt_min_ms"][i] * 1000) == flow.rtt_min_us
        assert math.isclose(values["rtt_ewma_ms"][i] * 1000, flow.ewma, rel_tol=1e-9, abs_tol=1e-6)
    else:
        assert math.isnan(values["rtt_last_ms"][i]) and math.isnan(values["rtt_ewma_ms"][i])
    handshake = values["rtt_handshake_ms"][i]
    if flow.handshake_us is None:
        assert math.isnan(handshake)
    else:
        assert round(handshake * 1000) == flow.handshake_us


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
