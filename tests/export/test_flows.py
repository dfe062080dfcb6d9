"""Flow exports: the reference's JSON/CSV schema, nulls where nothing was measured, real CSV quoting."""

from __future__ import annotations

import csv
import dataclasses
import json
from pathlib import Path

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from netscope.export import flows as flows_module
from netscope.export.flows import CSV_COLUMNS, export_columns, flow_records, write_csv, write_json
from netscope.flow.records import Client, FlowColumns, TcpState
from netscope.flow.tracker import FlowSettings, FlowTracker
from netscope.parse.columns import PROTO_TCP, PROTO_UDP
from tests.flow.packets import Packet, make_batch

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


ADDRESSES = ["10.0.0.1", "10.255.0.77", "0.0.0.0", "255.255.255.255", "2001:db8::1", "::1", "::ffff:10.1.2.3",
             "fe80::1:2:3:4"]


@st.composite
def tables(draw) -> FlowColumns:
    packets = []
    for i in range(draw(st.integers(1, 30))):
        v6 = draw(st.booleans())
        pool = [a for a in ADDRESSES if (":" in a) == v6]
        packets.append(Packet(draw(st.sampled_from(pool)), draw(st.integers(0, 65535)), draw(st.sampled_from(pool)),
                              draw(st.integers(0, 65535)), ts_us=draw(st.integers(0, 10**13)), wirelen=60 + i,
                              proto=draw(st.sampled_from([PROTO_TCP, PROTO_UDP])),
                              flags=draw(st.sampled_from([0x02, 0x12, 0x10, 0x11, 0x04]))))
    tracker = FlowTracker(FlowSettings(timeout_s=0.0))
    tracker.observe(make_batch(sorted(packets, key=lambda p: p.ts_us)))
    return tracker.snapshot()


@settings(max_examples=60, deadline=None)
@given(tables())
def test_the_columns_agree_with_the_per_flow_rows(flows: FlowColumns) -> None:
    """The export's column-at-a-time values against FlowRow's flow-by-flow ones (ipaddress, ints)."""
    columns = export_columns(flows)
    assert list(columns) == CSV_COLUMNS
    for i, row in enumerate(flows.rows()):
        duration = max(0, int(flows.last_us[i]) - int(flows.first_us[i])) / 1e6
        assert [columns[name][i] for name in CSV_COLUMNS[:17]] == [
            row.proto, row.a_ip, row.a_port, row.b_ip, row.b_port, row.first_seen, row.last_seen, duration,
            row.packets_ab, row.packets_ba, row.bytes_ab, row.bytes_ba, row.packets_total, row.bytes_total,
            row.bytes_total * 8 / duration if duration > 0 else 0.0, row.tcp_state, row.client]


def test_a_json_export_in_several_slices_is_one_array_laid_out_as_one(tmp_path: Path, monkeypatch) -> None:
    flows = FlowColumns.concat([two_flows()] * 3)
    whole, sliced = tmp_path / "whole.json", tmp_path / "sliced.json"
    write_json(flows, whole)
    monkeypatch.setattr(flows_module, "EXPORT_CHUNK_FLOWS", 4)  # 6 flows: slices of 4 and 2
    write_json(flows, sliced)
    write_csv(flows, tmp_path / "sliced.csv")
    assert sliced.read_text() == whole.read_text()
    assert json.loads(whole.read_text()) == list(flow_records(flows))
    assert len(list(csv.reader((tmp_path / "sliced.csv").open()))) == 7
    write_json(FlowColumns.concat([two_flows()]).take(slice(0, 0)), tmp_path / "empty.json")
    assert (tmp_path / "empty.json").read_text() == "[]\n"
