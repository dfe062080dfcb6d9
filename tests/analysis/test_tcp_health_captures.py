"""TcpHealth on real captures, with tshark as the judge.

Per TCP flow, `rtt_handshake_ms` must equal tshark's tcp.analysis.initial_rtt to the
microsecond, and the retransmission and out-of-order counts must equal the number of
packets tshark flags tcp.analysis.retransmission and tcp.analysis.out_of_order.

Captures: the bundled sample (no loss; every TCP flow has a handshake); three captures
with real loss kept under tests/data, made with tcp_loss_lab.capture_transfer
(sender-lan: side a, no delay, 6% drop, 700 kB, seed 21; sender-wan: side a, 10 ms each
way, 5%, 400 kB, seed 12; receiver: side b, 2 ms, 5%, 400 kB, seed 13); the same with
their first packets cut off (no handshake, mid-stream start); the sample with copies of
real data segments re-sent 50 ms later; and, as root, a loss capture made on the spot.
"""

from __future__ import annotations

import math
import shutil
import subprocess
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import dpkt
import pytest

import netscope
from netscope.analysis.tcp_health import TcpHealth
from netscope.flow.records import FlowRow
from netscope.flow.tracker import FlowSettings, FlowTracker

from .captures import parsed_batches
from .tcp_loss_lab import capture_transfer, missing

pytestmark = pytest.mark.skipif(shutil.which("tshark") is None, reason="needs tshark")

DATA = Path(__file__).resolve().parent.parent / "data"
SAMPLE = Path(netscope.__file__).parent / "data" / "sample.pcap"
LOSS_CAPTURES = sorted(DATA.glob("tcp-loss-*.pcap"))

Endpoints = frozenset  # {(ip, port), (ip, port)}


@dataclass
class Judged:
    streams: set
    initial_rtt_us: int | None = None
    retransmissions: int = 0
    out_of_order: int = 0


def tshark_flows(path: Path) -> dict[Endpoints, Judged]:
    fields = ["tcp.stream", "ip.src", "ipv6.src", "tcp.srcport", "ip.dst", "ipv6.dst", "tcp.dstport",
              "tcp.analysis.initial_rtt", "tcp.analysis.retransmission", "tcp.analysis.out_of_order"]
    command = ["tshark", "-r", str(path), "-Y", "tcp", "-T", "fields", *(arg for f in fields for arg in ("-e", f))]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    flows: dict[Endpoints, Judged] = defaultdict(lambda: Judged(set()))
    for line in out.splitlines():
        stream, src4, src6, sport, dst4, dst6, dport, initial, retransmission, reordered = line.split("\t")
        flow = flows[frozenset({(src4 or src6, int(sport)), (dst4 or dst6, int(dport))})]
        flow.streams.add(stream)
        if initial and flow.initial_rtt_us is None:
            flow.initial_rtt_us = round(float(initial) * 1e6)
        flow.retransmissions += bool(retransmission)
        flow.out_of_order += bool(reordered)
    return dict(flows)


def health_rows(path: Path, batch_packets: int) -> dict[Endpoints, FlowRow]:
    tracker = FlowTracker(FlowSettings(timeout_s=0, max_flows=0))
    health = TcpHealth()
    for batch in parsed_batches(path, batch_packets):
        tracker.observe(batch)
        health.observe(batch, tracker.last_batch)
    rows = health.attach(tracker.snapshot()).rows()
    return {frozenset({(r.a_ip, r.a_port), (r.b_ip, r.b_port)}): r for r in rows if r.proto == "tcp"}


def assert_judged(path: Path, batch_packets: int) -> tuple[int, int, int]:
    """Compare every TCP flow tshark sees once (one tcp.stream); returns totals (handshakes, retrans, ooo)."""
    judged = tshark_flows(path)
    ours = health_rows(path, batch_packets)
    assert set(ours) == set(judged)
    handshakes = retransmissions = out_of_order = 0
    for key, truth in judged.items():
        if len(truth.streams) != 1:
            continue  # the 5-tuple was reused: tshark splits it, the flow table does not
        row = ours[key]
        handshake = None if row.rtt_handshake_ms is None else round(row.rtt_handshake_ms * 1000)
        assert (key, handshake) == (key, truth.initial_rtt_us)
        assert (key, row.retransmissions, row.out_of_order) == (key, truth.retransmissions, truth.out_of_order)
        handshakes += handshake is not None
        retransmissions += row.retransmissions
        out_of_order += row.out_of_order
    return handshakes, retransmissions, out_of_order


@pytest.mark.parametrize("batch_packets", [64, 4096])
def test_sample_handshakes_equal_tshark_initial_rtt(batch_packets: int) -> None:
    handshakes, retransmissions, out_of_order = assert_judged(SAMPLE, batch_packets)
    assert handshakes >= 100
    assert (retransmissions, out_of_order) == (0, 0)


def test_sample_rtt_estimator_is_filled() -> None:
    rows = health_rows(SAMPLE, 4096).values()
    measured = [r for r in rows if r.rtt_samples]
    assert len(measured) >= 100
    for row in measured:
        assert 0 <= row.rtt_min_ms <= min(row.rtt_ms, row.rtt_last_ms)
        assert not math.isnan(row.rtt_ms)


@pytest.mark.parametrize("batch_packets", [64, 4096])
@pytest.mark.parametrize("path", LOSS_CAPTURES, ids=lambda p: p.stem)
def test_loss_captures_match_tshark(path: Path, batch_packets: int) -> None:
    handshakes, retransmissions, out_of_order = assert_judged(path, batch_packets)
    assert handshakes == 1
    assert retransmissions + out_of_order >= 10


def rewrite(source: Path, target: Path, keep) -> None:
    """Copy `source` to `target` keeping the (index, ts, frame) records `keep` returns, in its order."""
    with open(source, "rb") as fh:
        reader = dpkt.pcap.Reader(fh)
        records = list(enumerate(reader))
        linktype, snaplen = reader.datalink(), reader.snaplen
    with open(target, "wb") as fh:
        writer = dpkt.pcap.Writer(fh, snaplen=snaplen, linktype=linktype)
        for ts, frame in keep([(i, ts, frame) for i, (ts, frame) in records]):
            writer.writepkt(frame, ts)


@pytest.mark.parametrize("path", LOSS_CAPTURES, ids=lambda p: p.stem)
def test_mid_stream_start_matches_tshark(path: Path, tmp_path: Path) -> None:
    cut = tmp_path / path.name
    rewrite(path, cut, lambda records: [(ts, frame) for i, ts, frame in records if i >= 30])
    handshakes, retransmissions, out_of_order = assert_judged(cut, 256)
    assert handshakes == 0
    assert retransmissions + out_of_order >= 5


def test_resent_copies_of_real_segments_are_retransmissions(tmp_path: Path) -> None:
    """Every 40th data segment of the sample's TCP flows sent again 50 ms later: all already
    acknowledged, so tshark calls them (spurious) retransmissions, and so must we."""
    copies = []

    def with_copies(records):
        data_segments = 0
        for _, ts, frame in records:
            ip = dpkt.ethernet.Ethernet(frame).data
            if isinstance(ip, dpkt.ip.IP) and isinstance(ip.data, dpkt.tcp.TCP) and ip.data.data:
                data_segments += 1
                if data_segments % 40 == 0:
                    copies.append((ts + 0.05, frame))
        return sorted([(ts, frame) for _, ts, frame in records] + copies, key=lambda record: record[0])

    resent = tmp_path / "resent.pcap"
    rewrite(SAMPLE, resent, with_copies)
    _, retransmissions, out_of_order = assert_judged(resent, 512)
    assert len(copies) >= 20
    assert (retransmissions, out_of_order) == (len(copies), 0)


@pytest.mark.skipif(missing() is not None, reason=str(missing()))
def test_loss_made_now_matches_tshark(tmp_path: Path) -> None:
    path = tmp_path / "loss.pcap"
    capture_transfer(path, side="a", delay_s=0.005, drop=0.05, size=300_000, seed=7)
    handshakes, retransmissions, out_of_order = assert_judged(path, 128)
    assert handshakes == 1
    assert retransmissions + out_of_order > 0
