"""FlowTracker against a packet-by-packet oracle: counts, TCP state, client and timeouts.

Packets of one flow inside one batch go through the vectorised state machine together, so
the oracle is checked on random flag sequences over a few flows, cut into batches at random.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from netscope.flow.records import TcpState
from netscope.flow.tracker import FlowSettings, FlowTracker
from netscope.parse.columns import PROTO_ICMP, PROTO_TCP, PROTO_UDP, TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN, Status
from tests.flow.packets import Oracle, Packet, make_batch, tracker_table

ENDPOINTS = [("10.0.0.1", 1000), ("10.0.0.1", 80), ("10.0.0.2", 80), ("192.168.0.9", 53),
             ("fe80::1", 80), ("fe80::1", 443), ("2001:db8::2", 1000)]
FLAGS = [0, TCP_SYN, TCP_SYN | TCP_ACK, TCP_ACK, TCP_FIN | TCP_ACK, TCP_FIN, TCP_RST, TCP_RST | TCP_ACK,
         TCP_SYN | TCP_FIN, TCP_SYN | TCP_RST, 0x18]


@st.composite
def packet_streams(draw, max_packets=60, steps=(0, 1, 300_000, 1_000_000, 1_700_000)):
    """Packets between a few endpoint pairs, time never going back, and cut points for batches."""
    pairs = draw(st.lists(st.tuples(st.sampled_from(ENDPOINTS), st.sampled_from(ENDPOINTS))
                          .filter(lambda p: (":" in p[0][0]) == (":" in p[1][0])), min_size=1, max_size=4))
    count = draw(st.integers(1, max_packets))
    ts = 1_000_000_000
    packets = []
    for _ in range(count):
        ts += draw(st.sampled_from(steps))
        (a, b), reverse = draw(st.sampled_from(pairs)), draw(st.booleans())
        src, dst = (b, a) if reverse else (a, b)
        proto = draw(st.sampled_from([PROTO_TCP, PROTO_TCP, PROTO_TCP, PROTO_UDP, PROTO_ICMP]))
        status = draw(st.sampled_from([Status.OK] * 6 + [Status.TRUNCATED_IP]))
        packets.append(Packet(src[0], src[1], dst[0], dst[1], ts_us=ts, proto=proto,
                              flags=draw(st.sampled_from(FLAGS) | st.integers(0, 63)),
                              wirelen=draw(st.integers(0, 1514)), status=status))
    cuts = sorted(draw(st.sets(st.integers(1, max(count - 1, 1)), max_size=4)))
    return packets, cuts


def feed(tracker: FlowTracker, packets: list[Packet], cuts: list[int]) -> None:
    for lo, hi in zip([0, *cuts], [*cuts, len(packets)], strict=True):
        if hi > lo:
            tracker.observe(make_batch(packets[lo:hi]))


@settings(max_examples=200, deadline=None)
@given(packet_streams(steps=(0, 1, 1000)))
def test_counts_state_and_client_match_the_oracle(stream):
    packets, cuts = stream
    tracker, oracle = FlowTracker(FlowSettings(timeout_s=0)), Oracle()
    feed(tracker, packets, cuts)
    for p in packets:
        oracle.packet(p)
    assert tracker_table(tracker.snapshot()) == oracle.table()
    assert tracker.flows_seen == len(oracle.flows) == tracker.active_flows


@settings(max_examples=200, deadline=None)
@given(packet_streams())
def test_timeouts_match_the_oracle(stream):
    """Timeout passes run after the packet that is >= 1 s past the last pass, mid-batch too."""
    packets, cuts = stream
    tracker = FlowTracker(FlowSettings(timeout_s=2.0, max_flows=0, collect_expired=True))
    oracle = Oracle(timeout_us=2_000_000)
    feed(tracker, packets, cuts)
    for p in packets:
        oracle.packet(p)
    assert tracker_table(tracker.snapshot()) == oracle.table()
    expired = tracker.take_expired()
    summaries = [(r.key, reason, int(ts), row) for r, reason, ts, row in zip(
        expired.flows.rows(), expired.reason_labels(), expired.ts_us, _summaries(expired.flows), strict=True)]
    assert sorted(summaries) == sorted(oracle.expired)
    assert tracker.expired_count == len(oracle.expired)
    assert tracker.take_expired().flows.count == 0


def _summaries(flows) -> list[tuple]:
    """Per-row summaries (the same flow key may expire more than once, so no dict here)."""
    return [(r.packets_ab, r.packets_ba, r.bytes_ab, r.bytes_ba, int(f), int(last), r.tcp_state, r.client)
            for r, f, last in zip(flows.rows(), flows.first_us, flows.last_us, strict=True)]


def test_closed_needs_a_fin_from_each_side():
    a, b = ("10.0.0.1", 1000), ("10.0.0.2", 80)
    tracker = FlowTracker(FlowSettings())

    def send(src, dst, flags):
        tracker.observe(make_batch([Packet(*src, *dst, flags=flags)]))
        return tracker.snapshot().rows()[0]

    assert send(a, b, TCP_SYN).tcp_state == "syn_sent"
    assert send(b, a, TCP_SYN | TCP_ACK).tcp_state == "syn_ack"
    assert send(a, b, TCP_ACK).tcp_state == "established"
    assert send(a, b, TCP_FIN | TCP_ACK).tcp_state == "fin_wait"
    assert send(a, b, TCP_FIN | TCP_ACK).tcp_state == "fin_wait"  # a retransmitted FIN does not close
    row = send(b, a, TCP_FIN | TCP_ACK)
    assert (row.tcp_state, row.client) == ("closed", "a_to_b")
    assert send(b, a, TCP_FIN).tcp_state == "closed"
    # A new pure SYN clears the FIN mask and starts over; the client stays the first one.
    row = send(b, a, TCP_SYN)
    assert (row.tcp_state, row.client) == ("syn_sent", "a_to_b")
    assert send(a, b, TCP_FIN).tcp_state == "fin_wait"


def test_state_survives_batch_boundaries_in_one_batch_too():
    a, b = ("10.0.0.1", 1000), ("10.0.0.2", 80)
    packets = [Packet(*a, *b, flags=TCP_SYN), Packet(*b, *a, flags=TCP_SYN | TCP_ACK), Packet(*a, *b, flags=TCP_ACK),
               Packet(*b, *a, flags=TCP_FIN | TCP_ACK), Packet(*a, *b, flags=TCP_ACK)]
    together = FlowTracker(FlowSettings())
    together.observe(make_batch(packets))
    apart = FlowTracker(FlowSettings())
    for p in packets:
        apart.observe(make_batch([p]))
    assert together.snapshot().rows()[0].tcp_state == apart.snapshot().rows()[0].tcp_state == "fin_wait"


def test_udp_flows_have_no_state():
    tracker = FlowTracker(FlowSettings())
    tracker.observe(make_batch([Packet("10.0.0.1", 53, "10.0.0.2", 5353, proto=PROTO_UDP)]))
    flows = tracker.snapshot()
    assert flows.tcp_state[0] == TcpState.NONE and flows.rows()[0].tcp_state is None
