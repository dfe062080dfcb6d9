"""NameObserver on the bundled real capture, checked against tshark's own dissection of it."""

from __future__ import annotations

import ipaddress
import shutil
import subprocess
from importlib import resources
from pathlib import Path

import dpkt
import pytest

from netscope.analysis.names import NameObserver
from netscope.capture.batch import RawBatch
from netscope.flow.tracker import FlowSettings, FlowTracker
from netscope.parse.batch_parser import parse_batch

SAMPLE = Path(str(resources.files("netscope") / "data" / "sample.pcap"))
BATCH = 256

pytestmark = pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed")


def _canonical(proto: str, src: str, sport: str, dst: str, dport: str) -> tuple[str, str, int, str, int]:
    a, b = sorted([(ipaddress.ip_address(src), int(sport)), (ipaddress.ip_address(dst), int(dport))],
                  key=lambda end: (int(end[0]), end[1]))
    return (proto, str(a[0]), a[1], str(b[0]), b[1])


def _tshark_first(display_filter: str, proto: str, field: str) -> dict[tuple, str]:
    """Per canonical flow key, the first value of `field` tshark reports for packets matching the filter."""
    ports = f"{proto}.srcport", f"{proto}.dstport"
    out = subprocess.run(
        ["tshark", "-r", str(SAMPLE), "-Y", display_filter, "-T", "fields", "-E", "occurrence=f",
         "-e", "ip.src", "-e", "ipv6.src", "-e", ports[0], "-e", "ip.dst", "-e", "ipv6.dst", "-e", ports[1],
         "-e", field],
        check=True, capture_output=True, text=True).stdout
    first: dict[tuple, str] = {}
    for line in out.splitlines():
        src4, src6, sport, dst4, dst6, dport, value = line.split("\t")
        key = _canonical(proto, src4 or src6, sport, dst4 or dst6, dport)
        first.setdefault(key, value)
    return first


@pytest.fixture(scope="module")
def sample() -> RawBatch:
    with SAMPLE.open("rb") as fh:
        reader = dpkt.pcap.Reader(fh)
        frames, stamps = [], []
        for ts, frame in reader:
            frames.append(frame)
            stamps.append(round(ts * 1e6))
        return RawBatch.from_packets(frames, stamps, reader.datalink())


@pytest.fixture(scope="module")
def sample_batches(sample: RawBatch) -> list[RawBatch]:
    return [sample.slice(start, min(start + BATCH, sample.count)) for start in range(0, sample.count, BATCH)]


@pytest.fixture(scope="module")
def observer(sample_batches: list[RawBatch]) -> NameObserver:
    names = NameObserver()
    for raw in sample_batches:
        names.observe(raw, parse_batch(raw))
    return names


def test_http_hosts_match_tshark(observer: NameObserver) -> None:
    expected = _tshark_first("http.request", "tcp", "http.host")
    assert len(expected) >= 100
    assert {key: observer.flow_names(key).http_host for key in expected} == expected
    requests = subprocess.run(["tshark", "-r", str(SAMPLE), "-Y", "http.request"], check=True, capture_output=True,
                              text=True).stdout.splitlines()
    assert observer.stats.http_requests == len(requests)


def test_dns_questions_match_tshark(observer: NameObserver) -> None:
    expected = _tshark_first("dns or mdns", "udp", "dns.qry.name")
    assert expected
    assert {key: observer.flow_names(key).dns_query for key in expected} == expected


def test_budget_held_on_the_long_dns_flow(observer: NameObserver) -> None:
    # The sample's mDNS exchange is one flow of 120 packets: only its first 8 were decoded.
    assert observer.stats.dns_messages == observer.packet_budget
    assert observer.stats.over_budget >= 100


def test_one_batch_or_many_gives_the_same_names(sample: RawBatch, observer: NameObserver) -> None:
    single = NameObserver()
    single.observe(sample, parse_batch(sample))
    assert single.stats == observer.stats
    keys = list(_tshark_first("http.request", "tcp", "http.host"))
    assert single.names_for_flows(keys) == observer.names_for_flows(keys)


def test_a_whole_table_gets_the_names_each_flow_gets(sample_batches: list[RawBatch], observer: NameObserver) -> None:
    """table_names (exports: keys packed from columns) against flow_names (keys from text), IPv4 and IPv6."""
    tracker = FlowTracker(FlowSettings(timeout_s=0))
    for raw in sample_batches:
        tracker.observe(parse_batch(raw))
    flows = tracker.snapshot()
    rows = flows.rows()
    found = observer.table_names(flows, [r.a_ip for r in rows], [r.b_ip for r in rows])
    assert found == [observer.flow_names(row.key) for row in rows]
    assert {":" in row.a_ip for row, names in zip(rows, found, strict=True) if names is not None} == {False, True}
