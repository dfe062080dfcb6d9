"""Canonical keys (reference §3.2): endpoint order, direction, packing."""

from __future__ import annotations

import ipaddress

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from netscope.flow.keys import V4, V6, a_to_b, as_records, hash_keys, key_from_text, same_keys, words_of
from netscope.flow.tracker import FlowSettings, FlowTracker
from tests.flow.packets import Packet, canonical, make_batch


def direction(src: str, sport: int, dst: str, dport: int) -> bool:
    b = make_batch([Packet(src, sport, dst, dport)])
    return bool(a_to_b(b.src_hi, b.src_lo, b.src_port, b.dst_hi, b.dst_lo, b.dst_port)[0])


def test_smaller_address_is_a():
    assert direction("10.0.0.1", 9999, "10.0.0.2", 1)
    assert not direction("10.0.0.2", 1, "10.0.0.1", 9999)


def test_equal_addresses_are_ordered_by_port():
    assert direction("10.0.0.1", 80, "10.0.0.1", 81)
    assert not direction("10.0.0.1", 81, "10.0.0.1", 80)


def test_equal_endpoints_go_a_to_b():
    assert direction("::1", 5, "::1", 5)


def test_ipv6_compares_both_halves():
    assert direction("2001:db8::ffff", 1, "2001:db9::", 1)
    assert not direction("2001:db8::1:0", 1, "2001:db8::ffff", 1)


def test_both_directions_share_one_flow():
    tracker = FlowTracker(FlowSettings())
    tracker.observe(make_batch([Packet("10.0.0.2", 80, "10.0.0.1", 5000, wirelen=100),
                                Packet("10.0.0.1", 5000, "10.0.0.2", 80, wirelen=40)]))
    (row,) = tracker.snapshot().rows()
    assert (row.a_ip, row.a_port, row.b_ip, row.b_port) == ("10.0.0.1", 5000, "10.0.0.2", 80)
    assert (row.packets_ab, row.bytes_ab, row.packets_ba, row.bytes_ba) == (1, 40, 1, 100)


def test_ipv4_endpoints_sort_before_ipv6_in_exports():
    tracker = FlowTracker(FlowSettings())
    tracker.observe(make_batch([Packet("::1", 1, "::2", 2), Packet("255.255.255.255", 1, "255.255.255.254", 2)]))
    assert [r.a_ip for r in tracker.snapshot().rows()] == ["255.255.255.254", "::1"]


addresses = st.one_of(
    st.integers(0, 2**32 - 1).map(lambda v: str(ipaddress.IPv4Address(v))),
    st.integers(0, 2**128 - 1).map(lambda v: str(ipaddress.IPv6Address(v))),
)
ports = st.integers(0, 65535)


@given(st.data())
def test_key_round_trip_and_word_order(data):
    version = data.draw(st.sampled_from([4, 6]))
    layout = V4 if version == 4 else V6
    limit = 2**32 - 1 if version == 4 else 2**128 - 1
    flows = data.draw(st.lists(st.tuples(st.integers(0, limit), ports, st.integers(0, limit), ports,
                                         st.sampled_from([6, 17])), min_size=1, max_size=20))

    def halves(values):
        return (np.array([v >> 64 for v in values], np.uint64), np.array([v & (2**64 - 1) for v in values], np.uint64))

    a_hi, a_lo = halves([f[0] for f in flows])
    b_hi, b_lo = halves([f[2] for f in flows])
    proto = np.array([f[4] for f in flows], np.uint8)
    a_port, b_port = (np.array([f[i] for f in flows], np.uint16) for i in (1, 3))
    keys = layout.pack(a_hi, a_lo, b_hi, b_lo, proto, a_port, b_port)
    fields = layout.unpack(keys)
    for name, expected in dict(a_hi=a_hi, a_lo=a_lo, b_hi=b_hi, b_lo=b_lo, proto=proto,
                               a_port=a_port, b_port=b_port).items():
        assert np.array_equal(fields[name], expected), name
    # Words compare like (a address, b address, proto, a port, b port): the merge in top() relies on it.
    by_words = sorted(range(len(flows)), key=lambda i: (tuple(int(w) for w in keys[i]), i))
    by_fields = sorted(range(len(flows)), key=lambda i: (flows[i][0], flows[i][2], flows[i][4], flows[i][1],
                                                         flows[i][3], i))
    assert by_words == by_fields
    records = as_records(keys)
    assert np.array_equal(words_of(records), keys)
    assert same_keys(records, records).all()
    assert np.array_equal(hash_keys(keys), hash_keys(keys.copy()))


@given(addresses, ports, addresses, ports, st.sampled_from(["tcp", "udp"]))
def test_key_from_text_matches_the_packet_path(src, sport, dst, dport, proto):
    parsed = key_from_text(proto, src, sport, dst, dport)
    if ipaddress.ip_address(src).version != ipaddress.ip_address(dst).version:
        assert parsed is None
        return
    tracker = FlowTracker(FlowSettings())
    tracker.observe(make_batch([Packet(src, sport, dst, dport, proto=6 if proto == "tcp" else 17)]))
    key, _ = canonical(Packet(src, sport, dst, dport, proto=6 if proto == "tcp" else 17))
    assert tracker.snapshot().rows()[0].key == key
    assert tracker.lookup((proto, dst, dport, src, sport)).rows()[0].key == key


def test_lookup_of_unknown_or_malformed_keys():
    tracker = FlowTracker(FlowSettings())
    tracker.observe(make_batch([Packet("10.0.0.1", 1, "10.0.0.2", 2)]))
    assert tracker.lookup(("udp", "10.0.0.1", 1, "10.0.0.2", 2)) is None
    assert tracker.lookup(("tcp", "not-an-ip", 1, "10.0.0.2", 2)) is None
    assert tracker.lookup(("sctp", "10.0.0.1", 1, "10.0.0.2", 2)) is None
