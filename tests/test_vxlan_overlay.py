"""A real overlay network: two namespaces joined by a veth underlay and a kernel VXLAN device.

TCP and UDP run between the overlay addresses (IPv4 and IPv6), tcpdump and a live netscope
capture the underlay, where every packet is VXLAN in UDP between the two tunnel endpoints.
Both netscope's replay and its live capture must see the inner flows tshark dissects.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.tshark_oracle import export_flows, netscope_flows, tshark_flows

UNDERLAY = ("10.79.0.1", "10.79.0.2")
OVERLAY = ("192.168.79.1", "192.168.79.2")
OVERLAY6 = ("fd79::1", "fd79::2")
PORT = 5799

TRAFFIC = f"""
import socket, sys
family, server, client = sys.argv[1], sys.argv[2], sys.argv[3]
kind = socket.AF_INET6 if family == "6" else socket.AF_INET
with socket.socket(kind, socket.SOCK_STREAM) as c:
    c.bind((client, 0))
    c.connect((server, {PORT}))
    c.sendall(b"x" * 300_000)
    c.shutdown(socket.SHUT_WR)
    assert c.recv(64) == b"300000", "the server did not get the whole transfer"
with socket.socket(kind, socket.SOCK_DGRAM) as u:
    u.bind((client, 0))
    u.settimeout(2)
    for size in (100, 900, 1300):
        u.sendto(b"q" * size, (server, {PORT}))
        u.recvfrom(2048)
"""
SERVE = f"""
import socket, sys, threading
family, address = sys.argv[1], sys.argv[2]
kind = socket.AF_INET6 if family == "6" else socket.AF_INET
udp = socket.socket(kind, socket.SOCK_DGRAM)
udp.bind((address, {PORT}))
def echo():
    while True:
        data, peer = udp.recvfrom(2048)
        udp.sendto(data, peer)
threading.Thread(target=echo, daemon=True).start()
tcp = socket.create_server((address, {PORT}), family=kind)
print("listening", flush=True)
conn, _ = tcp.accept()
with conn:
    received = 0
    while chunk := conn.recv(65536):
        received += len(chunk)
    conn.sendall(str(received).encode())
threading.Event().wait()  # the UDP echo goes on until the test kills this process
"""


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True)


@pytest.fixture
def overlay(require_root, require_tool) -> Iterator[tuple[str, str, str]]:
    """(client namespace, server namespace, the server's underlay device), removed afterwards."""
    for tool in ("ip", "tcpdump", "tshark"):
        require_tool(tool)
    tag = os.getpid() % 100000
    a, b, veth_a, veth_b = f"nsvxA{tag}", f"nsvxB{tag}", f"vxa{tag}", f"vxb{tag}"
    try:
        _ip("netns", "add", a)
        _ip("netns", "add", b)
        _ip("link", "add", veth_a, "netns", a, "type", "veth", "peer", "name", veth_b, "netns", b)
        for ns, dev, local, remote, inner, inner6 in ((a, veth_a, UNDERLAY[0], UNDERLAY[1], OVERLAY[0], OVERLAY6[0]),
                                                      (b, veth_b, UNDERLAY[1], UNDERLAY[0], OVERLAY[1], OVERLAY6[1])):
            _ip("-n", ns, "link", "set", "lo", "up")
            _ip("-n", ns, "addr", "add", f"{local}/24", "dev", dev)
            _ip("-n", ns, "link", "set", dev, "up")
            if subprocess.run(["ip", "-n", ns, "link", "add", "vx0", "type", "vxlan", "id", "79", "dstport", "4789",
                               "local", local, "remote", remote, "dev", dev], capture_output=True).returncode:
                pytest.skip("this kernel has no VXLAN devices")
            _ip("-n", ns, "addr", "add", f"{inner}/24", "dev", "vx0")
            _ip("-n", ns, "addr", "add", f"{inner6}/64", "dev", "vx0", "nodad")
            _ip("-n", ns, "link", "set", "vx0", "up")
        yield a, b, veth_b
    finally:
        for ns in (a, b):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)


def _run_traffic(client: str, server: str) -> None:
    for family, (client_ip, server_ip) in (("4", OVERLAY), ("6", OVERLAY6)):
        serve = subprocess.Popen(["ip", "netns", "exec", server, sys.executable, "-c", SERVE, family, server_ip],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            assert serve.stdout is not None and "listening" in serve.stdout.readline(), serve.stderr
            done = subprocess.run(["ip", "netns", "exec", client, sys.executable, "-c", TRAFFIC, family, server_ip,
                                   client_ip], capture_output=True, text=True, timeout=60)
            assert done.returncode == 0, done.stderr
        finally:
            serve.kill()
            serve.wait()


def _started(process: subprocess.Popen, marker: str, stream: str) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        line = getattr(process, stream).readline()
        if marker in line or (not line and process.poll() is not None):
            break
    assert process.poll() is None, f"{process.args} did not start"


@pytest.mark.timeout(120)
@pytest.mark.parametrize("workers", ["0", "2"])
def test_flows_inside_a_vxlan_overlay_equal_tshark_s_inner_flows(overlay, tmp_path: Path, workers: str) -> None:
    """With two workers the kernel's fanout shards the live capture: an inner flow's two directions
    travel with other outer ports, so its program hashes tunnel packets by address."""
    client, server, underlay = overlay
    pipeline = ["--workers", workers] if workers != "0" else []
    capture, replayed, live = tmp_path / "underlay.pcap", tmp_path / "replay.json", tmp_path / "live.json"
    tcpdump = subprocess.Popen(["ip", "netns", "exec", server, "tcpdump", "-i", underlay, "-s", "256", "-n", "-U",
                                "--immediate-mode", "-w", str(capture)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    netscope = subprocess.Popen(["ip", "netns", "exec", server, sys.executable, "-m", "netscope", "--headless",
                                 "-i", underlay, "--stats", "--export-json", str(live), *pipeline],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])})
    try:
        _started(tcpdump, "listening on", "stderr")
        _started(netscope, "[stats]", "stdout")
        _run_traffic(client, server)
        time.sleep(0.5)
    finally:
        for process in (netscope, tcpdump):
            process.send_signal(signal.SIGINT)
            _, errors = process.communicate(timeout=30)
    assert netscope.returncode == 0 and "Traceback" not in errors, errors

    expected = tshark_flows(capture, innermost=True)
    inner = {key for key in expected if key[1] in OVERLAY + OVERLAY6}
    # A TCP and a UDP flow per address family, and nothing of the tunnel itself but ARP/ND's carrier.
    assert sorted(key[0] for key in inner) == ["tcp", "tcp", "udp", "udp"]
    assert all(key[2] != 4789 and key[4] != 4789 for key in inner)
    assert netscope_flows(capture, replayed) == expected
    records = {(r["protocol"], r["endpoint_a"]["ip"]): r for r in json.loads(replayed.read_text())}
    transfer = records[("tcp", OVERLAY[0])]
    assert transfer["bytes_a_to_b"] > 300_000 and transfer["tcp_state"] == "closed" and transfer["rtt_samples"] > 0
    # The live capture saw the same packets (tcpdump may have started a moment earlier or later).
    live_flows = export_flows(json.loads(live.read_text()))
    for key in inner:
        assert live_flows[key] == expected[key]
