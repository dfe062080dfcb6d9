from __future__ import annotations

from dataclasses import replace

from netscope.analysis.names import FlowNames
from netscope.ui.names import endpoint_names, host_name, searchable, server_side

from .fake_link import DNS, IPERF, IPV6, TLS


def test_server_side_is_the_side_that_accepted_else_the_lower_port():
    assert server_side(IPERF) == "b"  # A sent the SYN
    assert server_side(IPV6) == "a"  # B sent the SYN
    assert server_side(DNS) == "b"  # UDP: 53 < 35122
    assert server_side(replace(DNS, a_port=53, b_port=35122)) == "a"


def test_dns_names_win_and_the_server_falls_back_to_sni_then_host():
    assert endpoint_names(TLS, None) == (None, None)
    assert endpoint_names(TLS, FlowNames(sni="www.example.test", http_host="other")) == (None, "www.example.test")
    assert endpoint_names(TLS, FlowNames(http_host="example.test")) == (None, "example.test")
    assert endpoint_names(TLS, FlowNames(name_a="me", name_b="cdn.net", sni="www.example.test")) == ("me", "cdn.net")
    assert endpoint_names(IPV6, FlowNames(sni="v6.example.test")) == ("v6.example.test", None)


def test_searchable_names_are_lower_cased_and_skip_unknowns():
    assert searchable(None) == ()
    assert searchable(FlowNames(name_b="Example.ORG", dns_query="q.test")) == ("example.org", "q.test")


def test_a_host_header_loses_its_port_and_an_address_literal_is_no_name():
    assert host_name("example.test:8080") == "example.test"
    assert host_name("www.example.test") == "www.example.test"
    for literal in ("10.88.0.2:8080", "[fd00:88::2]:8080", "fd00::2", "10.0.0.1", "", None):
        assert host_name(literal) is None
    assert endpoint_names(TLS, FlowNames(http_host="[fd00:88::2]:8080")) == (None, None)
    assert endpoint_names(TLS, FlowNames(http_host="example.test:8080")) == (None, "example.test")
