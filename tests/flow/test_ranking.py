"""Per-tick accounting, top-N rankings with stable ties, and the snapshot order."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netscope.flow.tracker import FlowSettings, FlowTracker
from tests.flow.packets import Packet, make_batch


def pkt(i: int, wirelen: int, ts: int = 0, v6: bool = False) -> Packet:
    if v6:
        return Packet(f"2001:db8::{i:x}", 1000, "2001:db8::ffff", 80, ts_us=ts, wirelen=wirelen)
    return Packet(f"10.0.0.{i}", 1000, "10.0.1.1", 80, ts_us=ts, wirelen=wirelen)


def ips(flows) -> list[str]:
    return [r.a_ip for r in flows.rows()]


def test_rate_is_what_moved_in_the_last_completed_tick():
    tracker = FlowTracker(FlowSettings())
    tracker.observe(make_batch([pkt(1, 100), pkt(2, 500)]))
    assert tracker.top(10).tick_bytes.tolist() == [0, 0]  # no tick completed yet: only quiet flows
    tracker.end_tick()
    tracker.observe(make_batch([pkt(1, 1000)]))  # counts for the next tick, not the completed one
    top = tracker.top(10)
    assert ips(top) == ["10.0.0.2", "10.0.0.1"]
    assert top.tick_bytes.tolist() == [500, 100] and top.tick_packets.tolist() == [1, 1]
    tracker.end_tick()
    top = tracker.top(10)
    assert ips(top) == ["10.0.0.1", "10.0.0.2"] and top.tick_bytes.tolist() == [1000, 0]
    assert ips(tracker.top(1)) == ["10.0.0.1"]
    # Flows that did not move are 0 in every other view.
    assert dict(zip(ips(tracker.snapshot()), tracker.snapshot().tick_bytes.tolist(), strict=True)) == {
        "10.0.0.1": 1000, "10.0.0.2": 0}
    tracker.end_tick()
    assert tracker.top(10).tick_bytes.tolist() == [0, 0]


def test_quiet_flows_fill_the_rate_list_most_recently_active_first():
    """A network that goes quiet keeps showing its flows, as iftop does, instead of an empty list."""
    tracker = FlowTracker(FlowSettings())
    tracker.observe(make_batch([pkt(1, 100, ts=10), pkt(2, 100, ts=30), pkt(3, 100, ts=20),
                                pkt(4, 100, ts=5, v6=True), pkt(5, 100, ts=40, v6=True)]))
    tracker.end_tick()
    tracker.observe(make_batch([pkt(1, 9, ts=50), pkt(3, 700, ts=60)]))
    tracker.end_tick()
    top = tracker.top(4)
    assert ips(top) == ["10.0.0.3", "10.0.0.1", "2001:db8::5", "10.0.0.2"]
    assert top.tick_bytes.tolist() == [700, 9, 0, 0]
    assert ips(tracker.top(1)) == ["10.0.0.3"]  # movers always come first
    assert tracker.top(10).count == 5


def test_a_tick_spanning_several_batches_sums_them():
    tracker = FlowTracker(FlowSettings())
    tracker.observe(make_batch([pkt(1, 100)]))
    tracker.end_tick()
    tracker.observe(make_batch([pkt(1, 10), pkt(1, 20)]))
    tracker.observe(make_batch([pkt(1, 30)]))
    tracker.end_tick()
    top = tracker.top(1)
    assert (top.tick_bytes.tolist(), top.tick_packets.tolist(), top.bytes_total.tolist()) == ([60], [3], [160])


def test_expired_flows_leave_the_rate_ranking_and_rows_do_not_inherit_ticks():
    tracker = FlowTracker(FlowSettings(timeout_s=1))
    tracker.observe(make_batch([pkt(1, 100, ts=0)]))
    tracker.end_tick()
    tracker.observe(make_batch([pkt(2, 5, ts=3_000_000)]))  # the pass after it expires flow 1
    tracker.observe(make_batch([pkt(3, 7, ts=3_100_000)]))  # reuses flow 1's row
    assert ips(tracker.top(10)) == ["10.0.0.3", "10.0.0.2"]  # only quiet flows, latest first
    assert tracker.top(10).tick_bytes.tolist() == [0, 0]
    assert tracker.lookup(("tcp", "10.0.0.3", 1000, "10.0.1.1", 80)).tick_bytes.tolist() == [0]
    tracker.end_tick()
    assert dict(zip(ips(tracker.top(10)), tracker.top(10).tick_bytes.tolist(), strict=True)) == {
        "10.0.0.3": 7, "10.0.0.2": 5}


def test_ties_go_to_the_older_flow_then_the_smaller_key():
    tracker = FlowTracker(FlowSettings())
    tracker.observe(make_batch([pkt(9, 50, ts=1), pkt(5, 50, ts=2), pkt(7, 50, ts=2), pkt(3, 50, ts=3),
                                pkt(1, 10, ts=0), pkt(2, 50, ts=2, v6=True)]))
    tracker.end_tick()
    expected = ["10.0.0.9", "10.0.0.5", "10.0.0.7", "2001:db8::2", "10.0.0.3", "10.0.0.1"]
    for by in ("rate", "bytes"):
        assert ips(tracker.top(10, by=by)) == expected, by
    # One packet each: all tie on packets, so age and then the key decide.
    assert ips(tracker.top(10, by="packets")) == [expected[-1], *expected[:-1]]
    for n in range(1, 7):
        assert ips(tracker.top(n, by="bytes")) == expected[:n]
    assert ips(tracker.snapshot()) == expected
    assert ips(tracker.top(3, by="age")) == ["10.0.0.1", "10.0.0.9", "10.0.0.5"]


def test_top_by_packets_and_age():
    tracker = FlowTracker(FlowSettings())
    tracker.observe(make_batch([pkt(1, 1000, ts=5), pkt(2, 10, ts=3), pkt(2, 10, ts=4), pkt(3, 1, ts=9)]))
    assert ips(tracker.top(2, by="packets")) == ["10.0.0.2", "10.0.0.1"]
    assert ips(tracker.top(2, by="age")) == ["10.0.0.2", "10.0.0.1"]
    assert ips(tracker.top(0, by="bytes")) == []
    with pytest.raises(ValueError, match="unknown ranking"):
        tracker.top(3, by="loudness")


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 40), st.integers(0, 3), st.integers(0, 5), st.booleans()),
                min_size=1, max_size=80), st.integers(0, 12), st.sampled_from(["rate", "bytes", "packets", "age"]))
def test_top_is_the_head_of_a_full_sort(packets, n, by):
    """top(n) equals sorting every flow by (metric, first_us, key) and cutting at n."""
    tracker = FlowTracker(FlowSettings(timeout_s=0, max_flows=0))
    tracker.observe(make_batch([pkt(i, size, ts=ts, v6=v6) for i, size, ts, v6 in packets]))
    tracker.end_tick()
    every = tracker.snapshot()
    metric = {"rate": -every.tick_bytes, "bytes": -every.bytes_total, "packets": -every.packets_total,
              "age": every.first_us}[by]
    rows = every.rows()
    ranked = sorted(range(every.count), key=lambda i: (int(metric[i]), int(every.first_us[i]),
                                                       int(every.ip_version[i]), int(every.a_hi[i]),
                                                       int(every.a_lo[i]), rows[i].a_port))
    assert [r.key for r in tracker.top(n, by=by).rows()] == [rows[i].key for i in ranked[:n]]


def _full_sort_head(tracker: FlowTracker, n: int, by: str) -> list:
    every = tracker.snapshot()
    metric = {"bytes": -every.bytes_total, "packets": -every.packets_total, "age": every.first_us}[by]
    rows = every.rows()
    ranked = sorted(range(every.count), key=lambda i: (int(metric[i]), int(every.first_us[i]),
                                                       int(every.ip_version[i]), int(every.a_hi[i]),
                                                       int(every.a_lo[i]), rows[i].a_port))
    return [rows[i].key for i in ranked[:n]]


@settings(max_examples=100, deadline=None)
@given(st.lists(st.lists(st.tuples(st.integers(1, 30), st.integers(0, 3), st.booleans()), max_size=30),
                min_size=2, max_size=6), st.integers(1, 8), st.sampled_from(["bytes", "packets", "age"]),
       st.integers(0, 12))
def test_a_top_after_the_last_one_is_still_the_head_of_a_full_sort(rounds, n, by, cap):
    """Each top starts from the last one's cut (flows only gain): with flows growing, timing out and
    evicted in between, it must still equal the full sort."""
    tracker = FlowTracker(FlowSettings(timeout_s=2, max_flows=cap))
    for second, packets in enumerate(rounds):
        ts = second * 1_000_000
        tracker.observe(make_batch([pkt(i, size, ts=ts, v6=v6) for i, size, v6 in packets]))
        tracker.expire_idle(ts)
        tracker.end_tick()
        assert [r.key for r in tracker.top(n, by=by).rows()] == _full_sort_head(tracker, n, by)


def test_snapshot_is_sorted_by_bytes_descending():
    tracker = FlowTracker(FlowSettings())
    sizes = [30, 10, 50, 20, 40]
    tracker.observe(make_batch([pkt(i + 1, s, v6=i % 2 == 0) for i, s in enumerate(sizes)]))
    snap = tracker.snapshot()
    assert snap.bytes_total.tolist() == sorted(sizes, reverse=True)
    assert np.all(np.diff(snap.bytes_total) <= 0)


def test_empty_tracker_reads():
    tracker = FlowTracker(FlowSettings())
    tracker.end_tick()
    assert tracker.snapshot().count == 0 and tracker.top(5).count == 0 and tracker.top(5, by="age").count == 0
