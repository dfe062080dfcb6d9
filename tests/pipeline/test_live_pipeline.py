"""Live pipeline: worker handles in one fanout group see every datagram once; a lost interface is one error."""

import json
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
