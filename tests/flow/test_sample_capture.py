"""The bundled capture through the real path (FileSource -> parse_batch -> FlowTracker) vs tshark.

tests/data/sample.flows.json is tshark's conversation table of netscope/data/sample.pcap,
listed by bytes descending with ties by first packet time, which is also our export order.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from netscope.capture.offline import FileSource
from netscope.flow.tracker import FlowSettings, FlowTracker
from netscope.parse.batch_parser import parse_batch

ROOT = Path(__file__).resolve().parents[2]
CAPTURE = ROOT / "netscope" / "data" / "sample.pcap"
EXPECTED = json.loads((ROOT / "tests" / "data" / "sample.flows.json").read_text())


def track(batch_packets: int) -> FlowTracker:
    tracker = FlowTracker(FlowSettings())
    with FileSource(CAPTURE, batch_packets=batch_packets) as source:
        for raw in source.batches():
            tracker.observe(parse_batch(raw))
    return tracker


@pytest.mark.parametrize("batch_packets", [32768, 97, 1])
def test_flow_table_matches_tshark_exactly(batch_packets):
    tracker = track(batch_packets)
    got = [{"proto": r.proto, "a": [r.a_ip, r.a_port], "b": [r.b_ip, r.b_port], "pkts_ab": r.packets_ab,
            "pkts_ba": r.packets_ba, "bytes_ab": r.bytes_ab, "bytes_ba": r.bytes_ba,
            "first": r.first_seen, "last": r.last_seen} for r in tracker.snapshot().rows()]
    assert got == EXPECTED
    assert tracker.flows_seen == len(EXPECTED)


def test_every_sample_connection_closes_from_its_client():
    rows = track(32768).snapshot().rows()
    assert {(r.proto, r.tcp_state, r.client) for r in rows} == {("tcp", "closed", "a_to_b"), ("udp", None, None)}
