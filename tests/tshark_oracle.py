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

import ipaddress
import json
import subprocess
import sys
from pathlib import Path

import dpkt

FIELDS = ["frame.len", "ip.src", "ip.dst", "ipv6.src", "ipv6.dst", "tcp.srcport", "tcp.dstport",
          "udp.srcport", "udp.dstport", "ip.frag_offset", "ipv6.fraghdr.offset", "icmp.type", "icmpv6.type"]

FlowKey = tuple[str, str, int, str, int]


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
