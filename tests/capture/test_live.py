"""LiveSource on loopback and on a veth pair into a network namespace the test creates.

Traffic goes only to 127.0.0.1 or into the test's own namespace; each test filters on a port
it picked, so whatever else crosses the interface does not matter.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import netscope
from netscope.capture.batch import RawBatch
from netscope.capture.errors import CaptureError
from netscope.capture.live import LiveSource

UDP_PAYLOAD_AT = 14 + 20 + 8  # Ethernet + IPv4 + UDP on lo and veth
WAIT_LIMIT_S = 20  # upper bound on waiting for packets; the assertions are on contents, not time
REPO_ROOT = Path(netscope.__file__).resolve().parents[1]


@pytest.fixture
def udp_port() -> Iterator[int]:
    """A bound UDP port on loopback (bound, so the kernel does not answer with ICMP errors)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as receiver:
        receiver.bind(("127.0.0.1", 0))
        yield receiver.getsockname()[1]


def capture_during(source: LiveSource, send: Callable[[], None], expected: int) -> list[RawBatch]:
    """Read `source` in a thread while `send` runs, until `expected` packets or the wait limit."""
    stop = threading.Event()
    batches: list[RawBatch] = []

    def read() -> None:
        batches.extend(b for b in source.batches(stop) if b.count)

    reader = threading.Thread(target=read)
    reader.start()
    try:
        send()
        give_up = time.monotonic() + WAIT_LIMIT_S
        while sum(b.count for b in list(batches)) < expected and time.monotonic() < give_up:
            time.sleep(0.02)
    finally:
        stop.set()
        reader.join(WAIT_LIMIT_S)
    assert not reader.is_alive(), "batches() did not honour the stop event"
    return batches


def send_udp(address: tuple[str, int], payloads: list[bytes]) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
        for payload in payloads:
            sender.sendto(payload, address)


def payloads_seen(batches: list[RawBatch]) -> list[bytes]:
    return [b.packet(i)[UDP_PAYLOAD_AT:] for b in batches for i in range(b.count)]


@pytest.mark.usefixtures("require_root")
class TestLoopback:
    def test_datagrams_are_captured_once_each(self, udp_port):
        payloads = [b"netscope-%05d" % i + bytes(100) for i in range(200)]
        with LiveSource("lo", bpf_filter=f"udp port {udp_port}", timeout_ms=20) as source:
            assert source.linktype == 1
            batches = capture_during(source, lambda: send_udp(("127.0.0.1", udp_port), payloads), 200)
            received, _dropped, _if_dropped = source.stats()
            assert received >= 200
            assert source.wirelen_estimated == 0
        assert sorted(payloads_seen(batches)) == payloads
        for batch in batches:
            assert (batch.wirelen == batch.caplen).all() and (batch.caplen == UDP_PAYLOAD_AT + len(payloads[0])).all()
            assert (batch.ts_us > 1_600_000_000 * 10**6).all()

    def test_small_snaplen_estimates_wire_length(self, udp_port):
        with LiveSource("lo", snaplen=64, bpf_filter=f"udp port {udp_port}", timeout_ms=20) as source:
            batches = capture_during(source, lambda: send_udp(("127.0.0.1", udp_port), [bytes(1000)] * 30), 30)
            assert source.wirelen_estimated == 30
        assert sum(b.count for b in batches) == 30
        for batch in batches:
            assert (batch.caplen == 64).all() and (batch.wirelen == UDP_PAYLOAD_AT + 1000).all()

    def test_idle_link_yields_empty_batches_and_stops(self, udp_port):
        empty_reads = 0

        def enough() -> bool:
            return empty_reads >= 3

        with LiveSource("lo", bpf_filter=f"udp port {udp_port}", timeout_ms=10) as source:
            for batch in source.batches(enough):
                assert batch.count == 0 and batch.linktype == 1
                empty_reads += 1
        assert empty_reads == 3

    def test_drain_hands_over_what_the_ring_holds_at_a_stop(self, udp_port):
        """Sent just now, the datagrams sit in a ring block the read timeout has not retired yet."""
        with LiveSource("lo", bpf_filter=f"udp port {udp_port}", timeout_ms=300) as source:
            send_udp(("127.0.0.1", udp_port), [b"late-%02d" % i for i in range(20)])
            drained = list(source.drain())  # returns after one read timeout, traffic or not
        assert sorted(payloads_seen(drained)) == [b"late-%02d" % i for i in range(20)]

    def test_close_from_another_thread_ends_batches(self, udp_port):
        source = LiveSource("lo", bpf_filter=f"udp port {udp_port}", timeout_ms=10)
        closer = threading.Timer(0.1, source.close)
        closer.start()
        assert all(b.count == 0 for b in source.batches())  # returns once closed
        closer.join()
        assert source.stats() == (0, 0, 0)

    def test_fanout_group_shares_packets_without_duplicates(self, udp_port):
        group = os.getpid() & 0xFFFF
        sources = [LiveSource("lo", bpf_filter=f"udp port {udp_port}", timeout_ms=10) for _ in range(2)]
        try:
            for source in sources:
                source.fanout(group)
            stop = threading.Event()
            counts = [0, 0]

            def read(i: int) -> None:
                for batch in sources[i].batches(stop):
                    counts[i] += batch.count

            readers = [threading.Thread(target=read, args=(i,)) for i in range(2)]
            for reader in readers:
                reader.start()
            for port_offset in range(20):  # many flows, so the hash has something to spread
                with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
                    sender.bind(("127.0.0.1", 0))
                    sender.sendto(b"%d" % port_offset, ("127.0.0.1", udp_port))
            give_up = time.monotonic() + WAIT_LIMIT_S
            while sum(counts) < 20 and time.monotonic() < give_up:
                time.sleep(0.02)
            time.sleep(0.1)  # a duplicate, if fanout failed, would arrive with the originals
            stop.set()
            for reader in readers:
                reader.join(WAIT_LIMIT_S)
        finally:
            for source in sources:
                source.close()
        assert sum(counts) == 20

    def test_invalid_filter(self):
        with pytest.raises(CaptureError) as err:
            LiveSource("lo", bpf_filter="tcp prt 80")
        assert str(err.value) == "invalid BPF filter 'tcp prt 80': can't parse filter expression: syntax error"


def test_veth_capture_sees_traffic_from_namespace(veth_namespace):
    namespace, host_if, host_ip, peer_ip = veth_namespace
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as receiver:
        receiver.bind((host_ip, 0))
        port = receiver.getsockname()[1]
        sender = ("import socket\n"
                  "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
                  f"for i in range(40): s.sendto(b'veth-%03d' % i, ('{host_ip}', {port}))\n")
        with LiveSource(host_if, bpf_filter=f"udp port {port}", timeout_ms=20) as source:
            batches = capture_during(source, lambda: subprocess.run(
                ["ip", "netns", "exec", namespace, sys.executable, "-c", sender], check=True), 40)
            assert source.linktype == 1
    assert sorted(payloads_seen(batches)) == [b"veth-%03d" % i for i in range(40)]
    first = batches[0].packet(0)
    assert first[26:30] == socket.inet_aton(peer_ip) and first[30:34] == socket.inet_aton(host_ip)


def test_unknown_interface(require_root):
    with pytest.raises(CaptureError) as err:
        LiveSource("nosuchif0")
    assert str(err.value) == "no such interface 'nosuchif0' (see --list-interfaces)"


PERMISSION_PROBE = """
from netscope.capture.errors import CaptureError
from netscope.capture.live import LiveSource
try:
    LiveSource("lo")
except CaptureError as exc:
    print(exc)
"""


def test_permission_error_names_the_fix():
    expected = "live capture on lo needs root or CAP_NET_RAW (or replay a file with --read-pcap)"
    if os.geteuid() != 0:
        with pytest.raises(CaptureError) as err:
            LiveSource("lo")
        assert str(err.value) == expected
        return
    capsh = shutil.which("capsh")
    if capsh is None:
        pytest.skip("running as root and capsh (to drop CAP_NET_RAW) is not installed")
    done = subprocess.run([capsh, "--drop=cap_net_raw", "--", "-c", 'exec "$0" "$@"',
                           sys.executable, "-c", PERMISSION_PROBE],
                          cwd=REPO_ROOT, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == expected
