from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from netscope.analysis.names import FlowNames
from netscope.flow.query import FlowQuery
from netscope.ui.filters import FilterError, parse_filter

from .fake_link import DNS, IPERF, IPV6, ROWS, TLS, UDP_BULK


def shown(text: str) -> set:
    display_filter = parse_filter(text)
    return {row.key for row in ROWS if display_filter.matches(row)}


def test_empty_filter_matches_everything():
    assert not parse_filter("  ")
    assert shown("") == {row.key for row in ROWS}


def test_host_exact_network_and_part():
    assert shown("host:192.168.100.200") == {TLS.key}
    assert shown("host:203.0.113.0/24") == {TLS.key}
    assert shown("host:fd00:1234:5678:9abc::2") == {IPV6.key}
    assert shown("host:fd00::/8") == {IPV6.key}
    assert IPERF.key in shown("host:10.88")


def test_port_and_range_match_either_endpoint():
    assert shown("port:5201") == {IPERF.key, UDP_BULK.key}
    assert shown("port:50000-51000") == {IPV6.key, TLS.key}


def test_proto_state_negation_and_conjunction():
    assert shown("proto:udp") == {DNS.key, UDP_BULK.key}
    assert shown("state:syn") == {IPV6.key}
    assert shown("proto:udp !port:53") == {UDP_BULK.key}


def test_bare_words_are_read_by_shape():
    assert shown("53") == {DNS.key}
    assert shown("udp 5201") == {UDP_BULK.key}
    assert shown("192.168.100.200") == {TLS.key}
    assert shown("fd00::1") == set()  # a full address must match exactly
    assert shown("fd00:1234:5678:9abc::1") == {IPV6.key}


@pytest.mark.parametrize("text, message", [
    ("colour:red", "unknown filter key"),
    ("port:http", "not a port"),
    ("port:70000", "outside"),
    ("proto:icmp", "not one of"),
    ("host:10.0.0.0/33", "not a network"),
    ("port:", "needs a value"),
])
def test_errors_name_the_term(text, message):
    with pytest.raises(FilterError, match=message):
        parse_filter(text)


@given(st.text(max_size=30))
def test_any_text_either_parses_or_raises_filter_error(text):
    try:
        display_filter = parse_filter(text)
    except FilterError:
        return
    for row in ROWS:
        display_filter.matches(row)


def test_host_part_matches_any_name_of_the_flow():
    names = {TLS.key: FlowNames(sni="www.Example.test"), DNS.key: FlowNames(name_b="ns.lab", dns_query="example.org")}
    display_filter = parse_filter("host:example")
    assert {row.key for row in ROWS if display_filter.matches(row, names.get(row.key))} == {TLS.key, DNS.key}
    assert not parse_filter("!host:example.test").matches(TLS, names[TLS.key])
    assert not parse_filter("host:203.0.113.250").matches(DNS, names[DNS.key])  # an exact address never matches names


def test_proc_matches_part_of_the_program_at_either_end_and_is_left_to_the_screen():
    owners = {TLS.key: ((41, "firefox-bin"), None), DNS.key: (None, (7, "dnsmasq"))}
    display_filter = parse_filter("proc:FireFox")
    assert {row.key for row in ROWS if display_filter.matches(row, None, owners.get(row.key))} == {TLS.key}
    assert {row.key for row in ROWS if parse_filter("!proc:dns").matches(row, None, owners.get(row.key))} == {
        row.key for row in ROWS} - {DNS.key}
    query = FlowQuery.parse("proc:firefox tcp")
    assert query.partial and [term.key for term in query.terms] == ["proto"]  # the engine knows no programs
