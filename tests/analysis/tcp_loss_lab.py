"""Real TCP loss without netem: two namespaces joined through a user-space bridge that drops frames.

Namespace `a` (client, 10.77.9.1) and namespace `b` (server, 10.77.9.2) each have a veth
whose peer sits in namespace `r`, where a small Python program forwards Ethernet frames
between the two peers after a fixed delay and drops a seeded-random share of the TCP
frames that carry payload (both directions, so ACKs of data are lost too when the server
sends). The kernels at both ends see real loss and recover from it the way they do on a
real path: fast retransmissions, RTO retransmissions, reordering seen from the sender's
side. tcpdump on one end's veth records what that end saw (snaplen 96: headers only).

Offloads are off on every veth so frames stay MTU-sized (the bridge cannot forward
64 KB GSO frames). Needs root, ip, ethtool and tcpdump; used by the live test and to make
the captures kept under tests/data.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

BRIDGE = r'''
import heapq, random, select, socket, sys, time
left, right, delay, drop, seed = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5])
rng = random.Random(seed)
socks = {}
for name in (left, right):
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
    s.bind((name, 0))
    s.setblocking(False)
    socks[name] = s
peer = {left: socks[right], right: socks[left]}
queue, n = [], 0
print("ready", flush=True)
while True:
    timeout = max(0.0, queue[0][0] - time.monotonic()) if queue else 0.5
    ready, _, _ = select.select(list(socks.values()), [], [], timeout)
    for name, s in socks.items():
        if s not in ready:
            continue
        while True:
            try:
                frame, addr = s.recvfrom(65535)
            except BlockingIOError:
                break
            if addr[2] == socket.PACKET_OUTGOING:
                continue
            if frame[12:14] == b"\x08\x00" and frame[23] == 6:
                ihl = (frame[14] & 15) * 4
                total = int.from_bytes(frame[16:18], "big")
                data_offset = (frame[14 + ihl + 12] >> 4) * 4
                if total - ihl - data_offset > 0 and rng.random() < drop:
                    continue
            n += 1
            heapq.heappush(queue, (time.monotonic() + delay, n, name, frame))
    now = time.monotonic()
    while queue and queue[0][0] <= now:
        _, _, name, frame = heapq.heappop(queue)
        peer[name].send(frame)
'''

SERVER = r'''
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], 5001))
s.listen()
print("ready", flush=True)
c, _ = s.accept()
while c.recv(65536):
    pass
c.sendall(b"ok")
c.close()
'''

CLIENT = r'''
import socket, sys
s = socket.create_connection((sys.argv[1], 5001))
s.sendall(b"x" * int(sys.argv[2]))
s.shutdown(socket.SHUT_WR)
s.recv(10)
s.close()
'''

CLIENT_IP, SERVER_IP = "10.77.9.1", "10.77.9.2"


def missing() -> str | None:
    """Why the lab cannot run here, or None."""
    if os.geteuid() != 0:
        return "needs root for network namespaces"
    for tool in ("ip", "ethtool", "tcpdump"):
        if shutil.which(tool) is None:
            return f"needs {tool}"
    return None


def _run(*command: str) -> None:
    subprocess.run(command, check=True, capture_output=True, timeout=30)


def _ready(process: subprocess.Popen) -> None:
    line = process.stdout.readline() if process.stdout else ""
    if "ready" not in line:
        raise RuntimeError(f"helper did not start: {process.stderr.read() if process.stderr else ''}")


def capture_transfer(out: Path, *, side: str, delay_s: float, drop: float, size: int, seed: int) -> None:
    """Send `size` bytes from a to b through the lossy bridge; write what `side` ('a'/'b') saw to `out`."""
    tag = f"{os.getpid() % 100000}"
    spaces = {name: f"nstcp{name}{tag}" for name in "arb"}
    ends = {"a": (f"vta{tag}", f"vra{tag}"), "b": (f"vtb{tag}", f"vrb{tag}")}
    helpers: list[subprocess.Popen] = []
    try:
        for space in spaces.values():
            _run("ip", "netns", "add", space)
            _run("ip", "-n", space, "link", "set", "lo", "up")
        for end, address in (("a", CLIENT_IP), ("b", SERVER_IP)):
            inner, outer = ends[end]
            _run("ip", "link", "add", inner, "netns", spaces[end], "type", "veth", "peer", "name", outer,
                 "netns", spaces["r"])
            _run("ip", "-n", spaces[end], "addr", "add", f"{address}/24", "dev", inner)
            for space, device in ((spaces[end], inner), (spaces["r"], outer)):
                _run("ip", "-n", space, "link", "set", device, "up")
                subprocess.run(["ip", "netns", "exec", space, "ethtool", "-K", device, "tso", "off", "gso", "off",
                                "gro", "off", "tx", "off", "rx", "off"], capture_output=True, timeout=30)

        def start(space: str, source: str, *args: str) -> subprocess.Popen:
            process = subprocess.Popen(["ip", "netns", "exec", space, sys.executable, "-c", source, *args],
                                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            helpers.append(process)
            return process

        _ready(start(spaces["r"], BRIDGE, ends["a"][1], ends["b"][1], str(delay_s), str(drop), str(seed)))
        dump = subprocess.Popen(["ip", "netns", "exec", spaces[side], "tcpdump", "--immediate-mode", "-Z", "root", "-i",
                                 ends[side][0],
                                 "-s", "96", "-U", "-w", str(out), "tcp"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        helpers.append(dump)
        time.sleep(1.0)  # tcpdump has no ready signal
        server = start(spaces["b"], SERVER, SERVER_IP)
        _ready(server)
        subprocess.run(["ip", "netns", "exec", spaces["a"], sys.executable, "-c", CLIENT, SERVER_IP, str(size)],
                       check=True, capture_output=True, timeout=120)
        server.wait(timeout=30)
        time.sleep(0.5)
        dump.terminate()
        dump.wait(timeout=10)
    finally:
        for process in helpers:
            if process.poll() is None:
                process.kill()
                process.wait()
        for space in spaces.values():
            subprocess.run(["ip", "netns", "del", space], capture_output=True)
