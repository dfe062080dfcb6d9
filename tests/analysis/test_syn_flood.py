"""SYN flood rules (§4.1) on hand-made batches: thresholds, window edges, cooldown, text."""

import pytest

from netscope.analysis.anomaly import AnomalyDetector, AnomalySettings, PortScanSettings, SynFloodSettings
from netscope.parse.columns import PROTO_UDP, Status

from .synthetic import ACK, SYN_ACK, Packet, batch_of, syn

T0 = 1_700_000_000_000_000
SECOND = 1_000_000
NO_SCAN = PortScanSettings(enabled=False)


def detector(**syn_flood) -> AnomalyDetector:
    return AnomalyDetector(AnomalySettings(SynFloodSettings(**syn_flood), NO_SCAN))


def flood(count: int, sources: int, start: int = T0, step: int = 1000, dst: str = "10.0.0.1",
          port: int = 80) -> list[Packet]:
    return [syn(start + i * step, f"10.9.{(i % sources) // 250}.{(i % sources) % 250 + 1}", dst, port)
            for i in range(count)]


def test_default_thresholds_fire_at_the_200th_syn_from_50_sources():
    alerts = detector().observe(batch_of(flood(250, 50)))
    assert len(alerts) == 1
    alert = alerts[0]
    assert alert.kind == "syn_flood"
    assert alert.description == "SYN flood suspected: 200 syns, 50 sources to 10.0.0.1:80"
    assert alert.ts == (T0 + 199 * 1000) / 1e6
    assert alert.hosts == ("10.0.0.1:80",)


def test_one_syn_or_one_source_short_does_not_fire():
    assert detector().observe(batch_of(flood(199, 50))) == []
    assert detector().observe(batch_of(flood(400, 49))) == []


def test_sources_counted_when_the_syn_count_is_reached_later():
    # 200 SYNs from 10 sources, then new sources: fires on the 40th new one (50 distinct).
    packets = flood(200, 10) + [syn(T0 + SECOND + i, f"10.8.0.{i + 1}", "10.0.0.1", 80) for i in range(60)]
    alerts = detector().observe(batch_of(packets))
    assert [a.description for a in alerts] == ["SYN flood suspected: 240 syns, 50 sources to 10.0.0.1:80"]


def test_entry_exactly_one_window_old_still_counts_one_microsecond_more_does_not():
    settings = {"syn_threshold": 3, "unique_src_threshold": 1}
    at_edge = [syn(T0, "10.9.0.1", "10.0.0.1", 80), syn(T0 + 1, "10.9.0.1", "10.0.0.1", 80),
               syn(T0 + 5 * SECOND, "10.9.0.1", "10.0.0.1", 80)]
    assert len(detector(**settings).observe(batch_of(at_edge))) == 1
    past_edge = [*at_edge[:2], syn(T0 + 5 * SECOND + 2, "10.9.0.1", "10.0.0.1", 80)]
    assert detector(**settings).observe(batch_of(past_edge)) == []


def test_window_is_clamped_to_a_tenth_of_a_second():
    packets = [syn(T0 + i * 50_000, "10.9.0.1", "10.0.0.1", 80) for i in range(3)]  # 0.1 s apart end to end
    d = detector(window_secs=0.0, syn_threshold=3, unique_src_threshold=1)
    assert len(d.observe(batch_of(packets))) == 1


def test_cooldown_ignores_and_does_not_record_then_ends_exactly_on_time():
    d = detector(syn_threshold=2, unique_src_threshold=1, cooldown_secs=10.0)
    first = d.observe(batch_of([syn(T0, "10.9.0.1", "10.0.0.1", 80), syn(T0 + 1, "10.9.0.1", "10.0.0.1", 80)]))
    assert len(first) == 1
    # Cooling down until T0+1+10 s: these are ignored, and not recorded either.
    assert d.observe(batch_of([syn(T0 + 9 * SECOND + i, "10.9.0.1", "10.0.0.1", 80) for i in range(5)])) == []
    # The cooldown is over at exactly T0+1+10 s; the queue still holds nothing recent, so one SYN is not enough.
    assert d.observe(batch_of([syn(T0 + 1 + 10 * SECOND, "10.9.0.1", "10.0.0.1", 80)])) == []
    again = d.observe(batch_of([syn(T0 + 2 + 10 * SECOND, "10.9.0.1", "10.0.0.1", 80)]))
    assert [a.description for a in again] == ["SYN flood suspected: 2 syns, 1 sources to 10.0.0.1:80"]


def test_queue_is_not_cleared_by_firing():
    # Cooldown 0: the window keeps its entries, so every further SYN fires with a growing count.
    d = detector(syn_threshold=2, unique_src_threshold=1, cooldown_secs=0.0)
    alerts = d.observe(batch_of([syn(T0 + i, "10.9.0.1", "10.0.0.1", 80) for i in range(4)]))
    assert [a.description.split(":")[1] for a in alerts] == [" 2 syns, 1 sources to 10.0.0.1",
                                                            " 3 syns, 1 sources to 10.0.0.1",
                                                            " 4 syns, 1 sources to 10.0.0.1"]


def test_keys_are_destination_ip_and_port():
    packets = flood(150, 50, port=80) + flood(150, 50, start=T0 + 1, port=443)
    assert detector().observe(batch_of(packets)) == []


def test_only_pure_syns_of_parsed_packets_count():
    packets = flood(199, 50)
    noise = [Packet(T0 + 300_000, "10.9.0.7", 40000, "10.0.0.1", 80, flags=flags) for flags in (SYN_ACK, ACK)]
    noise += [Packet(T0 + 300_001, "10.9.0.7", 40000, "10.0.0.1", 80, proto=PROTO_UDP, flags=0),
              Packet(T0 + 300_002, "10.9.0.7", 40000, "10.0.0.1", 80, status=Status.FRAGMENT)]
    assert detector().observe(batch_of(packets + noise)) == []


def test_ipv6_target_text():
    packets = [syn(T0 + i, f"fd00::{i + 1:x}", "fd00::80", 443) for i in range(3)]
    alerts = detector(syn_threshold=3, unique_src_threshold=3).observe(batch_of(packets))
    assert alerts[0].description == "SYN flood suspected: 3 syns, 3 sources to fd00::80:443"
    assert alerts[0].hosts == ("[fd00::80]:443",)


def test_window_longer_than_a_day_is_rejected_with_its_key():
    with pytest.raises(ValueError, match=r"syn_flood\.window_secs"):
        SynFloodSettings(window_secs=100_000.0)


def test_counts_carry_across_many_small_batches():
    # 300 SYNs from 49 sources in 30 batches, then the 50th source: all within one window.
    d = detector()
    packets = flood(300, 49, step=10_000)
    for start in range(0, 300, 10):
        assert d.observe(batch_of(packets[start:start + 10])) == []
    alerts = d.observe(batch_of([syn(T0 + 3 * SECOND, "10.8.0.1", "10.0.0.1", 80)]))
    assert [a.description for a in alerts] == ["SYN flood suspected: 301 syns, 50 sources to 10.0.0.1:80"]


def test_entries_leave_the_window_between_batches():
    d = detector(syn_threshold=100, unique_src_threshold=1)
    d.observe(batch_of(flood(99, 5, step=10_000)))  # 0 .. 0.98 s
    # At 5.49 s the first 50 (0 .. 0.49 s) are more than 5 s old: 49 remain, plus 51 new = 100.
    later = flood(51, 5, start=T0 + 5_490_000, step=1)
    alerts = d.observe(batch_of(later))
    assert [a.description for a in alerts] == ["SYN flood suspected: 100 syns, 5 sources to 10.0.0.1:80"]
