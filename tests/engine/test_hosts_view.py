"""The Hosts view through the runner: one process and a pipeline's merged shards alike."""

from __future__ import annotations

from pathlib import Path

import pytest

from netscope.engine.messages import SetFilter, SetHostView
from netscope.engine.session import close_run
from netscope.engine.snapshot import TickSnapshot
from tests.engine.test_runner import make_runner
from tests.pipeline import shard_captures

# tshark -r netscope/data/sample.pcap -q -z endpoints,ip,"tcp or udp" -z endpoints,ipv6,"tcp or udp":
# packets, bytes, tx packets, tx bytes, rx packets, rx bytes
TSHARK_ENDPOINTS = {
    "10.88.0.1": (2886, 1455830, 1637, 1292065, 1249, 163765),
    "10.88.0.2": (2886, 1455830, 1249, 163765, 1637, 1292065),
    "fd00:88::1": (480, 71640, 244, 24544, 236, 47096),
    "fd00:88::2": (480, 71640, 236, 47096, 244, 24544),
}


def last_tick(sample: Path, commands: list, workers: int) -> TickSnapshot:
    published: list = []
    runner = make_runner(sample, 0.0, commands, published, workers=workers)
    try:
        runner.run()
    finally:
        close_run(runner.engine, runner.outputs, runner.source)
    return [m for m in published if isinstance(m, TickSnapshot)][-1]


@pytest.mark.parametrize("workers", [0, 2])
def test_hosts_count_what_tshark_s_endpoints_count(sample_pcap: Path, workers: int) -> None:
    snapshot = last_tick(sample_pcap, [SetHostView("bytes")], workers)
    assert snapshot.hosts_by == "bytes" and snapshot.host_count == 4
    assert [row.address for row in snapshot.top_hosts] == list(TSHARK_ENDPOINTS)  # equal bytes: by address
    assert {row.address: (row.packets_total, row.bytes_total, row.tx_packets, row.tx_bytes, row.rx_packets,
                          row.rx_bytes) for row in snapshot.top_hosts} == TSHARK_ENDPOINTS
    flows_of = {row.address: row.flows for row in snapshot.top_hosts}
    assert flows_of["10.88.0.1"] + flows_of["fd00:88::1"] == 165  # every flow has one of them at an end


@pytest.mark.parametrize("workers", [0, 2])
def test_hosts_sum_only_the_flows_the_filter_matches(sample_pcap: Path, workers: int) -> None:
    every = last_tick(sample_pcap, [SetFilter("port:8080")], workers)
    snapshot = last_tick(sample_pcap, [SetFilter("port:8080"), SetHostView("flows")], workers)
    http = {row.address: row.flows for row in snapshot.top_hosts}
    assert set(http) == {"10.88.0.1", "10.88.0.2", "fd00:88::1", "fd00:88::2"}
    assert http["10.88.0.1"] + http["fd00:88::1"] == every.matching_flows
    ipv4 = next(row for row in snapshot.top_hosts if row.address == "10.88.0.1")
    assert ipv4.bytes_total < TSHARK_ENDPOINTS["10.88.0.1"][1]  # without its iperf3 flows


def test_the_view_turned_off_costs_nothing_and_reports_nothing(sample_pcap: Path) -> None:
    snapshot = last_tick(sample_pcap, [SetHostView("rate"), SetHostView(None)], 0)
    assert snapshot.hosts_by is None and snapshot.top_hosts == () and snapshot.host_count == 0


@pytest.mark.parametrize("workers", [0, 2])
def test_listed_hosts_carry_the_names_dns_gave_them_on_any_shard(tmp_path: Path, workers: int) -> None:
    capture = shard_captures.named_web_capture(tmp_path / "names.pcap")
    snapshot = last_tick(capture, [SetHostView("rate")], workers)
    assert "10.0.0.80" in {row.address for row in snapshot.top_hosts}
    assert snapshot.host_names == {"10.0.0.80": shard_captures.WEB_NAME}
