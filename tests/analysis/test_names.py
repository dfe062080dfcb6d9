"""NameObserver on hand-built batches: what is selected, what is learned, the budget and the bounds."""

from __future__ import annotations

import struct

import dpkt
import pytest

from netscope.analysis import names as names_module
from netscope.analysis.name_candidates import (
    FIRST_PACKETS,
    KIND_DNS_TCP,
    KIND_DNS_UDP,
    KIND_HTTP,
    KIND_TLS,
    select_candidates,
)
from netscope.analysis.names import NAME_FIELDS, FlowNames, NameObserver
from netscope.export.flows import flow_records
from netscope.flow.tracker import FlowSettings, FlowTracker
from netscope.parse.batch_parser import parse_batch
from tests.analysis.name_packets import (
    a_record,
    batch,
    client_hello,
    cname_record,
    dns_query,
    dns_response,
    sni_extension,
    tcp,
    udp,
)

CLIENT, RESOLVER, SERVER = "10.0.0.5", "10.0.0.53", "93.184.216.34"
HTTP_GET = b"GET / HTTP/1.1\r\nHost: example.org\r\n\r\n"


def observe(observer: NameObserver, frames: list[bytes]) -> None:
    raw = batch(frames)
    observer.observe(raw, parse_batch(raw))


def test_candidate_selection() -> None:
    frames = [
        udp(CLIENT, 40000, RESOLVER, 53, dns_query("example.com")),
        udp(CLIENT, 5353, "224.0.0.251", 5353, dns_query("printer.local")),
        tcp(CLIENT, 40001, RESOLVER, 53, struct.pack("!H", 29) + dns_query("example.com")),
        tcp(CLIENT, 40002, SERVER, 443, client_hello(sni_extension(b"example.com"))),
        tcp(CLIENT, 40003, SERVER, 80, HTTP_GET),
        tcp(SERVER, 80, CLIENT, 40003, b"HTTP/1.1 200 OK\r\n\r\n"),  # a response: nothing to learn
        tcp(SERVER, 443, CLIENT, 40002, b"\x17\x03\x03\x00\x10" + b"\x00" * 16),  # application data
        tcp(SERVER, 443, CLIENT, 40002, b"\x16\x03\x03\x00\x04\x02\x00\x00\x00"),  # ServerHello
        tcp(CLIENT, 40002, SERVER, 443),  # no payload
        udp(CLIENT, 40004, RESOLVER, 53, b"\x00" * 11),  # shorter than a DNS header
        udp(CLIENT, 40005, SERVER, 9999, HTTP_GET),  # HTTP words over UDP are not HTTP
        tcp(CLIENT, 40006, SERVER, 443, client_hello(sni_extension(b"example.com"))[:-1]),  # goes on later
    ]
    raw = batch(frames)
    found = select_candidates(raw, parse_batch(raw))
    assert found.index.tolist() == [0, 1, 2, 3, 4, 11]
    assert found.kind.tolist() == [KIND_DNS_UDP, KIND_DNS_UDP, KIND_DNS_TCP, KIND_TLS, KIND_HTTP, KIND_TLS]
    assert raw.data[found.start[4]:found.start[4] + found.length[4]].tobytes() == HTTP_GET


def test_passive_dns_follows_cnames_back_to_the_question() -> None:
    observer = NameObserver()
    response = dns_response("www.example.com", [cname_record("www.example.com", "edge.cdn.example.net"),
                                                cname_record("edge.cdn.example.net", "e1.cdn.example.net"),
                                                a_record("e1.cdn.example.net", "192.0.2.10"),
                                                a_record("e1.cdn.example.net", "2001:db8::10")])
    observe(observer, [udp(CLIENT, 40000, RESOLVER, 53, dns_query("www.example.com")),
                       udp(RESOLVER, 53, CLIENT, 40000, response)])
    assert observer.name_for("192.0.2.10") == "www.example.com"
    assert observer.name_for("2001:db8::10") == "www.example.com"
    assert observer.name_for("192.0.2.11") is None
    assert observer.flow_names(("udp", CLIENT, 40000, RESOLVER, 53)).dns_query == "www.example.com"


def test_cname_loops_are_bounded() -> None:
    observer = NameObserver()
    response = dns_response("a.example", [cname_record("a.example", "b.example"),
                                          cname_record("b.example", "a.example"),
                                          a_record("a.example", "192.0.2.1")])
    observe(observer, [udp(RESOLVER, 53, CLIENT, 40000, response)])
    assert observer.name_for("192.0.2.1") in ("a.example", "b.example")


def test_failed_answers_and_queries_teach_no_addresses() -> None:
    observer = NameObserver()
    observe(observer, [udp(RESOLVER, 53, CLIENT, 40000, dns_response("x.example", [a_record("x.example", "192.0.2.1")],
                                                                      rcode=2)),
                       udp(CLIENT, 40001, RESOLVER, 53, dns_query("y.example"))])
    assert observer.known_names == 0


def test_mdns_answers_with_cache_flush_and_additionals() -> None:
    observer = NameObserver()
    answer = a_record("printer.local", "192.168.1.20")
    answer.cls = 0x8001  # IN with the cache-flush bit
    extra = a_record("scanner.local", "fe80::20")
    message = dpkt.dns.DNS(id=0, op=dpkt.dns.DNS_QR | dpkt.dns.DNS_AA, qd=[], an=[answer], ar=[extra])
    observe(observer, [udp("192.168.1.20", 5353, "224.0.0.251", 5353, bytes(message))])
    assert observer.name_for("192.168.1.20") == "printer.local"
    assert observer.name_for("fe80::20") == "scanner.local"


def test_dns_over_tcp() -> None:
    observer = NameObserver()
    message = dns_response("tcp.example", [a_record("tcp.example", "198.51.100.7")])
    observe(observer, [tcp(RESOLVER, 53, CLIENT, 40000, struct.pack("!H", len(message)) + message),
                       tcp(RESOLVER, 53, CLIENT, 40001, struct.pack("!H", len(message) + 5) + message)])
    assert observer.name_for("198.51.100.7") == "tcp.example"
    assert observer.stats.dns_messages == 1  # the second claims more bytes than its segment holds


def test_sni_and_host_per_flow_in_either_direction_over_ipv4_and_ipv6() -> None:
    observer = NameObserver()
    observe(observer, [
        tcp(CLIENT, 40002, SERVER, 443, client_hello(sni_extension(b"secure.example.com"))),
        tcp("2001:db8::5", 40003, "2001:db8::80", 80, b"GET / HTTP/1.1\r\nHost: [2001:db8::80]\r\n\r\n"),
    ])
    assert observer.flow_names(("tcp", CLIENT, 40002, SERVER, 443)) == FlowNames(sni="secure.example.com")
    v6 = observer.flow_names(("tcp", "2001:db8::5", 40003, "2001:db8::80", 80))
    assert v6.http_host == "[2001:db8::80]"
    # The canonical key puts the smaller endpoint first, whichever side sent the packet.
    observe(observer, [tcp(SERVER, 8443, CLIENT, 40009, client_hello(sni_extension(b"reverse.example")))])
    assert observer.flow_names(("tcp", CLIENT, 40009, SERVER, 8443)).sni == "reverse.example"


def test_flow_names_combine_passive_dns_and_flow_fields() -> None:
    observer = NameObserver()
    observe(observer, [udp(RESOLVER, 53, CLIENT, 40000, dns_response("example.com", [a_record("example.com", SERVER)])),
                       tcp(CLIENT, 40002, SERVER, 443, client_hello(sni_extension(b"example.com")))])
    key = ("tcp", CLIENT, 40002, SERVER, 443)
    assert observer.flow_names(key) == FlowNames(name_a=None, name_b="example.com", sni="example.com")
    assert observer.flow_names(("tcp", CLIENT, 1, "192.0.2.99", 2)) is None
    # Keys that cannot name a flow still get what passive DNS knows of their addresses.
    assert observer.flow_names(("tcp", "not an address", 40002, SERVER, 443)) == FlowNames(name_b="example.com")
    assert observer.flow_names(("sctp", CLIENT, 40002, SERVER, 443)) == FlowNames(name_b="example.com")
    assert observer.flow_names(("tcp", CLIENT, 40002, "2001:db8::1", 443)) is None
    assert observer.names_for_flows([key, ("udp", "192.0.2.1", 1, "192.0.2.2", 2)]) == {
        key: FlowNames(name_b="example.com", sni="example.com")}


def test_first_http_host_is_kept() -> None:
    observer = NameObserver()
    observe(observer, [tcp(CLIENT, 40003, SERVER, 80, b"GET / HTTP/1.1\r\nHost: first.example\r\n\r\n"),
                       tcp(CLIENT, 40003, SERVER, 80, b"GET / HTTP/1.1\r\nHost: second.example\r\n\r\n")])
    assert observer.flow_names(("tcp", CLIENT, 40003, SERVER, 80)).http_host == "first.example"


@pytest.mark.parametrize("batch_size", [1, 7, 100])
def test_budget_stops_decoding_a_long_flow(monkeypatch: pytest.MonkeyPatch, batch_size: int) -> None:
    calls = []
    real = names_module.parse_http_request
    monkeypatch.setattr(names_module, "parse_http_request", lambda payload: calls.append(1) or real(payload))
    observer = NameObserver(packet_budget=8)
    long_flow = [tcp(CLIENT, 40003, SERVER, 80, HTTP_GET, seq=i * len(HTTP_GET)) for i in range(100)]
    other_flow = [tcp(CLIENT, 40004, SERVER, 80, HTTP_GET)]
    frames = long_flow + other_flow
    for start in range(0, len(frames), batch_size):
        observe(observer, frames[start:start + batch_size])
    assert len(calls) == 8 + 1
    assert observer.stats.decoded == 9
    assert observer.stats.over_budget == 92
    assert observer.flow_names(("tcp", CLIENT, 40004, SERVER, 80)).http_host == "example.org"


@pytest.mark.parametrize("batch_size", [1, 7])
def test_only_a_flows_first_packets_are_looked_at(batch_size: int) -> None:
    """As the engine feeds it: the tracker says how many packets each packet's flow already had."""
    tracker, observer = FlowTracker(FlowSettings(timeout_s=0)), NameObserver()
    hello = client_hello(sni_extension(b"late.example"))
    late = [tcp(CLIENT, 40010, SERVER, 443, b"x" * 10, seq=1 + 10 * i) for i in range(FIRST_PACKETS)]
    late.append(tcp(CLIENT, 40010, SERVER, 443, hello, seq=1 + 10 * FIRST_PACKETS))
    early = [tcp(CLIENT, 40011, SERVER, 443, b"x" * 10, seq=1 + 10 * i) for i in range(FIRST_PACKETS - 1)]
    early.append(tcp(CLIENT, 40011, SERVER, 443, client_hello(sni_extension(b"early.example")),
                     seq=1 + 10 * (FIRST_PACKETS - 1)))
    frames = [frame for pair in zip(late, early, strict=False) for frame in pair] + late[len(early):]
    for start in range(0, len(frames), batch_size):
        raw = batch(frames[start:start + batch_size], first_us=1_700_000_000_000_000 + start)
        parsed = parse_batch(raw)
        tracker.observe(parsed)
        observer.observe(raw, parsed, tracker.last_batch.packets_before)
    assert observer.flow_names(("tcp", CLIENT, 40011, SERVER, 443)).sni == "early.example"
    assert observer.flow_names(("tcp", CLIENT, 40010, SERVER, 443)) is None


def test_memory_is_bounded() -> None:
    observer = NameObserver(max_names=50, max_flows=40)
    frames = []
    for i in range(300):
        address = f"198.51.{i // 256}.{i % 256}"
        frames.append(udp(RESOLVER, 53, CLIENT, 20000 + i, dns_response(f"h{i}.example", [a_record(f"h{i}.example",
                                                                                                     address)])))
    observe(observer, frames)
    assert observer.known_names == 50
    assert observer.known_flows == 40
    assert observer.name_for("198.51.1.43") == "h299.example"  # the newest are kept
    assert observer.name_for("198.51.0.0") is None


def test_truncated_capture_does_not_read_the_next_packet() -> None:
    hello = tcp(CLIENT, 40002, SERVER, 443, client_hello(sni_extension(b"example.com")))
    raw = batch([hello[:80], tcp(CLIENT, 40003, SERVER, 80, HTTP_GET)])
    observer = NameObserver()
    observer.observe(raw, parse_batch(raw))
    assert observer.flow_names(("tcp", CLIENT, 40002, SERVER, 443)) is None
    assert observer.stats.client_hellos == 0


def test_empty_and_non_ip_batches() -> None:
    observer = NameObserver()
    observe(observer, [])
    arp = bytes(dpkt.ethernet.Ethernet(type=dpkt.ethernet.ETH_TYPE_ARP, data=b"\x00" * 28))
    observe(observer, [arp])
    assert observer.stats.candidates == 0


def test_exported_flows_carry_their_names() -> None:
    observer, tracker = NameObserver(), FlowTracker(FlowSettings(timeout_s=0))
    frames = [udp(RESOLVER, 53, CLIENT, 40000, dns_response("example.com", [a_record("example.com", SERVER)])),
              tcp(CLIENT, 40002, SERVER, 443, client_hello(sni_extension(b"example.com"))),
              udp(CLIENT, 9, "192.0.2.1", 9, b"x")]
    raw = batch(frames)
    parsed = parse_batch(raw)
    tracker.observe(parsed)
    observer.observe(raw, parsed, tracker.last_batch.packets_before)
    flows = tracker.snapshot()
    rows = flows.rows()
    assert observer.table_names(flows, [r.a_ip for r in rows], [r.b_ip for r in rows]) == [
        observer.flow_names(row.key) for row in rows]  # keys packed from columns, as from text
    records = {r["endpoint_b"]["port"]: r for r in flow_records(flows, observer)}
    # endpoint A is the client (the smaller address), B the server the DNS answer named
    assert [records[443][field] for field in NAME_FIELDS] == [None, "example.com", "example.com", None]
    assert [records[9][field] for field in NAME_FIELDS] == [None] * 4
