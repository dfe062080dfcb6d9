"""Live pipeline on loopback: worker handles in one fanout group see every datagram once."""

import json
import socket
import subprocess
import sys

PORT = 47613
DATAGRAMS = 200
SOURCES = 8


def test_fanout_workers_count_every_datagram_once(require_root, tmp_path):
    out = tmp_path / "flows.json"
    # Loopback shows each datagram once; -c stops the run when all have been counted.
    process = subprocess.Popen(
        [sys.executable, "-m", "netscope", "--headless", "-i", "lo", "-f", f"udp port {PORT}", "-c", str(DATAGRAMS),
         "--workers", "2", "--export-json", str(out)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout.readline().startswith("netscope")  # printed once the workers capture
        senders = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(SOURCES)]
        for i in range(DATAGRAMS):  # several source ports: several flows, spread over the shards
            senders[i % SOURCES].sendto(b"x" * 32, ("127.0.0.1", PORT))
        for sender in senders:
            sender.close()
        stdout, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, stderr
    assert "200" in next(line for line in stdout.splitlines() if line.startswith("Packets captured"))
    flows = json.loads(out.read_text())
    assert len(flows) == SOURCES
    assert sum(f["packets_total"] for f in flows) == DATAGRAMS
