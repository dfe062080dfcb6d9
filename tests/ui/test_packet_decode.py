from __future__ import annotations

import struct

import dpkt
import pytest

from netscope.capture.batch import RawBatch
from netscope.engine.messages import PacketRecord
from netscope.parse.batch_parser import parse_batch
from netscope.ui.packet_decode import client_hello, decode, direction, dns_summary, hex_dump, valid_hostname
from tests.parse import test_tunnels as parse_tunnels

from . import packets
from .fake_link import IPERF, detail_packets


def record(frame: bytes, keep: int = 512, linktype: int = 1) -> PacketRecord:
    return PacketRecord(ts=1.0, wirelen=len(frame), linktype=linktype, data=frame[:keep])


def test_tcp_flags_seq_ack_and_direction():
    syn_ack = packets.tcp("10.88.0.2", 5201, "10.88.0.1", 39246, dpkt.tcp.TH_SYN | dpkt.tcp.TH_ACK, 5000, 1001)
    packet = decode(record(syn_ack))
    assert packet.protocol == "TCP"
    assert packet.info == "[SYN, ACK] seq=5000 ack=1001 win=64240 len=0"
    assert (packet.src, packet.dst) == ("10.88.0.2:5201", "10.88.0.1:39246")
    assert direction(packet, IPERF.key) == "B→A"
    assert [layer.name for layer in packet.layers] == ["Ethernet", "IPv4", "TCP"]


def test_payload_length_comes_from_ip_header_even_when_truncated():
    frame = packets.tcp("10.0.0.1", 1, "10.0.0.2", 2, dpkt.tcp.TH_ACK, 1, 1, b"z" * 1000)
    assert decode(record(frame, keep=96)).info.endswith("len=1000")


def _v6_tcp(payload_len: int, hop_by_hop: bytes) -> bytes:
    segment = bytes(dpkt.tcp.TCP(sport=1, dport=2, seq=1, ack=1, flags=dpkt.tcp.TH_ACK, data=b"z" * 100))
    header = struct.pack("!IHBB16s16s", 6 << 28, payload_len, 0, 64, bytes(15) + b"\1", bytes(15) + b"\2")
    return bytes(12) + b"\x86\xdd" + header + hop_by_hop + segment


def test_payload_lengths_of_super_packets_are_the_ones_the_flows_count():
    # Linux's BIG TCP (tests/test_big_tcp.py): IPv6 jumbograms and IPv4 total length 0, cut by the snaplen.
    jumbo = _v6_tcp(0, bytes([6, 0, 0xC2, 4]) + struct.pack("!I", 130_968))
    packet = decode(PacketRecord(ts=1.0, wirelen=14 + 40 + 130_968, linktype=1, data=jumbo, l3_offset=14))
    assert packet.info.endswith("len=130940") and ("Payload length", "0 (jumbo: 130968)") in packet.layers[1].fields
    plain = decode(record(_v6_tcp(8 + 20 + 100, bytes([6, 0, 1, 4, 0, 0, 0, 0]))))  # a PadN option
    assert plain.info.endswith("len=100")
    tso = bytearray(packets.tcp("10.0.0.1", 1, "10.0.0.2", 2, dpkt.tcp.TH_ACK, 1, 1, b"z" * 100))
    tso[16:18] = b"\0\0"
    packet = decode(PacketRecord(ts=1.0, wirelen=14 + 20 + 20 + 70_000, linktype=1, data=bytes(tso),
                                 l3_offset=14))
    assert packet.info.endswith("len=70000")
    assert ("Total length", "0 (TSO: 70040 by the frame)") in packet.layers[1].fields


def test_mpls_and_pppoe_layers_lead_to_the_ip_packet():
    inner = packets.tcp("10.0.0.1", 1, "10.0.0.2", 2, dpkt.tcp.TH_ACK, 1, 1, b"z" * 10)[14:]
    labelled = bytes(12) + b"\x88\x47" + struct.pack("!II", 100 << 12 | 64, 200 << 12 | 1 << 8 | 64) + inner
    packet = decode(record(labelled))
    assert [layer.name for layer in packet.layers] == ["Ethernet", "MPLS", "IPv4", "TCP"]
    assert packet.layers[1].fields == (("Label", "100 (exp 0, ttl 64)"), ("Label", "200 (exp 0, ttl 64)"))
    session = bytes(12) + b"\x88\x64" + struct.pack("!BBHHH", 0x11, 0, 0x1234, len(inner) + 2, 0x0021) + inner
    packet = decode(record(session))
    assert [layer.name for layer in packet.layers] == ["Ethernet", "PPPoE", "IPv4", "TCP"]
    assert packet.info.endswith("len=10") and packet.layers[1].fields[0] == ("Session", "0x1234")


def test_dns_query_and_answer():
    query = decode(record(packets.udp("10.0.0.1", 40000, "10.0.0.53", 53, packets.dns_query("example.org"))))
    assert query.protocol == "DNS" and query.info == "id=0x1234 Q A example.org"
    answer = decode(record(packets.udp("10.0.0.53", 53, "10.0.0.1", 40000,
                                       packets.dns_answer("example.org", "93.184.215.14"))))
    assert answer.info == "id=0x1234 R NOERROR example.org A 93.184.215.14"
    fields = dict(answer.layers[-1].fields)
    assert fields["Question"] == "A example.org" and fields["Answer"] == "example.org A 93.184.215.14"


def test_dns_that_dpkt_cannot_parse_keeps_its_header():
    payload = packets.dns_query("example.org")[:-3]
    layer, brief = dns_summary(payload)
    assert brief == "id=0x1234 Q"
    assert any(name == "Parse note" for name, _ in layer.fields)
    assert dns_summary(b"short") == (None, "")


def test_tls_client_hello_sni_even_when_the_record_is_cut():
    hello = packets.client_hello("www.example.test", padding=600)
    assert client_hello(hello) == ("www.example.test", 0x0303)
    frame = packets.tcp("10.0.0.1", 50000, "10.0.0.2", 443, dpkt.tcp.TH_ACK | dpkt.tcp.TH_PUSH, 1, 1, hello)
    packet = decode(record(frame, keep=512))
    assert packet.protocol == "TLS" and packet.info == "ClientHello sni=www.example.test"


@pytest.mark.parametrize("name", [b"under_score.test", b"-lead.test", b"trail.", b"a..b", b"x" * 64 + b".test"])
def test_invalid_server_names_are_not_reported(name):
    assert client_hello(packets.client_hello(name)) == (None, 0x0303)


def test_non_tls_payloads_are_not_client_hellos():
    assert client_hello(b"GET / HTTP/1.1\r\n") is None
    assert client_hello(b"\x16\x03\x01\x00\x05\x02\x00\x00\x01\x00" + b"\x00" * 40) is None  # ServerHello
    assert valid_hostname("a-b.example") and not valid_hostname("")


def test_http_request_line_and_host():
    frame = packets.tcp("10.0.0.1", 51566, "10.0.0.2", 8080, dpkt.tcp.TH_ACK | dpkt.tcp.TH_PUSH, 1, 1,
                        packets.HTTP_GET)
    packet = decode(record(frame))
    assert packet.protocol == "HTTP" and packet.info == "GET /index.html HTTP/1.1"
    assert dict(packet.layers[-1].fields)["Host"] == "example.test"


def test_ipv6_tcp():
    frame = packets.tcp("fd00::1", 443, "fd00::2", 51000, dpkt.tcp.TH_SYN, 7)
    packet = decode(record(frame))
    assert packet.src == "[fd00::1]:443" and packet.layers[1].name == "IPv6"


def test_raw_ip_link_type_and_garbage():
    ip_only = packets.tcp("10.0.0.1", 1, "10.0.0.2", 2, dpkt.tcp.TH_SYN, 1)[14:]
    assert decode(record(ip_only, linktype=101)).protocol == "TCP"
    garbage = decode(record(b"\x01\x02\x03", linktype=1))
    assert garbage.src == "" and "no IP layer" in garbage.info


def test_hex_dump_rows_match_the_reference_layout():
    rows = hex_dump(bytes(range(20)))
    assert rows[0] == "0000  00 01 02 03 04 05 06 07  08 09 0a 0b 0c 0d 0e 0f  |................|"
    assert rows[1].startswith("0010  10 11 12 13") and rows[1].endswith("|....|")
    assert len(rows[0]) == len(rows[1].split("|")[0]) + len("|................|")
    assert hex_dump(bytes(300))[-1] == "... (44 bytes remaining)"


def test_every_scenario_packet_decodes():
    for packet_record in detail_packets(IPERF.key):
        assert decode(packet_record).protocol == "TCP"


@pytest.mark.parametrize(("wrap", "layer", "vni"), [
    (lambda inner: parse_tunnels.ether(0x0800, parse_tunnels.outer_udp(4789, parse_tunnels.vxlan(
        parse_tunnels.ether(0x0800, inner), vni=79))), "VXLAN tunnel", "79"),
    (lambda inner: parse_tunnels.ether(0x0800, parse_tunnels.outer_ip(47, parse_tunnels.gre(0x0800, inner, key=3))),
     "GRE tunnel", None),
    (lambda inner: parse_tunnels.ether(0x0800, parse_tunnels.outer_ip(47, parse_tunnels.erspan(
        parse_tunnels.ether(0x0800, inner), 2))), "ERSPAN tunnel", None),
])
def test_a_tunnelled_packet_shows_its_inner_flow_under_the_tunnel(wrap, layer: str, vni: str | None):
    # Where the parser took the inner packet's flow (its l3_offset), so does the detail view.
    frame = wrap(parse_tunnels.INNER_TCP)
    l3 = int(parse_batch(RawBatch.from_packets([frame], [0], 1)).l3_offset[0])
    packet = decode(PacketRecord(ts=1.0, wirelen=len(frame), linktype=1, data=frame, l3_offset=l3))
    assert (packet.src, packet.dst, packet.protocol) == ("10.0.0.1:40000", "192.168.1.2:443", "TCP")
    names = [layer.name for layer in packet.layers]
    assert names == ["Ethernet", layer, "IPv4", "TCP"]
    fields = dict(packet.layers[1].fields)
    assert fields["Outer destination"].startswith("172.16.0.2")
    assert fields.get("VNI") == vni


def test_arp_inside_vxlan_stays_the_outer_udp_packet():
    frame = parse_tunnels.ether(0x0800, parse_tunnels.outer_udp(4789, parse_tunnels.vxlan(
        parse_tunnels.ether(0x0806, bytes(28)))))
    packet = decode(PacketRecord(ts=1.0, wirelen=len(frame), linktype=1, data=frame, l3_offset=14))
    assert (packet.protocol, packet.dst) == ("UDP", "172.16.0.2:4789")


@pytest.mark.parametrize("linktype", [127, 105], ids=["radiotap", "bare 802.11"])
def test_wifi_frames_show_radiotap_802_11_and_snap_before_the_ip_packet(linktype: int):
    from tests.parse import test_wifi

    head = test_wifi.radiotap() if linktype == 127 else b""
    frames = test_wifi.ip_frames()
    packet = decode(record(head + frames[2], linktype=linktype))  # QoS data with HT control, to the AP
    names = [layer.name for layer in packet.layers]
    assert names[: 3 if linktype == 127 else 2] == (["Radiotap"] if linktype == 127 else []) + ["802.11", "LLC/SNAP"]
    wifi = dict(next(layer for layer in packet.layers if layer.name == "802.11").fields)
    assert wifi["Direction"] == "to the AP (ToDS)" and wifi["Transmitter"] == "02:00:00:00:00:01"
    assert wifi["Type"] == "Data (QoS), subtype 8"
    assert (packet.src, packet.dst, packet.protocol) == ("192.168.1.20:50000", "93.184.216.34:443", "TCP")
    encrypted = decode(record(head + test_wifi.other_frames()[2], linktype=linktype))
    assert dict(encrypted.layers[-1].fields)["Protected"] == "yes: the body is encrypted" and encrypted.src == ""
    v6 = decode(record(head + frames[4], linktype=linktype))  # between access points: four addresses
    assert v6.src == "[fd00::1]:5000" and v6.protocol == "UDP"
