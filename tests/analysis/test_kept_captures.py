"""Small captures of real tools (made as in test_real_captures.py), replayed without privileges."""

from pathlib import Path

import pytest

from netscope.analysis.anomaly import AnomalySettings
from netscope.flow.records import format_ip

from .captures import alerts_in, packets_of, parsed_batches
from .synthetic import SequentialOracle

DATA = Path(__file__).resolve().parent.parent / "data"
NMAP = DATA / "anomaly-nmap-syn-scan.pcap"  # nmap -sS -p 1-200 10.77.0.2 from 10.77.0.1
FLOOD = DATA / "anomaly-hping3-syn-flood.pcap"  # 60 hping3 -S -c 5 -a 10.77.0.x to 10.77.0.2:80
UDP_SERVER = DATA / "anomaly-udp-server-12-clients.pcap"  # a UDP service on 7777 answering 12 clients
BUNDLED = Path(__file__).resolve().parents[2] / "netscope" / "data" / "sample.pcap"  # HTTP, iperf3, DNS, ping


def test_nmap_scan():
    alerts = alerts_in(NMAP)
    assert [(a.kind, a.description, a.hosts) for a in alerts] == [
        ("port_scan", "Port scan suspected: 25 ports, 1 hosts from 10.77.0.1", ("10.77.0.1",))]


def test_hping3_flood():
    alerts = alerts_in(FLOOD)
    assert [(a.kind, a.description, a.hosts) for a in alerts] == [
        ("syn_flood", "SYN flood suspected: 235 syns, 50 sources to 10.77.0.2:80", ("10.77.0.2:80",))]


@pytest.mark.parametrize("capture", [UDP_SERVER, BUNDLED], ids=["udp-server", "sample"])
def test_normal_traffic_raises_nothing(capture):
    assert alerts_in(capture) == []


def test_the_udp_server_capture_is_what_the_reference_reports():
    # One UDP source (the server's port 7777) sending to 12 hosts within 10 s.
    hosts = {format_ip(4, 0, int(b.dst_lo[i])) for b in parsed_batches(UDP_SERVER) for i in range(b.count)
             if b.ip_proto[i] == 17 and b.src_port[i] == 7777}
    assert len(hosts) == 12


@pytest.mark.parametrize("capture", [NMAP, FLOOD, UDP_SERVER, BUNDLED], ids=["nmap", "flood", "udp", "sample"])
def test_real_packets_match_the_sequential_rules_at_any_batch_size(capture):
    expected = [(a[0], a[1], a[2], a[3]) for a in SequentialOracle(AnomalySettings()).observe(
        packets_of(parsed_batches(capture)))]
    for batch_packets in (1, 7, 256, 100_000):
        got = [(a.ts, a.kind, a.description, a.hosts) for a in alerts_in(capture, batch_packets=batch_packets)]
        assert got == expected
