"""Key state is freed by packet time, so a random-source flood cannot grow memory without bound."""

import numpy as np
import pytest

from netscope.analysis.anomaly import AnomalyDetector, AnomalySettings
from netscope.parse.columns import PROTO_TCP, PROTO_UDP

from .synthetic import batch_of, random_source_flood, syn

T0 = 1_700_000_000_000_000
SECOND = 1_000_000


@pytest.mark.parametrize("proto", [PROTO_TCP, PROTO_UDP], ids=["syn", "udp"])
def test_tracked_keys_follow_the_window_not_the_flood_length(proto):
    rate, batch, seconds = 4000, 2000, 150
    rng = np.random.default_rng(7)
    detector = AnomalyDetector(AnomalySettings())
    start, peak, alerts = T0, 0, []
    for _ in range(seconds * rate // batch):
        packets = random_source_flood(rng, start, batch, rate, proto=proto)
        start = int(packets.ts_us[-1]) + 1
        alerts += detector.observe(packets)
        peak = max(peak, detector.tracked_keys)
    # Every packet comes from a new source: a port-scan key each (and a UDP flow each for UDP).
    # They live at most 1.5 port-scan windows (10 s) after their packet, so the peak is about
    # 15 s of sources, whatever the length of the flood.
    per_packet = 1 if proto == PROTO_TCP else 2
    assert 10 * rate * per_packet < peak <= 16 * rate * per_packet
    if proto == PROTO_TCP:  # the flood itself is reported once per cooldown (10 s) of packet time
        assert all(a.kind == "syn_flood" for a in alerts)
        assert seconds // 11 <= len(alerts) <= seconds // 10 + 1
    else:
        assert alerts == []
    # Once the flood stops, one packet a minute later lets everything go.
    detector.observe(batch_of([syn(start + 60 * SECOND, "10.9.0.1", "10.0.0.1", 80)]))
    detector.observe(batch_of([syn(start + 120 * SECOND, "10.9.0.1", "10.0.0.1", 80)]))
    assert detector.tracked_keys <= 2


def test_cooling_keys_are_kept_until_the_cooldown_ends():
    settings = AnomalySettings()
    detector = AnomalyDetector(settings)
    scan = [syn(T0 + i, "10.0.0.66", f"10.0.1.{i + 1}", 22) for i in range(10)]
    assert len(detector.observe(batch_of(scan))) == 1
    # 20 s later the window is empty but the 30 s cooldown still runs: a new scan stays silent.
    detector.observe(batch_of([syn(T0 + 20 * SECOND, "10.9.9.9", "10.0.0.1", 80)]))
    rescan = [syn(T0 + 25 * SECOND + i, "10.0.0.66", f"10.0.2.{i + 1}", 22) for i in range(10)]
    assert detector.observe(batch_of(rescan)) == []
