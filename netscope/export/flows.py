"""Flow-table exports with the reference's schema (§7.2): JSON array and CSV, same rows.

Rows are built from FlowColumns with per-flow Python work, which is fine here: an export
runs once at the end of a run, not on the packet path.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from netscope.analysis.names import NAME_FIELDS, NameObserver, annotate_records
from netscope.export.replace import replacing
from netscope.flow.records import Client, FlowColumns, TcpState, format_ip

CSV_COLUMNS = [
    "protocol", "endpoint_a_ip", "endpoint_a_port", "endpoint_b_ip", "endpoint_b_port",
    "first_seen", "last_seen", "duration_secs", "packets_a_to_b", "packets_b_to_a",
    "bytes_a_to_b", "bytes_b_to_a", "packets_total", "bytes_total", "avg_bps", "tcp_state",
    "client", "retransmissions", "out_of_order", "rtt_last_ms", "rtt_min_ms", "rtt_ewma_ms",
    "rtt_samples", "rtt_handshake_ms",
]

_PROTO = {6: "tcp", 17: "udp"}


def _optional_column(flows: FlowColumns, name: str) -> Any:
    """Analysis columns exist only when TCP analysis ran; absent means "not measured" (null)."""
    return getattr(flows, name, None)


def flow_records(flows: FlowColumns) -> Iterator[dict[str, Any]]:
    """One dict per flow in the reference's key order; analysis fields are null when not measured."""
    analysis = {name: _optional_column(flows, name) for name in (
        "retransmissions", "out_of_order", "rtt_last_ms", "rtt_min_ms", "rtt_ewma_ms", "rtt_samples",
        "rtt_handshake_ms")}
    for i in range(flows.count):
        version = int(flows.ip_version[i])
        first = int(flows.first_us[i]) / 1e6
        last = int(flows.last_us[i]) / 1e6
        duration = max(0.0, (int(flows.last_us[i]) - int(flows.first_us[i])) / 1e6)
        bytes_total = int(flows.bytes_ab[i]) + int(flows.bytes_ba[i])
        record: dict[str, Any] = {
            "protocol": _PROTO.get(int(flows.proto[i]), str(int(flows.proto[i]))),
            "endpoint_a": {"ip": format_ip(version, flows.a_hi[i], flows.a_lo[i]), "port": int(flows.a_port[i])},
            "endpoint_b": {"ip": format_ip(version, flows.b_hi[i], flows.b_lo[i]), "port": int(flows.b_port[i])},
            "first_seen": first,
            "last_seen": last,
            "duration_secs": duration,
            "packets_a_to_b": int(flows.packets_ab[i]),
            "packets_b_to_a": int(flows.packets_ba[i]),
            "bytes_a_to_b": int(flows.bytes_ab[i]),
            "bytes_b_to_a": int(flows.bytes_ba[i]),
            "packets_total": int(flows.packets_ab[i]) + int(flows.packets_ba[i]),
            "bytes_total": bytes_total,
            "avg_bps": bytes_total * 8 / duration if duration > 0 else 0.0,
            "tcp_state": TcpState(int(flows.tcp_state[i])).label,
            "client": Client(int(flows.client[i])).label,
        }
        is_tcp = int(flows.proto[i]) == 6
        for name, column in analysis.items():
            value = None if column is None or not is_tcp else column[i].item()
            if isinstance(value, float) and math.isnan(value):
                value = None
            record[name] = value
        yield record


def _records(flows: FlowColumns, names: NameObserver | None) -> Iterator[dict[str, Any]]:
    records = flow_records(flows)
    return records if names is None else annotate_records(records, names)


def write_json(flows: FlowColumns, path: str | Path, names: NameObserver | None = None) -> None:
    """Pretty-printed (2-space) JSON array, as the reference writes it (plus names when observed)."""
    with replacing(path) as fh:
        json.dump(list(_records(flows, names)), fh, indent=2)
        fh.write("\n")


def _csv_cell(name: str, value: Any) -> str:
    if value is None:
        return ""
    if name in ("first_seen", "last_seen", "duration_secs"):
        return f"{value:.6f}"
    if name == "avg_bps":
        return f"{value:.3f}"
    if name.startswith("rtt_") and name != "rtt_samples":
        return f"{value:.3f}"
    return str(value)


def csv_row(record: dict[str, Any], columns: list[str] = CSV_COLUMNS) -> list[str]:
    flat = dict(record)
    for side in ("a", "b"):
        endpoint = flat.pop(f"endpoint_{side}")
        flat[f"endpoint_{side}_ip"] = endpoint["ip"]
        flat[f"endpoint_{side}_port"] = endpoint["port"]
    return [_csv_cell(name, flat[name]) for name in columns]


def write_csv(flows: FlowColumns, path: str | Path, names: NameObserver | None = None) -> None:
    """The reference's 23 columns (then the name columns when names were observed), csv-quoted."""
    columns = CSV_COLUMNS if names is None else CSV_COLUMNS + list(NAME_FIELDS)
    with replacing(path, newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(columns)
        for record in _records(flows, names):
            writer.writerow(csv_row(record, columns))
