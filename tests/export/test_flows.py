"""Flow exports: the reference's JSON/CSV schema, nulls where nothing was measured, real CSV quoting."""

from __future__ import annotations

import csv
import dataclasses
import json
from pathlib import Path

import numpy as np

from netscope.export.flows import CSV_COLUMNS, write_csv, write_json
from netscope.flow.records import Client, FlowColumns, TcpState

JSON_KEYS = ["protocol", "endpoint_a", "endpoint_b", "first_seen", "last_seen", "duration_secs",
             "packets_a_to_b", "packets_b_to_a", "bytes_a_to_b", "bytes_b_to_a", "packets_total", "bytes_total",
             "avg_bps", "tcp_state", "client", "retransmissions", "out_of_order", "rtt_last_ms", "rtt_min_ms",
             "rtt_ewma_ms", "rtt_samples", "rtt_handshake_ms"]


def two_flows() -> FlowColumns:
    def col(values, dtype):
        return np.array(values, dtype=dtype)

    return FlowColumns(
        proto=col([6, 17], np.uint8), ip_version=col([4, 6], np.uint8),
        a_hi=col([0, 0xFD00008800000000], np.uint64), a_lo=col([0x0A580001, 1], np.uint64),
        b_hi=col([0, 0xFD00008800000000], np.uint64), b_lo=col([0x0A580002, 2], np.uint64),
        a_port=col([39246, 5353], np.uint16), b_port=col([5201, 53], np.uint16),
        first_us=col([1_000_000, 2_000_000], np.int64), last_us=col([3_500_000, 2_000_000], np.int64),
        packets_ab=col([10, 1], np.int64), packets_ba=col([5, 0], np.int64),
        bytes_ab=col([15000, 80], np.int64), bytes_ba=col([300, 0], np.int64),
        tcp_state=col([TcpState.ESTABLISHED, TcpState.NONE], np.uint8),
        client=col([Client.A_TO_B, Client.NONE], np.uint8),
        tick_packets=col([0, 0], np.int64), tick_bytes=col([0, 0], np.int64),
    )


def test_json_schema_and_values(tmp_path: Path) -> None:
    path = tmp_path / "flows.json"
    write_json(two_flows(), path)
    text = path.read_text()
    records = json.loads(text)
    assert text.startswith("[\n  {")  # 2-space pretty print, like the reference
    assert [list(r) for r in records] == [JSON_KEYS, JSON_KEYS]
    tcp, udp = records
    assert tcp["endpoint_a"] == {"ip": "10.88.0.1", "port": 39246}
    assert tcp["duration_secs"] == 2.5 and tcp["avg_bps"] == 15300 * 8 / 2.5
    assert (tcp["tcp_state"], tcp["client"], tcp["packets_total"]) == ("established", "a_to_b", 15)
    assert udp["endpoint_b"] == {"ip": "fd00:88::2", "port": 53}
    assert (udp["tcp_state"], udp["client"], udp["avg_bps"]) == (None, None, 0.0)
    assert all(tcp[k] is None for k in ("retransmissions", "rtt_last_ms", "rtt_samples"))


def test_csv_has_the_reference_23_columns_plus_handshake_rtt_and_nulls_as_empty(tmp_path: Path) -> None:
    path = tmp_path / "flows.csv"
    write_csv(two_flows(), path)
    rows = list(csv.reader(path.open()))
    assert rows[0] == CSV_COLUMNS and len(CSV_COLUMNS) == 24 and CSV_COLUMNS[-1] == "rtt_handshake_ms"
    tcp = dict(zip(rows[0], rows[1], strict=True))
    udp = dict(zip(rows[0], rows[2], strict=True))
    assert tcp["first_seen"] == "1.000000" and tcp["duration_secs"] == "2.500000"
    assert tcp["avg_bps"] == "48960.000" and tcp["tcp_state"] == "established"
    assert udp["tcp_state"] == "" and udp["client"] == "" and udp["rtt_ewma_ms"] == ""
    assert all(len(r) == 24 for r in rows)


def test_health_columns_are_exported_for_tcp_and_null_for_udp(tmp_path: Path) -> None:
    flows = dataclasses.replace(
        two_flows(), retransmissions=np.array([2, 0]), out_of_order=np.array([1, 0]),
        rtt_last_ms=np.array([1.2349, np.nan]), rtt_min_ms=np.array([0.4996, np.nan]),
        rtt_ewma_ms=np.array([0.9999, np.nan]), rtt_samples=np.array([7, 0]),
        rtt_handshake_ms=np.array([0.25, np.nan]))
    path = tmp_path / "flows.csv"
    write_csv(flows, path)
    tcp, udp = list(csv.DictReader(path.open()))
    assert [tcp[k] for k in ("retransmissions", "out_of_order", "rtt_last_ms", "rtt_min_ms", "rtt_ewma_ms",
                             "rtt_samples", "rtt_handshake_ms")] == ["2", "1", "1.235", "0.500", "1.000", "7", "0.250"]
    assert all(udp[k] == "" for k in ("retransmissions", "rtt_last_ms", "rtt_samples", "rtt_handshake_ms"))
    write_json(flows, tmp_path / "flows.json")
    records = json.loads((tmp_path / "flows.json").read_text())
    assert records[0]["rtt_last_ms"] == 1.2349 and records[1]["retransmissions"] is None
