"""The independent oracle: a capture's bidirectional TCP/UDP flow table as dissected by tshark.

Adapted from the shared tools/tshark_flows.py: per flow, packets and wire bytes (frame.len)
per direction, with endpoints ordered as the reference orders them. Two changes make it hold
for fragmented traffic and ICMP errors, which the shared tool miscounts:
* IP reassembly is off, so a first fragment shows the ports its UDP/TCP header carries (with
  reassembly on, tshark decodes the header in the last fragment's frame, which both tools skip
  as a non-initial fragment, and the flow disappears);
* an ICMP or ICMPv6 packet is no flow packet, even when it quotes a UDP/TCP header (a port
  unreachable): tshark reports the quoted ports as the frame's first udp.srcport.
"""

from __future__ import annotations

import csv
import ipaddress
import json
import re
import subprocess
import sys
from pathlib import Path

import dpkt

FIELDS = ["frame.len", "ip.src", "ip.dst", "ipv6.src", "ipv6.dst", "tcp.srcport", "tcp.dstport",
          "udp.srcport", "udp.dstport", "ip.frag_offset", "ipv6.fraghdr.offset", "icmp.type", "icmpv6.type"]

FlowKey = tuple[str, str, int, str, int]
EndpointCounts = tuple[int, int, int, int, int, int]  # packets, bytes, tx_packets, tx_bytes, rx_packets, rx_bytes
ENDPOINT_COLUMNS = ["Packets", "Bytes", "Tx Packets", "Tx Bytes", "Rx Packets", "Rx Bytes"]


def _endpoint_key(ip: str, port: int) -> tuple[int, bytes, int]:
    address = ipaddress.ip_address(ip)
    return address.version, address.packed.rjust(16, b"\0"), port


def tshark_flows(path: Path, innermost: bool = False) -> dict[FlowKey, tuple[int, int, int, int]]:
    """(proto, a_ip, a_port, b_ip, b_port) -> (packets a->b, packets b->a, bytes a->b, bytes b->a).

    `innermost`: a tunnelled frame (VXLAN, GRE, IP in IP) counts for the flow of the last IP
    and TCP/UDP layers tshark dissected in it, instead of the first.
    """
    command = ["tshark", "-r", str(path), "-n", "-o", "ip.defragment:FALSE", "-o", "ipv6.defragment:FALSE",
               "-T", "fields", "-E", "separator=\t", "-E", f"occurrence={'l' if innermost else 'f'}"]
    for field in [*FIELDS, "frame.protocols"]:
        command += ["-e", field]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    flows: dict[FlowKey, list[int]] = {}
    for line in out.splitlines():
        cells = line.split("\t") + [""] * (len(FIELDS) + 1)
        flen, s4, d4, s6, d6, tsp, tdp, usp, udp_, frag4, frag6, icmp4, icmp6, layers = cells[: len(FIELDS) + 1]
        if (frag4 and frag4 != "0") or (frag6 and frag6 != "0") or icmp4 or icmp6:
            continue
        stack = layers.split(":")
        last_ip = max((i for i, layer in enumerate(stack) if layer in ("ip", "ipv6")), default=-1)
        if innermost and last_ip >= 0:
            s4, d4, s6, d6 = (s4, d4, "", "") if stack[last_ip] == "ip" else ("", "", s6, d6)
        src, dst = (s4, d4) if s4 else (s6, d6)
        if not src or not (tsp or usp):
            continue
        proto, sp, dp = ("tcp", int(tsp), int(tdp)) if tsp else ("udp", int(usp), int(udp_))
        forward = _endpoint_key(src, sp) <= _endpoint_key(dst, dp)
        a, b = ((src, sp), (dst, dp)) if forward else ((dst, dp), (src, sp))
        record = flows.setdefault((proto, a[0], a[1], b[0], b[1]), [0, 0, 0, 0])
        record[0 if forward else 1] += 1
        record[2 if forward else 3] += int(flen)
    return {key: tuple(value) for key, value in flows.items()}


def export_flows(records: list[dict]) -> dict[FlowKey, tuple[int, int, int, int]]:
    """The same table from a netscope JSON export."""
    return {
        (r["protocol"], r["endpoint_a"]["ip"], r["endpoint_a"]["port"], r["endpoint_b"]["ip"],
         r["endpoint_b"]["port"]): (r["packets_a_to_b"], r["packets_b_to_a"], r["bytes_a_to_b"], r["bytes_b_to_a"])
        for r in records
    }


def write_frames(path: Path, frames: list[bytes]) -> Path:
    """A pcap of Ethernet `frames`, 10 ms apart."""
    with path.open("wb") as out:
        writer = dpkt.pcap.Writer(out)
        for i, frame in enumerate(frames):
            writer.writepkt(frame, ts=1.0 + i / 100)
    return path


def netscope_flows(capture: Path, export: Path, *flags: str) -> dict[FlowKey, tuple[int, int, int, int]]:
    """The flow table of a headless netscope replay of `capture`, through its JSON export."""
    result = subprocess.run([sys.executable, "-m", "netscope", "--headless", "--read-pcap", str(capture),
                             "--export-json", str(export), *flags], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return export_flows(json.loads(export.read_text()))


def tshark_endpoints(path: Path) -> dict[str, EndpointCounts]:
    """address -> (packets, bytes, tx_packets, tx_bytes, rx_packets, rx_bytes) over the TCP and
    UDP frames, as Wireshark's Statistics -> Endpoints counts them (its IPv4 and IPv6 tables).

    A frame from an address to itself counts twice for it, sent and received. The text table is
    parsed strictly, so that another tshark's layout fails here instead of comparing wrong
    numbers: both tables must be there, each with exactly these six column titles, and every
    count a plain integer (some versions print bytes with units, "1455 kB", which is refused).
    """
    command = ["tshark", "-r", str(path), "-n", "-q", "-z", "endpoints,ip,tcp or udp",
               "-z", "endpoints,ipv6,tcp or udp"]
    return parse_endpoints(subprocess.run(command, capture_output=True, text=True, check=True).stdout)


def parse_endpoints(out: str) -> dict[str, EndpointCounts]:
    """tshark_endpoints' table from the text `tshark -q -z endpoints,...` printed."""
    endpoints: dict[str, EndpointCounts] = {}
    tables: list[int] = []
    header_seen = False

    def refuse(line: str, why: str) -> ValueError:
        return ValueError(f"tshark endpoints output not understood ({why}): {line!r}\n{out}")

    for line in out.splitlines():
        text = line.strip()
        if not text or set(text) == {"="}:
            continue
        if title := re.fullmatch(r"IPv([46]) Endpoints", text):
            tables.append(int(title[1]))
            header_seen = False
            continue
        if text.startswith("Filter:"):
            if text != "Filter:tcp or udp":
                raise refuse(line, "another filter")
            continue
        if "|" in text:
            if [cell.strip() for cell in text.split("|") if cell.strip()] != ENDPOINT_COLUMNS:
                raise refuse(line, "other columns")
            header_seen = True
            continue
        cells = text.split()
        if not tables or not header_seen:
            raise refuse(line, "a row outside a table")
        if len(cells) != 1 + len(ENDPOINT_COLUMNS) or not all(re.fullmatch(r"[0-9]+", cell) for cell in cells[1:]):
            raise refuse(line, "not an address and six integers")
        address = ipaddress.ip_address(cells[0])
        packets, size, tx_packets, tx_bytes, rx_packets, rx_bytes = counts = tuple(int(cell) for cell in cells[1:])
        if address.version != tables[-1] or str(address) in endpoints:
            raise refuse(line, "an address in the wrong table, or twice")
        if packets != tx_packets + rx_packets or size != tx_bytes + rx_bytes:
            raise refuse(line, "totals that are not sent + received")
        endpoints[str(address)] = counts
    if sorted(tables) != [4, 6]:
        raise ValueError(f"tshark printed tables {tables}, not the IPv4 and IPv6 endpoints:\n{out}")
    return endpoints


def read_hosts_csv(path: Path) -> list[dict[str, str]]:
    """The rows of a netscope `--export-hosts` file, in file order."""
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def export_endpoints(rows: list[dict[str, str]]) -> dict[str, EndpointCounts]:
    """The tshark_endpoints table from a netscope host export."""
    fields = ("packets", "bytes", "tx_packets", "tx_bytes", "rx_packets", "rx_bytes")
    return {row["address"]: tuple(int(row[field]) for field in fields) for row in rows}
