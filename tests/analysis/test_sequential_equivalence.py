"""The batch evaluation gives exactly what the per-packet rules give, however packets are batched."""

import itertools
from unittest.mock import patch

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from netscope.analysis import entry_log, windows
from netscope.analysis.anomaly import AnomalyDetector, AnomalySettings, PortScanSettings, SynFloodSettings

from .synthetic import ACK, FIN, RST, SYN, SYN_ACK, XMAS, Packet, SequentialOracle, batch_of, udp

T0 = 1_700_000_000_000_000
V4 = ["10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5", "10.0.0.6"]
V6 = ["fd00::1", "fd00::2", "fd00::3"]

spans = st.sampled_from([0.0, 0.001, 0.05, 0.2, 1.0, 3.0])
anomaly_settings = st.builds(
    AnomalySettings,
    st.builds(SynFloodSettings, window_secs=spans, syn_threshold=st.integers(0, 12),
              unique_src_threshold=st.integers(0, 5), cooldown_secs=spans),
    st.builds(PortScanSettings, window_secs=spans, unique_ports_threshold=st.integers(0, 8),
              unique_hosts_threshold=st.integers(0, 5), cooldown_secs=spans),
)


@st.composite
def packet_streams(draw) -> list[Packet]:
    packets, t = [], T0
    for _ in range(draw(st.integers(1, 250))):
        # Mostly forward steps of all sizes, some equal times and a few steps back in time.
        t += draw(st.sampled_from([0, 0, 1, 100, 5_000, 60_000, 400_000, 2_000_000, -3_000]))
        family = V6 if draw(st.integers(0, 5)) == 0 else V4
        src, dst = draw(st.sampled_from(family)), draw(st.sampled_from(family))
        if draw(st.booleans()):
            flags = draw(st.sampled_from([SYN, SYN, SYN, SYN_ACK, ACK, FIN, 0, XMAS, RST, RST | ACK]))
            packets.append(Packet(t, src, draw(st.integers(1000, 1003)), dst, draw(st.integers(1, 9)), flags=flags))
        else:
            ports = st.sampled_from([53, 5000, 5001, 7000])
            packets.append(udp(t, src, draw(ports), dst, draw(ports)))
    return packets


def _run(settings_: AnomalySettings, packets: list[Packet], cuts: list[int]) -> list[tuple]:
    detector = AnomalyDetector(settings_)
    bounds = [0, *sorted({c % (len(packets) + 1) for c in cuts}), len(packets)]
    alerts = []
    for start, end in itertools.pairwise(bounds):
        if end > start:
            alerts += [(a.ts, a.kind, a.description, a.hosts) for a in detector.observe(batch_of(packets[start:end]))]
    return alerts


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(anomaly_settings, packet_streams(), st.lists(st.integers(0, 300), max_size=6))
def test_batches_equal_the_sequential_rules(settings_, packets, cuts):
    assert _run(settings_, packets, cuts) == SequentialOracle(settings_).observe(packets)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(anomaly_settings, packet_streams(), st.lists(st.integers(0, 300), max_size=10),
       st.lists(st.integers(0, 300), max_size=10))
def test_batch_boundaries_do_not_matter(settings_, packets, cuts, other_cuts):
    assert _run(settings_, packets, cuts) == _run(settings_, packets, other_cuts)


def test_default_settings_on_a_long_mixed_stream():
    # Enough traffic for the default thresholds and several cooldowns, in uneven batches.
    packets, t = [], T0
    for i in range(20_000):
        t += (i * 7919) % 3000
        kind = (i * 31) % 10
        if kind < 5:
            packets.append(Packet(t, f"10.1.{i % 7}.{(i * 13) % 90 + 1}", 40000, "10.0.0.1", 80))
        elif kind < 8:
            packets.append(Packet(t, "10.2.0.9", 40001, f"10.3.0.{(i * 17) % 40 + 1}", (i * 7) % 120 + 1))
        else:
            packets.append(udp(t, f"10.4.0.{i % 30 + 1}", 50000 + i % 5, "10.5.0.1", 9999))
            packets.append(udp(t + 1, "10.5.0.1", 9999, f"10.4.0.{i % 30 + 1}", 50000 + i % 5))
    expected = SequentialOracle(AnomalySettings()).observe(packets)
    assert len(expected) >= 4
    assert _run(AnomalySettings(), packets, [1, 2, 1000, 4000, 4096, 9000, 15000]) == expected


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(anomaly_settings, packet_streams(), st.lists(st.integers(0, 300), max_size=6))
def test_storage_housekeeping_does_not_change_results(settings_, packets, cuts):
    # Tiny log chunks and member-log rewrites after every batch exercise the storage paths
    # that realistic volumes reach only after thousands of packets.
    with patch.object(entry_log, "CHUNK_ENTRIES", 3), patch.object(windows, "COMPACT_AT_LEAST", 0):
        assert _run(settings_, packets, cuts) == SequentialOracle(settings_).observe(packets)
