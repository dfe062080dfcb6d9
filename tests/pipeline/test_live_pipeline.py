"""Live pipeline: worker handles in one fanout group see every datagram once; a lost interface is one error."""

import json
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid

from netscope.config import Config
from netscope.engine.session import build_engine, open_source
from netscope.pipeline.engine import ShardNames
from netscope.pipeline.worker import TickRequest

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


def test_traffic_already_flowing_when_the_workers_start_is_one_flow_on_one_shard(require_root, tmp_path):
    """Until a handle joins the fanout group it gets every packet, and until the last one joins the
    kernel spreads flows over fewer handles: packets of that time could reach two shards, one flow
    became two rows and more packets were counted than were sent. The workers drop them."""
    out = tmp_path / "flows.json"
    sent = 0
    stop = threading.Event()

    def send() -> None:
        nonlocal sent
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:  # one source port: one flow
            while not stop.is_set():
                sender.sendto(b"x" * 32, ("127.0.0.1", PORT))
                sent += 1
                time.sleep(0.0002)

    thread = threading.Thread(target=send)
    thread.start()
    process = None
    try:
        process = subprocess.Popen(
            [sys.executable, "-m", "netscope", "--headless", "-i", "lo", "-f", f"udp port {PORT}", "--workers", "4",
             "--export-json", str(out)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert process.stdout.readline().startswith("netscope")  # printed once the workers capture
        time.sleep(0.5)
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=60)
    finally:
        stop.set()
        thread.join()
        if process is not None and process.poll() is None:
            process.kill()
    assert process.returncode == 0, stderr
    flows = json.loads(out.read_text())
    assert len(flows) == 1, flows
    assert 0 < flows[0]["packets_total"] <= sent


def test_an_interface_that_goes_away_is_the_workers_one_line_error(require_root, tmp_path):
    """The veth pair is this test's own: deleting it mid-capture is what unplugging looks like."""
    name = f"nsq{uuid.uuid4().hex[:8]}"
    subprocess.run(["ip", "link", "add", name, "type", "veth", "peer", "name", f"{name}p"], check=True)
    out = tmp_path / "flows.json"
    process = None
    try:
        for end in (name, f"{name}p"):
            subprocess.run(["ip", "link", "set", end, "up"], check=True)
        process = subprocess.Popen(
            [sys.executable, "-m", "netscope", "--headless", "-i", name, "--workers", "2", "--export-json", str(out)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert process.stdout.readline().startswith("netscope")  # printed once the workers capture
        time.sleep(0.5)
        subprocess.run(["ip", "link", "del", name], check=True)
        _, stderr = process.communicate(timeout=60)
    finally:
        if process is not None and process.poll() is None:
            process.kill()
        subprocess.run(["ip", "link", "del", name], capture_output=True)
    errors = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert process.returncode == 1 and "Traceback" not in stderr, stderr
    assert len(errors) == 1 and errors[0].startswith("error: pipeline worker ") and \
        f"capture on {name} failed: The interface went down" in errors[0], stderr
    assert json.loads(out.read_text()) == []  # written, and closed, though the capture failed


def test_a_live_pipeline_asks_its_shards_for_names_unless_names_are_off(require_root):
    """Its rows and expired flows are named from every shard's observer, as a file pipeline's are."""
    for names in (True, False):
        config = Config().replace("capture", interface="lo").replace("pipeline", enabled=True, workers=2).replace(
            "analysis", names=names)
        source = open_source(config)
        engine = build_engine(config, source, keep_recent_packets=True, top_n=10)
        try:
            assert isinstance(engine.names_now, ShardNames) is names
            assert engine.names_now is None or names
        finally:
            engine.close()
            source.close()


FRAGMENTING_SENDER = """
import socket, sys
host, port = sys.argv[1], int(sys.argv[2])
senders = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(12)]
for round in range(10):
    for sender in senders:  # every flow: datagrams that fit the 1,500-byte MTU and ones cut in three
        sender.sendto(b"f" * (4000 if round % 2 else 200), (host, port))
"""


def test_a_flow_of_fragmented_and_whole_datagrams_stays_on_one_shard(veth_namespace, tmp_path):
    """The kernel's own fanout hash leaves a first fragment's ports out, so a flow whose big
    datagrams fragment became two flows on two shards; the group's program hashes them alike."""
    namespace, host_if, host_ip, _ = veth_namespace
    out = tmp_path / "flows.json"
    process = subprocess.Popen(
        [sys.executable, "-m", "netscope", "--headless", "-i", host_if, "-f",
         f"udp port {PORT} or ip[6:2] & 0x1fff != 0", "--workers", "2", "--export-json", str(out)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout.readline().startswith("netscope")  # printed once the workers capture
        subprocess.run(["ip", "netns", "exec", namespace, sys.executable, "-c", FRAGMENTING_SENDER, host_ip, str(PORT)],
                       check=True, timeout=30)
        time.sleep(0.3)
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, stderr
    flows = json.loads(out.read_text())
    assert len(flows) == 12 and {f["packets_total"] for f in flows} == {10}, flows  # first fragments count
    assert re.search(r"^  non-initial fragment +120$", stdout, re.M), stdout  # 5 x 2 later fragments x 12 flows


def test_the_fanout_program_spreads_flows_over_every_worker(require_root):
    """Both shards get flows (a program that sent every packet to one handle would pass the tests
    above), each flow is on exactly one of them, and a TCP connection's two directions are one flow.
    IPv6 hashes by address alone, so its flows between ::1 and itself share a shard."""
    config = Config().replace("capture", interface="lo", filter=f"port {PORT}").replace(
        "pipeline", enabled=True, workers=2)
    source = open_source(config)
    engine = build_engine(config, source, keep_recent_packets=False, top_n=64)
    try:
        senders = [(socket.socket(family, socket.SOCK_DGRAM), address)  # open together: 32 source ports
                   for family, address, count in ((socket.AF_INET, "127.0.0.1", 24), (socket.AF_INET6, "::1", 8))
                   for _ in range(count)]
        for sender, address in senders:
            sender.sendto(b"s" * 16, (address, PORT))
        for sender, _ in senders:
            sender.close()
        with socket.create_server(("127.0.0.1", PORT)) as server, \
                socket.create_connection(("127.0.0.1", PORT)) as client:
            accepted, _ = server.accept()
            with accepted:
                client.sendall(b"ping")
                assert accepted.recv(4) == b"ping"
                accepted.sendall(b"pong")
                assert client.recv(4) == b"pong"
        deadline = time.monotonic() + 10
        while True:
            parts = engine.workers.ask_all(TickRequest("live", 64, None))
            active = [part.snapshot.totals.active_flows for part in parts]
            if sum(active) >= 33 or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        rows = [row for part in parts for row in part.snapshot.top_flows]
    finally:
        engine.close()
        source.close()
    assert sum(active) == 33 and min(active) > 0, (active, sorted(row.key for row in rows))
    assert len({row.key for row in rows}) == 33
    tcp = next(row for row in rows if row.proto == "tcp")
    assert tcp.packets_ab > 0 and tcp.packets_ba > 0, tcp
