"""The engine's filter (numpy over the flow table) against the screen's (Python per row) as the oracle,
and a filtered top N that reaches past the unfiltered one."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netscope.flow.query import FlowQuery, QueryError
from netscope.flow.tracker import FlowSettings, FlowTracker
from netscope.parse.columns import PROTO_TCP, PROTO_UDP
from netscope.ui.filters import parse_filter
from tests.flow.packets import Packet, make_batch

ADDRESSES = ["10.0.0.1", "10.0.0.77", "10.1.2.3", "192.168.1.5",
             "2001:db8::1", "2001:db8::2", "2001:db8:0:1::9", "fe80::1"]  # ::1 and ::2 differ in the low half only
PORTS = [22, 53, 80, 443, 5201, 8080, 40000]
TERMS = ["host:10.0.0.1", "host:10.0.0.0/24", "host:10.0.0.0/8", "host:0.0.0.0/0", "host:2001:db8::/32",
         "host:2001:db8::1", "host:2001:db8:0:1::/64", "host:fe80::/10", "host:::/0", "192.168.1.5",
         "port:53", "port:80-443", "port:5201", "22", "40000-65535", "proto:tcp", "udp",
         "state:estab", "state:syn", "state:closed", "state:unknown"]
FLAGS = [0x02, 0x12, 0x10, 0x11, 0x04, 0x18]


@st.composite
def traffic(draw) -> list[Packet]:
    packets = []
    for i in range(draw(st.integers(1, 40))):
        v6 = draw(st.booleans())
        pool = [a for a in ADDRESSES if (":" in a) == v6]
        src, dst = draw(st.sampled_from(pool)), draw(st.sampled_from(pool))
        proto = draw(st.sampled_from([PROTO_TCP, PROTO_UDP]))
        packets.append(Packet(src, draw(st.sampled_from(PORTS)), dst, draw(st.sampled_from(PORTS)), ts_us=i,
                              proto=proto, flags=draw(st.sampled_from(FLAGS)) if proto == PROTO_TCP else 0))
    return packets


def engine_and_screen(packets: list[Packet], text: str) -> tuple[list[bool], list[bool]]:
    tracker = FlowTracker(FlowSettings())
    tracker.observe(make_batch(packets))
    flows = tracker.snapshot()
    fields = {name: getattr(flows, name) for name in ("proto", "ip_version", "a_hi", "a_lo", "b_hi", "b_lo",
                                                      "a_port", "b_port", "tcp_state")}
    screen = parse_filter(text)
    return FlowQuery.parse(text).mask(fields).tolist(), [screen.matches(row) for row in flows.rows()]


@pytest.mark.parametrize("term", TERMS)
@settings(max_examples=15, deadline=None)
@given(packets=traffic(), negated=st.booleans())
def test_each_term_matches_as_on_the_screen(term: str, packets, negated: bool) -> None:
    engine, screen = engine_and_screen(packets, ("!" if negated else "") + term)
    assert engine == screen


@settings(max_examples=100, deadline=None)
@given(traffic(), st.lists(st.tuples(st.booleans(), st.sampled_from(TERMS)), min_size=2, max_size=4))
def test_terms_combine_as_on_the_screen(packets, terms) -> None:
    engine, screen = engine_and_screen(packets, " ".join(("!" if negated else "") + term for negated, term in terms))
    assert engine == screen


@settings(max_examples=60, deadline=None)
@given(traffic(), st.lists(st.tuples(st.booleans(), st.sampled_from(TERMS)), min_size=1, max_size=3))
def test_the_count_of_matches_is_what_the_screen_would_count_over_every_flow(packets, terms) -> None:
    text = " ".join(("!" if negated else "") + term for negated, term in terms)
    tracker = FlowTracker(FlowSettings())
    tracker.observe(make_batch(packets))
    assert tracker.count(FlowQuery.parse(text)) == sum(parse_filter(text).matches(row)
                                                       for row in tracker.snapshot().rows())


def test_terms_only_a_string_search_can_match_are_left_to_the_screen() -> None:
    assert FlowQuery.parse("host:db8 port:53 host:example").terms == FlowQuery.parse("port:53").terms
    assert FlowQuery.parse("host:db8 port:53").partial and not FlowQuery.parse("host:10.0.0.0/8 port:53").partial
    assert not FlowQuery.parse("host:example")
    with pytest.raises(QueryError, match="port:99999 is outside"):
        FlowQuery.parse("port:99999")


def test_a_filtered_top_n_is_the_top_n_of_the_matches() -> None:
    tracker = FlowTracker(FlowSettings())
    big = [Packet(f"10.0.0.{i}", 1000 + i, "10.9.9.9", 443, ts_us=i, wirelen=1500) for i in range(1, 31)]
    small = [Packet(f"10.0.1.{i}", 2000 + i, "10.9.9.9", 53, proto=PROTO_UDP, ts_us=100 + i, wirelen=60 + i)
             for i in range(1, 6)]
    tracker.observe(make_batch(big + small))
    tracker.end_tick()
    assert {row.b_port for row in tracker.top(10, by="bytes").rows()} == {443}  # the DNS flows rank last
    for by in ("rate", "bytes", "packets", "age"):
        rows = tracker.top(3, by=by, query=FlowQuery.parse("port:53")).rows()
        assert len(rows) == 3 and {row.b_port for row in rows} == {53}, by
    assert [r.a_ip for r in tracker.top(3, by="bytes", query=FlowQuery.parse("udp")).rows()] == [
        "10.0.1.5", "10.0.1.4", "10.0.1.3"]
    assert tracker.top(10, query=FlowQuery.parse("!host:10.0.0.0/16")).count == 0
    for by in ("rate", "bytes", "age"):  # fewer matches than the list holds: all of them, in order
        rows = tracker.top(10, by=by, query=FlowQuery.parse("udp")).rows()
        expected = [f"10.0.1.{i}" for i in (range(5, 0, -1) if by != "age" else range(1, 6))]
        assert [r.a_ip for r in rows] == expected, by
