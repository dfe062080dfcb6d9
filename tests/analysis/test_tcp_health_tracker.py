"""TcpHealth behind the real FlowTracker: expiry and eviction end flows in the middle of
batches, rows are reused at once, IPv4 and IPv6 tables live side by side; the values of
live flows (attach) and of removed ones (attach_expired) must still be each flow's own.
"""

from __future__ import annotations

from dataclasses import fields

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from netscope.analysis.tcp_health import TcpHealth, TcpHealthSettings
from netscope.export.flows import flow_records
from netscope.flow.records import FlowColumns
from netscope.flow.tracker import FlowSettings, FlowTracker
from netscope.parse.columns import PROTO_TCP, ParsedBatch, Status

from .tcp_oracle import Flow
from .tcp_traffic import Packet, assert_same, flow_packets

HEALTH = ("retransmissions", "out_of_order", "rtt_samples", "rtt_last_ms", "rtt_min_ms", "rtt_ewma_ms",
          "rtt_handshake_ms")
GAP_US = st.sampled_from([1, 1, 50, 1_000, 20_000, 400_000, 1_500_000])  # timeout is 1 s


def endpoints(flow: int) -> tuple[int, int, int, int, int, int, int]:
    """(ip version, A hi, A lo, A port, B hi, B lo, B port) of flow number `flow`, A < B."""
    if flow % 2:
        return 6, 0xFD00 << 48, flow, 1000 + flow, 0xFD00 << 48, 0xFFFF, 80
    return 4, 0, 0x0A000001, 1000 + flow, 0, 0x0A000002, 80


def addressed(packets: list[Packet], ts_us: list[int]) -> ParsedBatch:
    """Parsed columns for `packets`, whose `row` is the flow number given to endpoints()."""
    n = len(packets)
    ends = [endpoints(p.row) for p in packets]

    def side(k: int, dtype: type) -> np.ndarray:
        return np.array([e[k] for e in ends], dtype=dtype)

    a_hi, a_lo, b_hi, b_lo = (side(k, np.uint64) for k in (1, 2, 4, 5))
    a_port, b_port = side(3, np.uint16), side(6, np.uint16)
    forward = np.array([p.direction == 0 for p in packets])
    columns = {f.name: np.zeros(n, dtype=np.int64) for f in fields(ParsedBatch)}
    columns.update(
        ts_us=np.array(ts_us, dtype=np.int64),
        wirelen=np.array([60 + p.payload for p in packets], dtype=np.int64),
        status=np.full(n, Status.OK, dtype=np.uint8),
        ip_version=side(0, np.uint8),
        ip_proto=np.array([p.proto for p in packets], dtype=np.uint8),
        src_hi=np.where(forward, a_hi, b_hi), src_lo=np.where(forward, a_lo, b_lo),
        dst_hi=np.where(forward, b_hi, a_hi), dst_lo=np.where(forward, b_lo, a_lo),
        src_port=np.where(forward, a_port, b_port), dst_port=np.where(forward, b_port, a_port),
        has_l4=np.ones(n, dtype=bool),
        tcp_flags=np.array([p.flags for p in packets], dtype=np.uint8),
        tcp_seq=np.array([p.seq for p in packets], dtype=np.uint32),
        tcp_ack=np.array([p.ack for p in packets], dtype=np.uint32),
        tcp_window=np.array([p.window for p in packets], dtype=np.uint16),
        payload_len=np.array([p.payload for p in packets], dtype=np.int64),
    )
    return ParsedBatch(**columns)


@st.composite
def timeline(draw) -> tuple[list[Packet], list[int], list[int], int]:
    flows = [draw(flow_packets(flow)) for flow in range(draw(st.integers(1, 5)))]
    order = draw(st.permutations([flow for flow, packets in enumerate(flows) for _ in packets]))
    cursor = [0] * len(flows)
    packets, ts_us, now = [], [], 10_000_000
    for flow in order:
        packets.append(flows[flow][cursor[flow]])
        cursor[flow] += 1
        now += draw(GAP_US)
        ts_us.append(now)
    cuts = sorted(set(draw(st.lists(st.integers(1, len(packets)), max_size=4))) | {len(packets)})
    return packets, ts_us, cuts, draw(st.sampled_from([0, 0, 2, 3]))


def values_of(flows: FlowColumns) -> dict[str, np.ndarray]:
    return {name: getattr(flows, name) for name in HEALTH}


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(timeline())
def test_live_and_removed_flows_keep_their_own_values(case) -> None:
    packets, ts_us, cuts, max_flows = case
    tracker = FlowTracker(FlowSettings(timeout_s=1.0, max_flows=max_flows, collect_expired=True))
    health = TcpHealth(TcpHealthSettings(keep_expired=True))
    instances: dict[tuple[int, int, int], Flow] = {}  # (ip version, row, first_us) -> flow
    current: dict[tuple[int, int], Flow] = {}
    begin = 0
    for end in cuts:
        batch = addressed(packets[begin:end], ts_us[begin:end])
        tracker.observe(batch)
        mapping = tracker.last_batch
        health.observe(batch, mapping)
        for i, packet in enumerate(packets[begin:end]):
            where = (int(mapping.ip_version[i]), int(mapping.row[i]))
            if mapping.started[i]:
                current[where] = Flow(first_us=int(batch.ts_us[i]))
            flow = current[where]
            if packet.proto == PROTO_TCP:
                flow.packet(packet.direction, int(batch.ts_us[i]), packet.flags, packet.seq, packet.ack,
                            packet.window, packet.payload)
            else:
                flow.first_us = min(flow.first_us, int(batch.ts_us[i]))
            instances[(*where, flow.first_us)] = flow
        begin = end
        expired = health.attach_expired(tracker.take_expired()).flows
        check(expired, instances)
    check(health.attach(tracker.snapshot()), instances)


def check(flows: FlowColumns, instances: dict[tuple[int, int, int], Flow]) -> None:
    values = values_of(flows)
    for i in range(flows.count):
        identity = (int(flows.ip_version[i]), int(flows.row[i]), int(flows.first_us[i]))
        assert_same(values, i, instances[identity])


def handshake_data_and_resend(settings: TcpHealthSettings | None = None) -> FlowColumns:
    """Handshake, data, its ACK, and the data resent long after it was acknowledged."""
    packets = [Packet(0, 0, 0x02, 100, 0, 512, 0), Packet(0, 1, 0x12, 900, 101, 512, 0),
               Packet(0, 0, 0x10, 101, 901, 512, 0), Packet(0, 0, 0x18, 101, 901, 512, 100),
               Packet(0, 1, 0x10, 901, 201, 512, 0), Packet(0, 0, 0x18, 101, 901, 512, 100)]
    tracker = FlowTracker(FlowSettings(timeout_s=0, max_flows=0))
    health = TcpHealth(settings)
    batch = addressed(packets, [1_000, 1_250, 1_600, 1_700, 2_700, 60_000])
    tracker.observe(batch)
    health.observe(batch, tracker.last_batch)
    return health.attach(tracker.snapshot())


def test_exports_carry_the_health_fields() -> None:
    """Through attach, FlowColumns.rows() and the JSON/CSV record builder."""
    flows = handshake_data_and_resend()
    row = flows.rows()[0]
    assert (row.rtt_handshake_ms, row.rtt_samples, row.retransmissions, row.out_of_order) == (0.6, 3, 1, 0)
    assert (row.rtt_last_ms, row.rtt_min_ms, row.rtt_ms) == (1.0, 0.25, 0.3546875)  # samples 250, 350, 1000 µs
    record = next(flow_records(flows))
    assert (record["rtt_samples"], record["retransmissions"], record["rtt_last_ms"]) == (3, 1, 1.0)


def test_disabled_measures_read_as_zero_or_null() -> None:
    no_rtt = handshake_data_and_resend(TcpHealthSettings(rtt=False)).rows()[0]
    assert (no_rtt.rtt_ms, no_rtt.rtt_last_ms, no_rtt.rtt_handshake_ms, no_rtt.rtt_samples) == (None, None, None, 0)
    assert no_rtt.retransmissions == 1
    no_counts = handshake_data_and_resend(TcpHealthSettings(retrans=False, out_of_order=False)).rows()[0]
    assert (no_counts.retransmissions, no_counts.out_of_order, no_counts.rtt_samples) == (0, 0, 3)


def test_flow_columns_without_rows_are_refused() -> None:
    flows = handshake_data_and_resend()
    flows.row = None
    with pytest.raises(ValueError, match="table rows"):
        TcpHealth().attach(flows)
