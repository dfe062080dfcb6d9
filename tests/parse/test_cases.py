"""Named cases of reference §2.1-2.4/2.7 that random generation reaches rarely or dpkt cannot judge."""

from __future__ import annotations

import socket
import struct

import dpkt
import pytest

from netscope.capture.batch import RawBatch
from netscope.parse.batch_parser import parse_batch
from netscope.parse.columns import PROTO_ICMP, PROTO_TCP, TCP_ACK, TCP_SYN, ParsedBatch, Status

MACS = b"\x02\x00\x00\x00\x00\x0b\x02\x00\x00\x00\x00\x0a"
V4_SRC, V4_DST = socket.inet_aton("10.0.0.1"), socket.inet_aton("192.168.1.2")
V6_SRC, V6_DST = socket.inet_pton(socket.AF_INET6, "2001:db8::1"), socket.inet_pton(socket.AF_INET6, "::1")


def tcp(payload: bytes = b"", flags: int = TCP_SYN | TCP_ACK) -> dpkt.tcp.TCP:
    segment = dpkt.tcp.TCP(sport=40000, dport=443, seq=7, ack=9, win=512, data=payload)
    segment.flags = flags
    return segment


def ipv4(segment: bytes | dpkt.Packet, proto: int = PROTO_TCP, **fields: int) -> bytes:
    return bytes(dpkt.ip.IP(src=V4_SRC, dst=V4_DST, p=proto, data=segment, **fields))


def ipv6(body: bytes, next_header: int, payload_len: int | None = None) -> bytes:
    plen = len(body) if payload_len is None else payload_len
    return bytes(dpkt.ip6.IP6(src=V6_SRC, dst=V6_DST, nxt=next_header, hlim=64, plen=plen, data=body))


def ether(l3: bytes, ethertype: int = 0x0800, tags: tuple[tuple[int, int], ...] = ()) -> bytes:
    """Ethernet frame; `tags` are (TPID, TCI) pairs in wire order."""
    return MACS + b"".join(struct.pack(">HH", tpid, tci) for tpid, tci in tags) + struct.pack(">H", ethertype) + l3


def parse(packets: list[bytes], linktype: int = 1, wirelen: list[int] | None = None) -> ParsedBatch:
    return parse_batch(RawBatch.from_packets(packets, [0] * len(packets), linktype, wirelen))


def only(packet: bytes, linktype: int = 1, wirelen: int | None = None) -> dict[str, int]:
    parsed = parse([packet], linktype, None if wirelen is None else [wirelen])
    return {name: getattr(parsed, name)[0].item() for name in parsed.__slots__}


# ---------------------------------------------------------------- link layer


def test_every_link_type_finds_the_same_tcp_segment() -> None:
    packet = ipv4(tcp())
    framings = {
        1: ether(packet),
        113: struct.pack(">HHH8sH", 0, 1, 6, bytes(8), 0x0800) + packet,
        276: struct.pack(">HHiHBB8s", 0x0800, 0, 2, 1, 4, 6, bytes(8)) + packet,
        0: struct.pack("<I", 2) + packet,
        108: struct.pack(">I", 2) + packet,
        12: packet,
        101: packet,
        228: packet,
    }
    for linktype, frame in framings.items():
        row = only(frame, linktype)
        header = len(frame) - len(packet)
        assert (row["status"], row["ip_version"], row["src_port"], row["dst_port"]) == (Status.OK, 4, 40000, 443)
        assert (row["l3_offset"], row["l4_offset"]) == (header, header + 20), linktype


def test_null_family_in_either_byte_order_and_ipv6_by_nibble() -> None:
    packet = ipv6(bytes(tcp()), PROTO_TCP)
    for family in (struct.pack("<I", 24), struct.pack(">I", 30), struct.pack("<I", 10), b"\xff" * 4):
        row = only(family + packet, 0)
        assert (row["status"], row["ip_version"], row["dst_lo"]) == (Status.OK, 6, 1)


def test_fixed_version_raw_links_reject_the_other_version() -> None:
    assert only(ipv6(b"", 59), 228)["status"] == Status.BAD_IP
    assert only(ipv4(tcp()), 229)["status"] == Status.BAD_IP
    assert only(ipv6(b"", 59), 229)["status"] == Status.OK


@pytest.mark.parametrize(("frame", "linktype", "status"), [
    (b"", 12, Status.TRUNCATED_IP),  # raw link, not even one IP byte
    (struct.pack("<I", 2), 0, Status.TRUNCATED_IP),
    (b"\x02\x00\x00", 0, Status.TRUNCATED_LINK),
    (b"\x00" * 20, 101, Status.NOT_IP),  # first nibble is neither 4 nor 6
    (MACS + b"\x08", 1, Status.TRUNCATED_LINK),
    (bytes(15), 113, Status.TRUNCATED_LINK),
    (bytes(19), 276, Status.TRUNCATED_LINK),
    (MACS + b"\x88\xcc" + bytes(40), 1, Status.NOT_IP),  # LLDP
    (MACS + b"\x05\xdc" + bytes(40), 1, Status.NOT_IP),  # 802.3 length field
])
def test_link_layer_failures(frame: bytes, linktype: int, status: Status) -> None:
    assert only(frame, linktype)["status"] == status


def test_stacked_vlan_tags_report_the_outer_id() -> None:
    packet = ipv4(tcp())
    qinq = only(ether(packet, tags=((0x88A8, 0x2064), (0x8100, 0x00C8))))
    assert (qinq["status"], qinq["vlan_id"], qinq["l3_offset"], qinq["dst_port"]) == (Status.OK, 0x064, 22, 443)
    single = only(ether(packet, tags=((0x8100, 0xE00A),)))
    assert (single["vlan_id"], single["l3_offset"]) == (10, 18)


def test_stacks_of_up_to_eight_vlan_tags_are_followed_as_tshark_follows_them() -> None:
    for count in (3, 8):
        tags = ((0x88A8, 1), *((0x8100, 2 + i) for i in range(count - 1)))
        row = only(ether(ipv4(tcp()), tags=tags))
        assert (row["status"], row["vlan_id"], row["l3_offset"], row["dst_port"]) == (
            Status.OK, 1, 14 + 4 * count, 443)
    ninth = only(ether(ipv4(tcp()), tags=((0x8100, 7),) * 9))
    assert (ninth["status"], ninth["vlan_id"]) == (Status.NOT_IP, 7)


def test_a_cut_vlan_tag_is_a_truncated_link() -> None:
    frame = ether(ipv4(tcp()), tags=((0x8100, 5), (0x8100, 6)))
    assert only(frame[:16])["status"] == Status.TRUNCATED_LINK
    assert only(frame[:20])["status"] == Status.TRUNCATED_LINK


def test_vlan_after_sll_and_sll2() -> None:
    packet = ipv6(bytes(tcp()), PROTO_TCP)
    sll = struct.pack(">HHH8sH", 0, 1, 6, bytes(8), 0x8100) + struct.pack(">HH", 42, 0x86DD) + packet
    sll2 = struct.pack(">HHiHBB8s", 0x88A8, 0, 2, 1, 4, 6, bytes(8)) + struct.pack(">HH", 7, 0x86DD) + packet
    assert (only(sll, 113)["vlan_id"], only(sll, 113)["l3_offset"], only(sll, 113)["dst_port"]) == (42, 20, 443)
    assert (only(sll2, 276)["vlan_id"], only(sll2, 276)["l3_offset"], only(sll2, 276)["status"]) == (7, 24, Status.OK)


# ---------------------------------------------------------------- IPv4


def test_ipv4_addresses_sit_in_the_low_32_bits() -> None:
    row = only(ether(ipv4(tcp())))
    assert (row["src_hi"], row["src_lo"], row["dst_hi"], row["dst_lo"]) == (0, 0x0A000001, 0, 0xC0A80102)


@pytest.mark.parametrize(("mutate", "status"), [
    (lambda p: bytes([0x44]) + p[1:], Status.BAD_IP),  # IHL 4
    (lambda p: bytes([0x55]) + p[1:], Status.BAD_IP),  # version 5 under EtherType IPv4
    (lambda p: p[:2] + struct.pack(">H", 19) + p[4:], Status.BAD_IP),  # total length below the header
    (lambda p: p[:19], Status.TRUNCATED_IP),
    (lambda p: bytes([0x46]) + p[1:22], Status.TRUNCATED_IP),  # options announced, not captured
    (lambda p: bytes([0x55]) + p[1:10], Status.TRUNCATED_IP),  # too short is reported before version
])
def test_ipv4_header_errors(mutate, status: Status) -> None:
    row = only(ether(mutate(ipv4(tcp()))))
    assert (row["status"], row["ip_version"], row["l3_offset"], row["has_l4"]) == (status, 0, -1, False)


def test_non_initial_fragment_keeps_addresses_but_has_no_transport() -> None:
    later = only(ether(ipv4(b"\x01" * 40, offset=185)))
    assert (later["status"], later["ip_proto"], later["src_lo"], later["has_l4"], later["src_port"]) == (
        Status.FRAGMENT, PROTO_TCP, 0x0A000001, False, 0)
    first = only(ether(ipv4(tcp(b"x" * 100), mf=1)))
    assert (first["status"], first["dst_port"], first["payload_len"]) == (Status.OK, 443, 100)


def test_ipv4_options_are_skipped() -> None:
    packet = dpkt.ip.IP(src=V4_SRC, dst=V4_DST, p=PROTO_TCP, opts=b"\x01" * 8, data=tcp(b"abc"))
    packet.hl = 7
    row = only(ether(bytes(packet)))
    assert (row["l4_offset"], row["dst_port"], row["payload_len"]) == (14 + 28, 443, 3)


def test_transport_header_must_fit_inside_the_ip_total_length() -> None:
    # Total length covers 10 bytes of the TCP header; the rest sits in the Ethernet trailer.
    packet = bytearray(ipv4(tcp()))
    packet[2:4] = struct.pack(">H", 30)
    row = only(ether(bytes(packet)))
    assert (row["status"], row["has_l4"], row["ip_proto"]) == (Status.TRUNCATED_L4, False, PROTO_TCP)


def test_ethernet_padding_is_not_payload() -> None:
    udp = dpkt.udp.UDP(sport=53, dport=5353, ulen=8 + 2, data=b"hi")
    frame = ether(ipv4(udp, proto=17)) + bytes(16)
    row = only(frame)
    assert (row["payload_len"], row["src_port"], row["caplen"]) == (2, 53, len(frame))


def test_total_length_zero_is_the_rest_of_the_frame() -> None:
    # Linux's IPv4 BIG TCP: super-packets above 65535 bytes say 0; tshark takes the frame's length.
    header = bytearray(ipv4(b"", proto=PROTO_TCP))
    header[2:4] = b"\0\0"
    frame = ether(bytes(header) + bytes(tcp(b"s" * 70_000)))
    row = only(frame)
    assert (row["status"], row["dst_port"], row["payload_len"]) == (Status.OK, 443, 70_000)
    cut = only(frame[:200], wirelen=len(frame))  # a file says how long the frame was
    assert (cut["status"], cut["payload_len"], cut["wirelen"]) == (Status.OK, 70_000, len(frame))


def test_payload_length_comes_from_headers_on_snaplen_cut_captures() -> None:
    frame = ether(ipv4(tcp(b"z" * 1400)))
    row = only(frame[:68], wirelen=len(frame))
    assert (row["status"], row["payload_len"], row["wirelen"], row["caplen"]) == (Status.OK, 1400, len(frame), 68)


# ---------------------------------------------------------------- IPv6


def extension(kind: int, next_header: int, length_field: int = 0) -> bytes:
    if kind == 51:
        return bytes([next_header, length_field]) + bytes((length_field + 2) * 4 - 2)
    if kind == 44:
        return bytes([next_header, 0]) + bytes(6)
    return bytes([next_header, length_field]) + bytes((length_field + 1) * 8 - 2)


def test_ipv6_addresses_are_two_big_endian_halves() -> None:
    row = only(ether(ipv6(bytes(tcp()), PROTO_TCP), 0x86DD))
    assert (row["src_hi"], row["src_lo"]) == (0x20010DB800000000, 1)
    assert (row["dst_hi"], row["dst_lo"]) == (0, 1)


def test_every_known_extension_header_is_walked() -> None:
    chain = [(0, 1), (43, 0), (60, 2), (135, 0), (139, 1), (140, 0), (51, 4), (44, 0)]
    kinds = [kind for kind, _ in chain]
    body = b"".join(extension(kind, ([*kinds[1:], PROTO_TCP])[i], units) for i, (kind, units) in enumerate(chain))
    row = only(ether(ipv6(body + bytes(tcp(b"q" * 5)), 0), 0x86DD))
    assert (row["status"], row["ip_proto"], row["dst_port"]) == (Status.OK, PROTO_TCP, 443)
    assert row["l4_offset"] == 14 + 40 + len(body)
    assert row["payload_len"] == 5


def test_the_walk_stops_after_eight_headers() -> None:
    body = b"".join(extension(60, 60) for _ in range(8)) + extension(60, PROTO_TCP) + bytes(tcp())
    row = only(ether(ipv6(body, 60), 0x86DD))
    assert (row["status"], row["ip_proto"], row["has_l4"]) == (Status.OK, 60, False)


def test_non_initial_ipv6_fragment() -> None:
    fragment = bytes([PROTO_TCP, 0]) + struct.pack(">HI", 100 << 3, 1)
    row = only(ether(ipv6(fragment + bytes(24), 44), 0x86DD))
    assert (row["status"], row["ip_proto"], row["has_l4"], row["dst_lo"]) == (Status.FRAGMENT, 44, False, 1)


def test_extension_header_past_the_payload_length_stops_the_walk() -> None:
    body = extension(0, 60) + extension(60, PROTO_TCP, 3) + bytes(tcp())
    row = only(ether(ipv6(body, 0, payload_len=16), 0x86DD))
    assert (row["status"], row["ip_proto"], row["has_l4"]) == (Status.OK, 60, False)


def jumbogram(payload: int, jumbo: int | None = None, option: int = 0xC2) -> bytes:
    """IPv6 with payload length 0 and a Hop-by-Hop Jumbo Payload option, as Linux's BIG TCP sends it."""
    segment = bytes(tcp(b"j" * payload))
    hop_by_hop = bytes([PROTO_TCP, 0, option, 4]) + struct.pack(">I", 8 + len(segment) if jumbo is None else jumbo)
    return ipv6(hop_by_hop + segment, 0, payload_len=0)


def test_a_jumbogram_takes_its_length_from_the_jumbo_option() -> None:
    frame = ether(jumbogram(130_000), 0x86DD)
    row = only(frame)
    assert (row["status"], row["ip_proto"], row["dst_port"], row["payload_len"]) == (Status.OK, PROTO_TCP, 443, 130_000)
    cut = only(frame[:120], wirelen=len(frame))
    assert (cut["status"], cut["payload_len"], cut["wirelen"]) == (Status.OK, 130_000, len(frame))


@pytest.mark.parametrize("packet", [
    jumbogram(3000),  # RFC 2675: a jumbo length of 65535 or less is invalid (tshark: malformed)
    jumbogram(70_000, option=0x05),  # a Router Alert option, no Jumbo Payload
    jumbogram(70_000)[:47],  # the option is not captured
])
def test_payload_length_zero_without_a_valid_jumbo_option_has_no_payload(packet: bytes) -> None:
    row = only(ether(packet, 0x86DD))
    assert (row["has_l4"], row["payload_len"]) == (False, 0)


def test_esp_and_no_next_header_end_the_walk_without_transport() -> None:
    for next_header in (50, 59):
        row = only(ether(ipv6(bytes(32), next_header), 0x86DD))
        assert (row["status"], row["ip_proto"], row["has_l4"], row["l4_offset"]) == (Status.OK, next_header, False, -1)


@pytest.mark.parametrize(("packet", "status"), [
    (ipv6(bytes(tcp()), PROTO_TCP)[:39], Status.TRUNCATED_IP),
    (bytes([0x40]) + ipv6(bytes(tcp()), PROTO_TCP)[1:], Status.BAD_IP),
    (ipv6(bytes(tcp()), PROTO_TCP, payload_len=0), Status.TRUNCATED_L4),  # length 0, no jumbo option
])
def test_ipv6_header_cases(packet: bytes, status: Status) -> None:
    assert only(ether(packet, 0x86DD))["status"] == status


# ---------------------------------------------------------------- transport


def test_tcp_fields_and_flags() -> None:
    segment = tcp(b"hello")
    segment.flags = 0x100 | TCP_SYN  # NS is bit 8: outside the 8 flag bits we keep
    row = only(ether(ipv4(segment)))
    assert (row["tcp_flags"], row["tcp_seq"], row["tcp_ack"], row["tcp_window"]) == (TCP_SYN, 7, 9, 512)
    assert (row["payload_len"], row["has_l4"], row["l4_offset"]) == (5, True, 34)


@pytest.mark.parametrize("data_offset", [0, 4, 15])
def test_unusable_tcp_data_offset(data_offset: int) -> None:
    segment = bytearray(bytes(tcp(b"x" * 8)))
    segment[12] = data_offset << 4
    row = only(ether(ipv4(bytes(segment))))
    assert (row["status"], row["has_l4"], row["src_port"]) == (Status.TRUNCATED_L4, False, 0)


def test_udp_length_below_its_header_gives_no_payload() -> None:
    udp = dpkt.udp.UDP(sport=1, dport=2, ulen=3, data=b"abcd")
    row = only(ether(ipv4(udp, proto=17)))
    assert (row["status"], row["payload_len"], row["dst_port"]) == (Status.OK, 0, 2)


def test_icmp_needs_eight_bytes_and_is_decoded_by_number() -> None:
    short = only(ether(ipv4(b"\x08\x00\x00\x00", proto=PROTO_ICMP)))
    assert (short["status"], short["has_l4"], short["icmp_type"]) == (Status.TRUNCATED_L4, False, 0)
    echo = only(ether(ipv4(b"\x08\x03" + bytes(6), proto=PROTO_ICMP)))
    assert (echo["status"], echo["icmp_type"], echo["icmp_code"], echo["src_port"]) == (Status.OK, 8, 3, 0)
    in_v6 = only(ether(ipv6(b"\x0b\x01" + bytes(6), PROTO_ICMP), 0x86DD))
    assert (in_v6["has_l4"], in_v6["icmp_type"], in_v6["icmp_code"]) == (True, 11, 1)


def test_other_transport_protocols_are_ok_without_l4() -> None:
    row = only(ether(ipv4(bytes(30), proto=47)))
    assert (row["status"], row["ip_proto"], row["has_l4"], row["l4_offset"]) == (Status.OK, 47, False, -1)


def test_flow_mask_selects_complete_tcp_and_udp() -> None:
    frames = [ether(ipv4(tcp())), ether(ipv4(b"\x08\x00" + bytes(6), proto=PROTO_ICMP)),
              ether(ipv4(tcp())[:30]), ether(b"", 0x0806)]
    assert parse(frames).flow_mask().tolist() == [True, False, False, False]


def test_tcp_ack_constant_matches_the_parsed_flag_bit() -> None:
    assert only(ether(ipv4(tcp(flags=TCP_ACK))))["tcp_flags"] == TCP_ACK
