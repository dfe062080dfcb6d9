"""Real tools, real packets: nmap and hping3 between two network namespaces, captured by tcpdump.

Everything runs inside two namespaces joined by a veth pair on 10.77.0.0/24 that the fixture
creates and deletes; spoofed sources are addresses of that subnet. Needs root and the tools;
skipped (with the reason) otherwise. The tests under "kept captures" replay small pcaps made
this way and run everywhere.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from .captures import alerts_in, parsed_batches

SUBNET = "10.77.0"
SCANNER, TARGET = f"{SUBNET}.1", f"{SUBNET}.2"
CLIENTS = [f"{SUBNET}.{100 + i}" for i in range(12)]


def _missing() -> str | None:
    if os.geteuid() != 0:
        return "needs root for network namespaces"
    for tool in ("ip", "tcpdump", "nmap", "hping3", "curl", "ethtool", "tshark"):
        if shutil.which(tool) is None:
            return f"needs {tool}"
    return None


class Namespaces:
    """Two namespaces, `a` (scanner, clients) and `b` (target, servers), joined by a veth pair."""

    def __init__(self) -> None:
        tag = f"{os.getpid() % 100000}"
        self.a, self.b = f"nsanA{tag}", f"nsanB{tag}"
        self.veth_a, self.veth_b = f"van{tag}", f"vbn{tag}"

    def run(self, ns: str, *command: str, timeout: float = 60, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run(["ip", "netns", "exec", ns, *command], capture_output=True, text=True,
                              timeout=timeout, check=check)

    def start(self, ns: str, *command: str) -> subprocess.Popen:
        return subprocess.Popen(["ip", "netns", "exec", ns, *command], stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, text=True)

    def up(self) -> None:
        ip = ["ip"]
        subprocess.run([*ip, "netns", "add", self.a], check=True)
        subprocess.run([*ip, "netns", "add", self.b], check=True)
        subprocess.run([*ip, "link", "add", self.veth_a, "netns", self.a, "type", "veth", "peer", "name",
                        self.veth_b, "netns", self.b], check=True)
        for ns, dev, address in ((self.a, self.veth_a, SCANNER), (self.b, self.veth_b, TARGET)):
            subprocess.run([*ip, "-n", ns, "addr", "add", f"{address}/24", "dev", dev], check=True)
            subprocess.run([*ip, "-n", ns, "link", "set", dev, "up"], check=True)
            subprocess.run([*ip, "-n", ns, "link", "set", "lo", "up"], check=True)
        for client in CLIENTS:
            subprocess.run([*ip, "-n", self.a, "addr", "add", f"{client}/24", "dev", self.veth_a], check=True)

    def down(self) -> None:
        for ns in (self.a, self.b):
            pids = subprocess.run(["ip", "netns", "pids", ns], capture_output=True, text=True).stdout.split()
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):  # only our own processes live there
                    os.kill(int(pid), 9)
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)

    def capture(self, path: Path, snaplen: int = 256) -> subprocess.Popen:
        """tcpdump on the target's side, returned once it is listening."""
        dump = self.start(self.b, "tcpdump", "-i", self.veth_b, "-n", "-U", "--immediate-mode", "-s", str(snaplen),
                          "-w", str(path))
        assert dump.stderr is not None
        line = dump.stderr.readline()  # "listening on ..." once the capture is live
        assert "listening" in line, line
        return dump

    @staticmethod
    def stop(dump: subprocess.Popen) -> None:
        time.sleep(0.3)  # let the last packets reach the capture
        dump.send_signal(2)
        dump.wait(timeout=10)


@pytest.fixture(scope="module")
def namespaces() -> Iterator[Namespaces]:
    reason = _missing()
    if reason:
        pytest.skip(reason)
    spaces = Namespaces()
    spaces.down()
    try:
        spaces.up()
        time.sleep(0.5)  # addresses leave tentative state
        yield spaces
    finally:
        spaces.down()


def _nmap_alerts(namespaces: Namespaces, pcap: Path, scan: str) -> list:
    """The alerts of one nmap scan of 200 ports, captured on the target's side."""
    dump = namespaces.capture(pcap)
    try:
        namespaces.run(namespaces.a, "nmap", scan, "-n", "-Pn", "-T4", "--max-retries", "0", "-p", "1-200", TARGET)
    finally:
        namespaces.stop(dump)
    return alerts_in(pcap)


# -sS: SYNs, as the reference counts. -sF, -sN, -sX: probes without SYN, ACK or RST, which no
# connection sends. -sA, -sW, -sM: the probes (ACK, FIN+ACK) look like the middle of a flow, but
# the target's RST without ACK, which only answers a segment of no connection, gives them away.
@pytest.mark.parametrize("scan", ["-sS", "-sF", "-sN", "-sX", "-sA", "-sW", "-sM"])
def test_nmap_scans_are_reported(namespaces: Namespaces, tmp_path: Path, scan: str):
    alerts = _nmap_alerts(namespaces, tmp_path / "scan.pcap", scan)
    assert [(a.kind, a.description, a.hosts) for a in alerts] == [
        ("port_scan", f"Port scan suspected: 25 ports, 1 hosts from {SCANNER}", (SCANNER,))]


def test_hping3_syn_flood_from_many_sources_is_reported(namespaces: Namespaces, tmp_path: Path):
    pcap = tmp_path / "flood.pcap"
    dump = namespaces.capture(pcap)
    try:
        # 60 spoofed sources of the test subnet, 5 SYNs each, all at once: 300 SYNs in about a second.
        senders = [namespaces.start(namespaces.a, "hping3", "-q", "-S", "-p", "80", "-c", "5", "-i", "u20000",
                                    "-I", namespaces.veth_a, "-a", f"{SUBNET}.{10 + i}", TARGET)
                   for i in range(60)]
        for sender in senders:
            sender.wait(timeout=30)
    finally:
        namespaces.stop(dump)
    alerts = alerts_in(pcap)
    floods = [a for a in alerts if a.kind == "syn_flood"]
    assert len(floods) == 1
    match = re.fullmatch(rf"SYN flood suspected: (\d+) syns, (\d+) sources to {TARGET}:80", floods[0].description)
    assert match, floods[0].description
    syns, sources = int(match[1]), int(match[2])
    # Fires on the first SYN with both thresholds reached: one of the two is met exactly.
    assert (syns == 200 and sources >= 50) or (syns > 200 and sources == 50)
    assert floods[0].hosts == (f"{TARGET}:80",)
    # Each spoofed source sent to one port of one host: no scanner among them.
    assert [a for a in alerts if a.kind == "port_scan"] == []


def test_normal_traffic_raises_nothing(namespaces: Namespaces, tmp_path: Path):
    server = namespaces.start(namespaces.b, "python3", "-m", "http.server", "8080", "--bind", TARGET)
    responder = namespaces.start(namespaces.b, "python3", "-c", (
        "import socket\n"
        f"s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(('{TARGET}', 7777))\n"
        "while True:\n"
        "    data, peer = s.recvfrom(2048); s.sendto(data, peer)\n"))
    pcap = tmp_path / "normal.pcap"
    try:
        _wait_for_port(namespaces, 8080)
        dump = namespaces.capture(pcap)
        try:
            for _ in range(15):
                namespaces.run(namespaces.a, "curl", "-s", "-o", "/dev/null", f"http://{TARGET}:8080/")
            # Twelve clients ask a UDP service on a high port: the reference calls its answers a scan.
            namespaces.run(namespaces.a, "python3", "-c", (
                "import socket\n"
                f"for client in {CLIENTS!r}:\n"
                "    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind((client, 0)); s.settimeout(2)\n"
                "    for _ in range(3):\n"
                f"        s.sendto(b'query', ('{TARGET}', 7777)); s.recvfrom(2048)\n"))
        finally:
            namespaces.stop(dump)
    finally:
        for process in (server, responder):
            process.kill()
            process.wait()
    assert alerts_in(pcap) == []
    # The capture really holds what the reference calls a scan (§4.2): one UDP source, 12 hosts.
    answered = {(int(b.dst_lo[i]), int(b.dst_port[i])) for b in parsed_batches(pcap) for i in range(b.count)
                if b.ip_proto[i] == 17 and b.src_port[i] == 7777}
    assert len(answered) == len(CLIENTS)


def _wait_for_port(namespaces: Namespaces, port: int) -> None:
    for _ in range(50):
        probe = namespaces.run(namespaces.a, "curl", "-s", "-o", "/dev/null", f"http://{TARGET}:{port}/", check=False)
        if probe.returncode == 0:
            return
        time.sleep(0.1)
    raise AssertionError(f"server on port {port} did not start")


SEND_BIG_HELLO = """
import socket, sys
sys.path.insert(0, {root!r})
from tests.analysis.test_record_reassembly import big_hello
with socket.create_connection(({target!r}, 443)) as s:
    s.sendall(big_hello(b"pq.example.org"))
    s.recv(10)
"""
SERVE_ONCE = """
import socket
with socket.create_server(("0.0.0.0", 443)) as server:
    print("listening", flush=True)
    conn, _ = server.accept()
    with conn:
        data = b""
        while len(data) < 1500:
            data += conn.recv(4096)
        conn.sendall(b"bye")
"""


def test_a_client_hello_cut_into_two_segments_names_its_flow_as_tshark_does(namespaces: Namespaces, tmp_path: Path):
    """A post-quantum ClientHello (1,570 bytes) over a 1,500-byte MTU: the kernel cuts it, the SNI is
    in the second segment, and tshark, reassembling, names it."""
    import json
    import sys

    pcap, export = tmp_path / "hello.pcap", tmp_path / "flows.json"
    # Segments as on a wire: no offloads, so neither end sees one merged 1,570-byte packet.
    for ns, dev in ((namespaces.a, namespaces.veth_a), (namespaces.b, namespaces.veth_b)):
        namespaces.run(ns, "ethtool", "-K", dev, "tso", "off", "gso", "off", "gro", "off")
    dump = namespaces.capture(pcap, snaplen=0)
    try:
        server = subprocess.Popen(["ip", "netns", "exec", namespaces.b, sys.executable, "-c", SERVE_ONCE],
                                  stdout=subprocess.PIPE, text=True)
        assert server.stdout.readline().strip() == "listening"
        root = str(Path(__file__).resolve().parents[2])
        namespaces.run(namespaces.a, sys.executable, "-c", SEND_BIG_HELLO.format(root=root, target=TARGET))
        server.wait(timeout=20)
    finally:
        namespaces.stop(dump)
    shown = subprocess.run(["tshark", "-r", str(pcap), "-Y", "tls.handshake.type == 1", "-T", "fields",
                            "-e", "tls.handshake.extensions_server_name", "-e", "tcp.reassembled.length"],
                           capture_output=True, text=True, check=True).stdout.split()
    assert shown[0] == "pq.example.org" and int(shown[1]) > 1500  # tshark put two segments together
    subprocess.run([sys.executable, "-m", "netscope", "--headless", "--read-pcap", str(pcap), "--export-json",
                    str(export)], check=True, capture_output=True)
    flows = [f for f in json.loads(export.read_text()) if 443 in (f["endpoint_a"]["port"], f["endpoint_b"]["port"])]
    assert [f["sni"] for f in flows] == ["pq.example.org"]
