"""Port scan rules (§4.2) and the UDP reply fix on hand-made batches."""

from netscope.analysis.anomaly import AnomalyDetector, AnomalySettings, PortScanSettings, SynFloodSettings

from .synthetic import ACK, FIN, RST, SYN_ACK, Packet, batch_of, syn, udp

T0 = 1_700_000_000_000_000
SECOND = 1_000_000
NO_FLOOD = SynFloodSettings(enabled=False)


def detector(**port_scan) -> AnomalyDetector:
    return AnomalyDetector(AnomalySettings(NO_FLOOD, PortScanSettings(**port_scan)))


def descriptions(alerts) -> list[str]:
    return [a.description for a in alerts]


def test_25_ports_on_one_host_fire_with_the_reference_text():
    packets = [syn(T0 + port * 1000, "10.0.0.66", "10.0.0.1", port) for port in range(1, 31)]
    alerts = detector().observe(batch_of(packets))
    assert descriptions(alerts) == ["Port scan suspected: 25 ports, 1 hosts from 10.0.0.66"]
    assert alerts[0].kind == "port_scan"
    assert alerts[0].hosts == ("10.0.0.66",)
    assert alerts[0].ts == (T0 + 25 * 1000) / 1e6


def test_24_ports_and_9_hosts_do_not_fire():
    packets = [syn(T0 + i, "10.0.0.66", f"10.0.1.{i % 9 + 1}", 1 + i % 24) for i in range(200)]
    assert detector().observe(batch_of(packets)) == []


def test_10_hosts_on_one_port_fire():
    packets = [syn(T0 + i, "10.0.0.66", f"10.0.1.{i + 1}", 22) for i in range(12)]
    assert descriptions(detector().observe(batch_of(packets))) == [
        "Port scan suspected: 1 ports, 10 hosts from 10.0.0.66"]


def test_ports_are_counted_across_hosts():
    packets = [syn(T0 + i, "10.0.0.66", f"10.0.1.{i % 5 + 1}", 100 + i % 25) for i in range(25)]
    assert descriptions(detector(unique_hosts_threshold=100).observe(batch_of(packets))) == [
        "Port scan suspected: 25 ports, 5 hosts from 10.0.0.66"]


def test_probes_spread_wider_than_the_window_do_not_fire():
    packets = [syn(T0 + i * 500_000, "10.0.0.66", "10.0.0.1", 1 + i) for i in range(60)]  # 20 per 10 s
    assert detector().observe(batch_of(packets)) == []


def test_cooldown_is_per_source_and_30_seconds():
    scan = [syn(T0 + i, "10.0.0.66", f"10.0.1.{i + 1}", 22) for i in range(10)]
    other = [syn(T0 + 100 + i, "10.0.0.67", f"10.0.1.{i + 1}", 22) for i in range(10)]
    d = detector()
    assert len(d.observe(batch_of(scan + other))) == 2
    later = [syn(T0 + 29 * SECOND + i, "10.0.0.66", f"10.0.2.{i + 1}", 22) for i in range(10)]
    assert d.observe(batch_of(later)) == []
    after = [syn(T0 + 40 * SECOND + i, "10.0.0.66", f"10.0.3.{i + 1}", 22) for i in range(10)]
    assert len(d.observe(batch_of(after))) == 1


def test_syn_acks_and_acks_do_not_count():
    packets = [Packet(T0 + i, "10.0.0.1", 80, f"10.0.1.{i + 1}", 40000 + i, flags=SYN_ACK if i % 2 else ACK)
               for i in range(40)]
    assert detector().observe(batch_of(packets)) == []


def test_rsts_without_ack_count_as_probes_of_their_sender_by_their_receiver():
    # An ACK scan's probes are not counted; the target's answers are, for the scanner.
    probes = [Packet(T0 + 2 * i, "10.0.0.66", 50000, "10.0.0.1", 1 + i, flags=ACK) for i in range(30)]
    answers = [Packet(T0 + 2 * i + 1, "10.0.0.1", 1 + i, "10.0.0.66", 50000, flags=RST) for i in range(30)]
    packets = [p for pair in zip(probes, answers, strict=True) for p in pair]
    alerts = detector().observe(batch_of(packets))
    assert descriptions(alerts) == ["Port scan suspected: 25 ports, 1 hosts from 10.0.0.66"]
    assert alerts[0].hosts == ("10.0.0.66",)
    assert alerts[0].ts == (T0 + 2 * 24 + 1) / 1e6  # the 25th answer
    assert detector().observe(batch_of(probes)) == []


def test_a_connection_s_own_rsts_do_not_count():
    # Aborted connections (RST with ACK, also after a FIN) from one server to many clients' ports.
    packets = [Packet(T0 + i, "10.0.0.1", 80, f"10.0.1.{i % 20 + 1}", 40000 + i,
                      flags=RST | ACK | (FIN if i % 2 else 0)) for i in range(40)]
    assert detector().observe(batch_of(packets)) == []


def test_udp_probes_count():
    packets = [udp(T0 + i, "10.0.0.66", 40000, "10.0.0.1", 1000 + i) for i in range(25)]
    assert descriptions(detector().observe(batch_of(packets))) == [
        "Port scan suspected: 25 ports, 1 hosts from 10.0.0.66"]


def test_a_server_answering_many_clients_is_not_a_scanner():
    # The reference reports the server (§4.2): 12 clients are 12 "hosts" from 10.0.0.1.
    packets = []
    for i in range(12):
        client = f"10.0.1.{i + 1}"
        packets += [udp(T0 + i * 1000, client, 50000 + i, "10.0.0.1", 7777),
                    udp(T0 + i * 1000 + 10, "10.0.0.1", 7777, client, 50000 + i)]
    assert detector().observe(batch_of(packets)) == []


def test_replies_from_service_ports_do_not_count_even_without_the_request():
    packets = [udp(T0 + i, "10.0.0.53", 53, f"10.0.1.{i + 1}", 40000 + i) for i in range(20)]
    assert detector().observe(batch_of(packets)) == []


def test_an_answered_probe_does_not_hide_the_rest_of_the_scan():
    # The first target answers; the scanner keeps probing other hosts from the same socket.
    packets = [udp(T0, "10.0.0.66", 40000, "10.0.1.1", 7000), udp(T0 + 5, "10.0.1.1", 7000, "10.0.0.66", 40000)]
    packets += [udp(T0 + 10 + i, "10.0.0.66", 40000, f"10.0.1.{i + 2}", 7000) for i in range(9)]
    assert descriptions(detector().observe(batch_of(packets))) == [
        "Port scan suspected: 1 ports, 10 hosts from 10.0.0.66"]


def test_a_reply_long_after_the_request_counts_again():
    packets = [udp(T0, "10.0.1.1", 50000, "10.0.0.1", 7777),
               udp(T0 + 11 * SECOND, "10.0.0.1", 7777, "10.0.1.1", 50000)]
    d = detector(unique_hosts_threshold=1)
    assert descriptions(d.observe(batch_of(packets))) == [
        "Port scan suspected: 1 ports, 1 hosts from 10.0.1.1",
        "Port scan suspected: 1 ports, 1 hosts from 10.0.0.1"]


def test_request_and_reply_in_different_batches():
    d = detector(unique_hosts_threshold=1)
    assert len(d.observe(batch_of([udp(T0, "10.0.1.1", 50000, "10.0.0.1", 7777)]))) == 1
    assert d.observe(batch_of([udp(T0 + SECOND, "10.0.0.1", 7777, "10.0.1.1", 50000)])) == []


def test_one_packet_raises_both_alerts_flood_first():
    d = AnomalyDetector(AnomalySettings(SynFloodSettings(syn_threshold=1, unique_src_threshold=1),
                                        PortScanSettings(unique_hosts_threshold=1)))
    alerts = d.observe(batch_of([syn(T0, "10.0.0.66", "10.0.0.1", 80)]))
    assert [(a.kind, a.ts) for a in alerts] == [("syn_flood", T0 / 1e6), ("port_scan", T0 / 1e6)]


def test_alerts_come_in_packet_order_across_detectors():
    d = AnomalyDetector(AnomalySettings(SynFloodSettings(syn_threshold=3, unique_src_threshold=1),
                                        PortScanSettings(unique_hosts_threshold=2)))
    packets = [syn(T0, "10.0.0.66", "10.0.0.1", 80), syn(T0 + 1, "10.0.0.66", "10.0.0.2", 80),
               syn(T0 + 2, "10.0.0.67", "10.0.0.1", 80), syn(T0 + 3, "10.0.0.68", "10.0.0.1", 80)]
    assert [(a.kind, a.ts) for a in d.observe(batch_of(packets))] == [
        ("port_scan", (T0 + 1) / 1e6), ("syn_flood", (T0 + 3) / 1e6)]
