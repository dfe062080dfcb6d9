"""The per-host export (`--export-hosts`): Wireshark's Endpoints table, from the run's final flow table.

tshark is the oracle (tests/tshark_oracle.py, tshark_endpoints): the bundled sample and a capture
built here (IPv4, IPv6, a flow from 127.0.0.1 and one from ::1 to itself, DNS names, an ICMP
echo that is no flow), replayed in one process and with the pipeline. Each host's `flows` is
checked against the flow CSV of the same run.
"""

from __future__ import annotations

import csv
import ipaddress
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import dpkt
import numpy as np
import pytest

from netscope.config import Config
from netscope.engine.outputs import OutputError, OutputPaths, RunOutputs, check_outputs
from netscope.engine.session import build_engine, open_source
from netscope.export.hosts import HOST_CSV_COLUMNS, host_rows, write_hosts_csv
from netscope.flow.records import Client, FlowColumns, TcpState
from netscope.pipeline.merge import empty_flows
from tests.analysis.name_packets import _frame, a_record, dns_response, tcp, udp
from tests.tshark_oracle import export_endpoints, parse_endpoints, read_hosts_csv, tshark_endpoints, write_frames

MODES = {"one process": (), "pipeline": ("--pipeline", "--workers", "2")}


def table(*flows: tuple[str, int, str, int, int, int, int, int]) -> FlowColumns:
    """Flows from (a_ip, a_port, b_ip, b_port, packets_ab, packets_ba, bytes_ab, bytes_ba), all UDP."""
    def halves(ip: str) -> tuple[int, int, int]:
        address = ipaddress.ip_address(ip)
        return address.version, int(address) >> 64, int(address) & (2**64 - 1)

    a, b = [halves(flow[0]) for flow in flows], [halves(flow[2]) for flow in flows]
    count = len(flows)

    def col(values, dtype=np.int64) -> np.ndarray:
        return np.array(list(values), dtype=dtype)

    return FlowColumns(
        proto=col([17] * count, np.uint8), ip_version=col((v for v, _, _ in a), np.uint8),
        a_hi=col((hi for _, hi, _ in a), np.uint64), a_lo=col((lo for _, _, lo in a), np.uint64),
        b_hi=col((hi for _, hi, _ in b), np.uint64), b_lo=col((lo for _, _, lo in b), np.uint64),
        a_port=col((f[1] for f in flows), np.uint16), b_port=col((f[3] for f in flows), np.uint16),
        first_us=col([0] * count), last_us=col([0] * count),
        packets_ab=col(f[4] for f in flows), packets_ba=col(f[5] for f in flows),
        bytes_ab=col(f[6] for f in flows), bytes_ba=col(f[7] for f in flows),
        tcp_state=col([TcpState.NONE] * count, np.uint8), client=col([Client.NONE] * count, np.uint8),
        tick_packets=col([0] * count), tick_bytes=col([0] * count),
    )


class Names:
    def __init__(self, names: dict[str, str]) -> None:
        self.names = names

    def name_for(self, ip: str) -> str | None:
        return self.names.get(ip)


def test_each_address_sums_its_flows_both_ways_most_bytes_first_ties_by_address(tmp_path: Path) -> None:
    flows = table(("10.0.0.1", 1000, "10.0.0.2", 80, 3, 2, 300, 200),
                  ("10.0.0.1", 1001, "10.0.0.3", 53, 1, 1, 50, 50),
                  ("fd00::1", 5353, "fd00::2", 5353, 1, 1, 250, 250),
                  ("127.0.0.1", 4000, "127.0.0.1", 5000, 2, 1, 20, 10))
    path = tmp_path / "hosts.csv"
    write_hosts_csv(flows, path, Names({"10.0.0.2": "web.test", "fd00::2": "v6, \"quoted\""}))
    assert path.read_text().splitlines() == [
        ",".join(HOST_CSV_COLUMNS),
        "10.0.0.1,4,2,7,600,4,350,3,250,",
        "10.0.0.2,4,1,5,500,2,200,3,300,web.test",  # three hosts of 500 bytes: by address, IPv4 first
        "fd00::1,6,1,2,500,1,250,1,250,",
        'fd00::2,6,1,2,500,1,250,1,250,"v6, ""quoted"""',
        "10.0.0.3,4,1,2,100,1,50,1,50,",
        "127.0.0.1,4,1,6,60,3,30,3,30,",  # one flow, its packets sent and received by the same address
    ]


def test_without_names_the_columns_stay_and_the_name_is_empty(tmp_path: Path) -> None:
    path = tmp_path / "hosts.csv"
    write_hosts_csv(table(("10.0.0.1", 1, "10.0.0.2", 2, 1, 0, 60, 0)), path)
    with path.open(newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows == [HOST_CSV_COLUMNS, ["10.0.0.1", "4", "1", "1", "60", "1", "60", "0", "0", ""],
                    ["10.0.0.2", "4", "1", "1", "60", "0", "0", "1", "60", ""]]
    write_hosts_csv(empty_flows(), path)
    assert path.read_bytes() == ",".join(HOST_CSV_COLUMNS).encode() + b"\r\n"  # csv line ends, as the flow CSV


def test_the_file_is_replaced_whole_or_left_as_it_was(tmp_path: Path) -> None:
    path = tmp_path / "hosts.csv"
    path.write_text("an earlier, longer export\n" * 100)
    flows = table(("10.0.0.1", 1, "10.0.0.2", 2, 1, 0, 60, 0))
    write_hosts_csv(flows, path)
    assert len(path.read_text().splitlines()) == 3 and sorted(p.name for p in tmp_path.iterdir()) == ["hosts.csv"]

    class Failing:
        def name_for(self, ip: str) -> str | None:
            raise OSError("the names went away")

    before = path.read_text()
    with pytest.raises(OSError):
        write_hosts_csv(flows, path, Failing())
    assert path.read_text() == before and sorted(p.name for p in tmp_path.iterdir()) == ["hosts.csv"]


def test_rows_are_the_csv_cells_in_column_order() -> None:
    [row] = host_rows(table(("10.0.0.1", 1, "10.0.0.1", 2, 1, 1, 10, 20)), Names({"10.0.0.1": "me"}))
    assert dict(zip(HOST_CSV_COLUMNS, row, strict=True)) == {
        "address": "10.0.0.1", "ip_version": 4, "flows": 1, "packets": 4, "bytes": 60, "tx_packets": 2,
        "tx_bytes": 30, "rx_packets": 2, "rx_bytes": 30, "name": "me"}


# ---------------------------------------------------------------- at the end of a run


def _engine_after(capture: Path):
    config = Config().replace("capture", read_pcap=str(capture))
    source = open_source(config)
    engine = build_engine(config, source, keep_recent_packets=False, top_n=0)
    for raw in source.batches():
        engine.process(raw)
    source.close()
    return engine


def test_the_host_export_is_summed_from_the_one_table_the_flow_exports_write(sample_pcap: Path,
                                                                            tmp_path: Path) -> None:
    engine = _engine_after(sample_pcap)
    calls = []
    flow_table = engine.flow_table
    engine.flow_table = lambda: calls.append(1) or flow_table()
    paths = OutputPaths(export_json=str(tmp_path / "f.json"), export_csv=str(tmp_path / "f.csv"),
                        export_hosts_csv=str(tmp_path / "h.csv"))
    outputs = RunOutputs(paths)
    written, error = outputs.finish(engine)
    outputs.close()
    assert error is None and len(calls) == 1
    assert written == [("JSON", paths.export_json), ("CSV", paths.export_csv), ("hosts CSV", paths.export_hosts_csv)]
    assert _flows_by_address(tmp_path / "f.csv") == _host_flows(read_hosts_csv(tmp_path / "h.csv"))


def test_a_host_export_that_fails_at_exit_is_one_line_and_costs_no_other(sample_pcap: Path, tmp_path: Path) -> None:
    engine = _engine_after(sample_pcap)
    hosts, flows = tmp_path / "hosts.csv", tmp_path / "flows.csv"
    outputs = RunOutputs(OutputPaths(export_csv=str(flows), export_hosts_csv=str(hosts)))
    hosts.mkdir()  # the path went bad while the capture ran
    written, error = outputs.finish(engine)
    outputs.close()
    assert error == f"cannot write host export {hosts}: Is a directory"
    assert written == [("CSV", str(flows))]


def test_an_unwritable_host_export_is_refused_before_the_run(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-dir" / "hosts.csv"
    with pytest.raises(OutputError, match=f"^cannot write host export {missing}: No such file or directory$"):
        check_outputs(OutputPaths(export_hosts_csv=str(missing)))
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------- against tshark


def _run(capture: Path, tmp_path: Path, *flags: str) -> tuple[list[dict[str, str]], Path]:
    """A headless replay writing both the host export and the flow CSV: (host rows, flow CSV)."""
    hosts, flows = tmp_path / "hosts.csv", tmp_path / "flows.csv"
    result = subprocess.run([sys.executable, "-m", "netscope", "--headless", "--read-pcap", str(capture),
                             "--export-hosts", str(hosts), "--export-csv", str(flows), *flags],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
    assert "Export (hosts CSV)" in result.stdout
    return read_hosts_csv(hosts), flows


def _flows_by_address(flow_csv: Path) -> dict[str, int]:
    """How many flows of the flow export each address is an endpoint of (one for a flow to itself)."""
    flows: dict[str, set[tuple[str, ...]]] = defaultdict(set)
    with flow_csv.open(newline="") as handle:
        for row in csv.DictReader(handle):
            key = tuple(row[field] for field in ("protocol", "endpoint_a_ip", "endpoint_a_port", "endpoint_b_ip",
                                                 "endpoint_b_port"))
            flows[row["endpoint_a_ip"]].add(key)
            flows[row["endpoint_b_ip"]].add(key)
    return {address: len(keys) for address, keys in flows.items()}


def _host_flows(rows: list[dict[str, str]]) -> dict[str, int]:
    return {row["address"]: int(row["flows"]) for row in rows}


def _check_order(rows: list[dict[str, str]]) -> None:
    """Most bytes first; equal bytes by address, IPv4 before IPv6 (HostColumns.top(None, "bytes"))."""
    def key(row: dict[str, str]) -> tuple[int, int, int]:
        address = ipaddress.ip_address(row["address"])
        return -int(row["bytes"]), address.version, int(address)

    assert rows == sorted(rows, key=key)
    assert all(row["ip_version"] == str(ipaddress.ip_address(row["address"]).version) for row in rows)


@pytest.mark.parametrize("mode", MODES)
def test_the_sample_s_hosts_equal_tshark_s_endpoints(sample_pcap: Path, require_tool, tmp_path: Path,
                                                     mode: str) -> None:
    require_tool("tshark")
    rows, flow_csv = _run(sample_pcap, tmp_path, *MODES[mode])
    assert export_endpoints(rows) == tshark_endpoints(sample_pcap)
    assert len(rows) == 4
    _check_order(rows)
    assert _host_flows(rows) == _flows_by_address(flow_csv)


def _crafted(path: Path) -> Path:
    """IPv4 and IPv6 hosts over TCP and UDP, a flow from 127.0.0.1 and one from ::1 to itself,
    DNS answers naming two of the addresses, and an ICMP echo (no flow, no endpoint for tshark's
    `tcp or udp`)."""
    frames = [
        udp("10.0.0.53", 53, "10.0.0.1", 33000, dns_response("www.example.test",
                                                              [a_record("www.example.test", "192.0.2.10")])),
        udp("2001:db8::53", 53, "2001:db8::1", 33001, dns_response("v6.example.test",
                                                                   [a_record("v6.example.test", "2001:db8::10")])),
        _frame("10.0.0.1", "192.0.2.10", dpkt.icmp.ICMP(type=8, data=dpkt.icmp.ICMP.Echo(id=1, seq=1)), 1),
    ]
    for i in range(12):
        frames.append(tcp("10.0.0.1", 40000, "192.0.2.10", 443, b"q" * (10 + i), seq=1 + i * 100))
        frames.append(tcp("192.0.2.10", 443, "10.0.0.1", 40000, b"r" * (300 + 7 * i), seq=1 + i * 1000))
    for i in range(5):
        frames.append(udp("10.0.0.2", 5000 + i, "192.0.2.10", 443, b"u" * (40 + i)))
        frames.append(tcp("2001:db8::1", 50000, "2001:db8::10", 80, b"6" * (100 + i), seq=1 + i * 200))
        frames.append(udp("127.0.0.1", 41000, "127.0.0.1", 5000, b"s" * (20 + i)))
    frames += [udp("127.0.0.1", 5000, "127.0.0.1", 41000, b"back"), udp("::1", 6000, "::1", 6001, b"self six")]
    return write_frames(path, frames)


@pytest.mark.parametrize("mode", MODES)
def test_a_crafted_capture_s_hosts_equal_tshark_s_endpoints_with_their_names(require_tool, tmp_path: Path,
                                                                             mode: str) -> None:
    require_tool("tshark")
    capture = _crafted(tmp_path / "hosts.pcap")
    rows, flow_csv = _run(capture, tmp_path, *MODES[mode])
    expected = tshark_endpoints(capture)
    assert {"127.0.0.1", "::1", "2001:db8::10", "192.0.2.10"} <= set(expected)
    assert export_endpoints(rows) == expected
    _check_order(rows)
    flows = _host_flows(rows)
    assert flows == _flows_by_address(flow_csv)
    assert flows["127.0.0.1"] == 1 and flows["192.0.2.10"] == 6 and flows["10.0.0.1"] == 2
    names = {row["address"]: row["name"] for row in rows if row["name"]}
    assert names == {"192.0.2.10": "www.example.test", "2001:db8::10": "v6.example.test"}
    with flow_csv.open(newline="") as handle:  # the flow export names the same addresses alike
        for flow in csv.DictReader(handle):
            for side in ("a", "b"):
                assert flow[f"name_{side}"] == names.get(flow[f"endpoint_{side}_ip"], "")


def test_names_off_leaves_the_name_column_empty(tmp_path: Path) -> None:
    rows, _ = _run(_crafted(tmp_path / "hosts.pcap"), tmp_path, "--no-names")
    assert rows and all(row["name"] == "" for row in rows) and list(rows[0]) == HOST_CSV_COLUMNS


TSHARK_4_0 = """\
================================================================================
IPv4 Endpoints
Filter:tcp or udp
                       |  Packets  | |  Bytes  | | Tx Packets | | Tx Bytes | | Rx Packets | | Rx Bytes |
10.88.0.1                   2886       1455830       1637         1292065        1249          163765
================================================================================
================================================================================
IPv6 Endpoints
Filter:tcp or udp
                       |  Packets  | |  Bytes  | | Tx Packets | | Tx Bytes | | Rx Packets | | Rx Bytes |
================================================================================
"""


def test_the_oracle_s_parser_refuses_what_it_does_not_know() -> None:
    assert parse_endpoints(TSHARK_4_0) == {"10.88.0.1": (2886, 1455830, 1637, 1292065, 1249, 163765)}
    for changed in (TSHARK_4_0.replace("1455830", "1455 kB"),  # bytes with units, as some versions print
                    TSHARK_4_0.replace("1455830", "1,455,830"),
                    TSHARK_4_0.replace("| Rx Bytes |", "| Rx Bytes | | Rel Start |"),
                    TSHARK_4_0.replace("1637 ", "1636 "),  # totals that do not add up
                    TSHARK_4_0.replace("10.88.0.1", "fd00::1"),  # an IPv6 address in the IPv4 table
                    TSHARK_4_0.split("=\nIPv6")[0]):  # one table missing
        with pytest.raises(ValueError, match="tshark"):
            parse_endpoints(changed)
