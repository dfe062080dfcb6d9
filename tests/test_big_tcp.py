"""BIG TCP: Linux hands the capture point TCP super-packets longer than 65535 bytes.

An IPv4 one says total length 0, an IPv6 one payload length 0 with a Hop-by-Hop Jumbo Payload
option. Real ones are made here: loopback in a namespace of the test's own with gso_max_size
raised, an iperf3 transfer over it, captured with tcpdump (and live by netscope), and tshark's
flow table of that capture as the oracle. Before netscope read those lengths, 99 % of such a
transfer's bytes were parse errors.
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

from tests.tshark_oracle import export_flows, tshark_flows

BIG = 185_000  # the super-packet size the namespace's loopback may build
PORT = 5201
TRANSFER = "12M"
RATE = "4G"  # spread over about 25 ms, so that neither capture has to drop

# Sets IFLA_GSO_IPV4_MAX_SIZE and IFLA_GRO_IPV4_MAX_SIZE (63, 64) of lo over rtnetlink: the
# machine's iproute2 predates them. Prints the kernel's answer (0 = done).
SET_IPV4_SIZES = f"""
import socket, struct
attrs = b"".join(struct.pack("=HHI", 8, kind, {BIG}) for kind in (63, 64))
body = struct.pack("=BxHiII", 0, 0, socket.if_nametoindex("lo"), 0, 0) + attrs
message = struct.pack("=IHHII", 16 + len(body), 16, 1 | 4, 1, 0) + body  # RTM_NEWLINK, request + ack
with socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0) as s:
    s.send(message)
    print(struct.unpack_from("=i", s.recv(4096), 16)[0])
"""


def _in(namespace: str, *command: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(["ip", "netns", "exec", namespace, *command], capture_output=True, text=True, **kwargs)


@pytest.fixture
def big_tcp_namespace(require_root, require_tool) -> Iterator[tuple[str, bool]]:
    """(namespace, whether IPv4 BIG TCP could be set too) with lo up and BIG TCP on; removed afterwards."""
    for tool in ("ip", "iperf3", "tcpdump", "tshark"):
        require_tool(tool)
    namespace = f"nsbig{os.getpid() % 100000}"
    if subprocess.run(["ip", "netns", "add", namespace], capture_output=True).returncode:
        pytest.skip("cannot create a network namespace")
    try:
        subprocess.run(["ip", "-n", namespace, "link", "set", "lo", "up"], check=True, capture_output=True)
        sized = subprocess.run(["ip", "-n", namespace, "link", "set", "lo", "gso_max_size", str(BIG),
                                "gro_max_size", str(BIG)], capture_output=True, text=True)
        if sized.returncode:
            pytest.skip(f"this kernel or iproute2 has no BIG TCP: {sized.stderr.strip()}")
        ipv4 = _in(namespace, sys.executable, "-c", SET_IPV4_SIZES).stdout.strip() == "0"
        yield namespace, ipv4
    finally:
        subprocess.run(["ip", "netns", "del", namespace], capture_output=True)


def _started(process: subprocess.Popen, marker: str, stream: str) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        line = getattr(process, stream).readline()
        if marker in line:
            return
        if not line and process.poll() is not None:
            break
    raise AssertionError(f"{process.args[3]} did not start: no {marker!r}")


def _transfer(namespace: str, address: str) -> None:
    server = subprocess.Popen(["ip", "netns", "exec", namespace, "iperf3", "-s", "-1", "-p", str(PORT)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(50):
            if _in(namespace, "iperf3", "-c", address, "-p", str(PORT), "-n", TRANSFER, "-b", RATE).returncode == 0:
                break
            time.sleep(0.1)  # the server is not listening yet
        else:
            raise AssertionError("iperf3 transfer failed")
    finally:
        server.wait(timeout=20)


def _capture(namespace: str, path: Path, address: str, live_export: Path | None = None) -> None:
    """tcpdump (and, with `live_export`, netscope too) on the namespace's lo during one transfer."""
    # Immediate mode: without it tcpdump leaves a ring block unread at SIGINT (see LiveSource.drain).
    tcpdump = subprocess.Popen(["ip", "netns", "exec", namespace, "tcpdump", "-i", "lo", "-s", "200", "-B", "65536",
                                "--immediate-mode", "-w", str(path)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    netscope, stderr = None, ""
    try:
        _started(tcpdump, "listening on", "stderr")
        if live_export is not None:
            netscope = subprocess.Popen(["ip", "netns", "exec", namespace, sys.executable, "-m", "netscope",
                                         "--headless", "-i", "lo", "--buffer-size-mb", "64", "--stats",
                                         "--export-json", str(live_export)],
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                        env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])})
            _started(netscope, "[stats]", "stdout")
        _transfer(namespace, address)
        time.sleep(0.5)
    finally:
        for process in (netscope, tcpdump):
            if process is not None:
                process.send_signal(signal.SIGINT)
                _, errors = process.communicate(timeout=30)
                stderr = errors if process is netscope else stderr
    if netscope is not None:
        assert netscope.returncode == 0, stderr
        assert "Traceback" not in stderr


def _frame_lengths(path: Path) -> list[int]:
    return [int(length) for length in subprocess.run(["tshark", "-r", str(path), "-T", "fields", "-e", "frame.len"],
                                                     capture_output=True, text=True, check=True).stdout.split()]


def _netscope_export(path: Path, out: Path) -> list[dict]:
    result = subprocess.run([sys.executable, "-m", "netscope", "--headless", "--read-pcap", str(path),
                             "--export-json", str(out)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return json.loads(out.read_text())


@pytest.mark.timeout(120)
@pytest.mark.parametrize("address", ["127.0.0.1", "::1"])
def test_a_big_tcp_transfer_counts_as_tshark_counts_it(big_tcp_namespace, tmp_path: Path, address: str) -> None:
    namespace, ipv4 = big_tcp_namespace
    if ":" not in address and not ipv4:
        pytest.skip("this kernel does not take IPv4 BIG TCP sizes")
    capture = tmp_path / "big.pcap"
    _capture(namespace, capture, address)
    lengths = _frame_lengths(capture)
    if max(lengths) <= 65535:
        pytest.skip("the kernel sent no super-packet above 64 KiB")
    flows = _netscope_export(capture, tmp_path / "flows.json")
    assert export_flows(flows) == tshark_flows(capture)
    assert sum(r["bytes_total"] for r in flows) == sum(lengths)  # every packet is a flow's


@pytest.mark.timeout(120)
def test_live_capture_of_ipv6_jumbograms_cut_at_the_snaplen_counts_their_whole_length(
        big_tcp_namespace, tmp_path: Path) -> None:
    # netscope's live snaplen (4096) cuts every super-packet; the jumbo option still says how long it was.
    namespace, _ = big_tcp_namespace
    capture, live = tmp_path / "big.pcap", tmp_path / "live.json"
    _capture(namespace, capture, "::1", live_export=live)
    if max(_frame_lengths(capture)) <= 65535:
        pytest.skip("the kernel sent no super-packet above 64 KiB")
    assert export_flows(json.loads(live.read_text())) == tshark_flows(capture)

