"""The bundled capture through pcapy next_batch -> parse_batch -> FlowTracker, against tshark.

tests/data/sample.flows.json is tshark's conversation table of netscope/data/sample.pcap,
listed by bytes descending with ties by first packet time, which is also our export order.
The capture is not truncated (caplen == wire length), so RawBatch gets caplen as wirelen.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pcapy
import pytest

from netscope.capture.batch import RawBatch
from netscope.flow.tracker import FlowSettings, FlowTracker
from netscope.parse.batch_parser import parse_batch

ROOT = Path(__file__).resolve().parents[2]
CAPTURE = ROOT / "netscope" / "data" / "sample.pcap"
EXPECTED = json.loads((ROOT / "tests" / "data" / "sample.flows.json").read_text())


def raw_batches(batch_packets: int):
    reader = pcapy.open_offline(str(CAPTURE))
    while True:
        packet_bytes, packed_meta = reader.next_batch(batch_packets)
        if not packed_meta:
            return
        sec, usec, offset, caplen = np.frombuffer(packed_meta, np.uint32).reshape(-1, 4).astype(np.int64).T
        yield RawBatch(np.frombuffer(packet_bytes, np.uint8), offset, caplen, caplen, sec * 1_000_000 + usec,
                       reader.datalink())


def track(batch_packets: int) -> FlowTracker:
    tracker = FlowTracker(FlowSettings())
    for raw in raw_batches(batch_packets):
        tracker.observe(parse_batch(raw))
    return tracker


@pytest.mark.parametrize("batch_packets", [32768, 97, 5])
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
