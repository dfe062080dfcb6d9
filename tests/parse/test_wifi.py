"""802.11 captures (monitor mode, with and without radiotap) against tshark, and what is not IP in them."""

from __future__ import annotations

import ipaddress
import struct
import subprocess
from pathlib import Path

import dpkt
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netscope.capture.batch import RawBatch
from netscope.linktypes import DLT_IEEE802_11, DLT_IEEE802_11_RADIO
from netscope.parse.batch_parser import parse_batch
from netscope.parse.columns import Status
from tests.tshark_oracle import netscope_flows, tshark_flows

STATION, ACCESS_POINT, OTHER_AP = bytes.fromhex("020000000001"), bytes.fromhex("020000000002"), \
    bytes.fromhex("020000000003")
DATA, QOS_DATA, QOS_NULL, BEACON = 0x08, 0x88, 0xC8, 0x80  # frame control's first byte
TO_DS, FROM_DS, PROTECTED, ORDER = 0x01, 0x02, 0x40, 0x80


def radiotap() -> bytes:
    """A radiotap header as a monitor-mode driver writes one: TSFT, flags, rate, channel, signal (23 bytes)."""
    fields = struct.pack("<QBBHHb", 123456789, 0, 12, 2437, 0x00A0, -42)
    return struct.pack("<BBHI", 0, 0, 8 + len(fields), 0x2F) + fields


def mac(kind: int, flags: int, qos: int | None = None) -> bytes:
    """An 802.11 MAC header: 3 addresses, a fourth between access points, QoS and HT control as flagged."""
    header = struct.pack("<BBH", kind, flags, 44) + ACCESS_POINT + STATION + OTHER_AP + struct.pack("<H", 0x10)
    if flags & TO_DS and flags & FROM_DS:
        header += OTHER_AP
    if kind & 0x80 and kind & 0x0C == 0x08:  # a QoS data subtype
        header += struct.pack("<H", qos or 0)
        if flags & ORDER:
            header += b"\x00\x00\x00\x00"
    return header


def snap(ethertype: int) -> bytes:
    return bytes.fromhex("aaaa03000000") + struct.pack(">H", ethertype)


def _address(text: str) -> bytes:
    return ipaddress.ip_address(text).packed


def tcp4(src: str, sport: int, dst: str, dport: int, payload: bytes = b"", flags: int = dpkt.tcp.TH_ACK) -> bytes:
    segment = dpkt.tcp.TCP(sport=sport, dport=dport, flags=flags, seq=1000, data=payload)
    return bytes(dpkt.ip.IP(src=_address(src), dst=_address(dst), p=6, data=segment))


def udp6(src: str, sport: int, dst: str, dport: int, payload: bytes) -> bytes:
    datagram = dpkt.udp.UDP(sport=sport, dport=dport, data=payload)
    datagram.ulen = len(bytes(datagram))
    packet = dpkt.ip6.IP6(src=_address(src), dst=_address(dst), nxt=17, hlim=64,
                          data=datagram)
    packet.plen = len(bytes(datagram))
    return bytes(packet)


def udp4(src: str, sport: int, dst: str, dport: int, payload: bytes) -> bytes:
    datagram = dpkt.udp.UDP(sport=sport, dport=dport, data=payload)
    datagram.ulen = len(bytes(datagram))
    return bytes(dpkt.ip.IP(src=_address(src), dst=_address(dst), p=17, data=datagram))


def ip_frames() -> list[bytes]:
    """802.11 frames carrying IP, each kind of header once or more: what tshark decodes too."""
    return [
        mac(QOS_DATA, TO_DS) + snap(0x0800) + tcp4("192.168.1.20", 50000, "93.184.216.34", 443, flags=dpkt.tcp.TH_SYN),
        mac(QOS_DATA, FROM_DS) + snap(0x0800) + tcp4("93.184.216.34", 443, "192.168.1.20", 50000,
                                                     flags=dpkt.tcp.TH_SYN | dpkt.tcp.TH_ACK),
        mac(QOS_DATA, TO_DS | ORDER) + snap(0x0800) + tcp4("192.168.1.20", 50000, "93.184.216.34", 443, b"x" * 300),
        mac(DATA, FROM_DS) + snap(0x0800) + udp4("192.168.1.1", 53, "192.168.1.20", 40000, b"answer" * 20),
        mac(QOS_DATA, TO_DS | FROM_DS) + snap(0x86DD) + udp6("fd00::1", 5000, "fd00::2", 6000, b"mesh" * 50),
        mac(DATA, TO_DS | FROM_DS) + snap(0x86DD) + udp6("fd00::2", 6000, "fd00::1", 5000, b"back"),
    ]


def other_frames() -> list[bytes]:
    """Frames with nothing for the flow layer: a beacon, a QoS Null, a WPA-encrypted body, EAPOL."""
    return [
        mac(BEACON, 0) + b"\x00" * 12 + b"\x00\x04home",
        mac(QOS_NULL, TO_DS),
        mac(QOS_DATA, TO_DS | PROTECTED) + bytes(range(8)) + bytes(200),
        mac(QOS_DATA, FROM_DS) + snap(0x888E) + b"\x02\x03\x00\x5f" + bytes(95),
    ]


def write(path: Path, frames: list[bytes], linktype: int) -> Path:
    with path.open("wb") as out:
        writer = dpkt.pcap.Writer(out, linktype=linktype)
        for i, frame in enumerate(frames):
            writer.writepkt((radiotap() if linktype == DLT_IEEE802_11_RADIO else b"") + frame, ts=1.0 + i / 100)
    return path


def raw_batch(frames: list[bytes], linktype: int) -> RawBatch:
    data = b"".join(frames)
    lengths = np.array([len(f) for f in frames], np.int64)
    offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
    return RawBatch(data=np.frombuffer(data, np.uint8).copy(), offset=offsets, caplen=lengths, wirelen=lengths,
                    ts_us=np.arange(len(frames), dtype=np.int64), linktype=linktype)


@pytest.mark.parametrize("linktype", [DLT_IEEE802_11_RADIO, DLT_IEEE802_11], ids=["radiotap", "bare 802.11"])
@pytest.mark.parametrize("workers", [0, 2])
def test_flows_of_a_wifi_capture_equal_tshark_s(tmp_path: Path, linktype: int, workers: int):
    capture = write(tmp_path / "wifi.pcap", ip_frames() + other_frames(), linktype)
    expected = tshark_flows(capture)
    assert len(expected) == 3  # the TCP connection, the DNS answer, the IPv6 flow between access points
    flags = ("--pipeline", "--workers", str(workers)) if workers else ()
    assert netscope_flows(capture, tmp_path / "flows.json", *flags) == expected


@pytest.mark.parametrize("linktype", [DLT_IEEE802_11_RADIO, DLT_IEEE802_11])
def test_frames_without_ip_are_not_ip_and_cut_headers_are_truncated(linktype: int):
    head = radiotap() if linktype == DLT_IEEE802_11_RADIO else b""
    amsdu = mac(QOS_DATA, TO_DS, qos=0x0080) + snap(0x0800) + tcp4("10.0.0.1", 1, "10.0.0.2", 2)
    cut_in_snap = (ip_frames()[0])[: len(mac(QOS_DATA, TO_DS)) + 5]
    frames = [head + f for f in [*ip_frames(), *other_frames(), amsdu, cut_in_snap, mac(QOS_DATA, TO_DS)[:20]]]
    parsed = parse_batch(raw_batch(frames, linktype))
    assert parsed.status.tolist() == [Status.OK] * 6 + [Status.NOT_IP] * 5 + [Status.TRUNCATED_LINK] * 2
    assert parsed.ip_version[:6].tolist() == [4, 4, 4, 4, 6, 6]
    assert parsed.src_port[:6].tolist() == [50000, 443, 50000, 53, 5000, 6000]
    assert parsed.payload_len[2] == 300


def test_a_radiotap_header_longer_than_the_frame_is_a_truncated_link():
    bogus = struct.pack("<BBHI", 0, 0, 900, 0) + mac(QOS_DATA, TO_DS) + snap(0x0800)
    short = struct.pack("<BBHI", 0, 0, 4, 0) + mac(QOS_DATA, TO_DS) + snap(0x0800)  # claims less than itself
    parsed = parse_batch(raw_batch([bogus, short, b"\x00\x00"], DLT_IEEE802_11_RADIO))
    assert parsed.status.tolist() == [Status.TRUNCATED_LINK] * 3


@settings(max_examples=200, deadline=None)
@given(st.lists(st.binary(min_size=0, max_size=120), min_size=1, max_size=12))
def test_random_bytes_after_a_radiotap_header_never_raise_and_only_snap_frames_reach_ip(bodies):
    frames = [radiotap() + body for body in bodies]
    parsed = parse_batch(raw_batch(frames, DLT_IEEE802_11_RADIO))
    for frame, status, version in zip(frames, parsed.status.tolist(), parsed.ip_version.tolist(), strict=True):
        body = frame[23:]
        if status == Status.OK or version:
            kind = body[0]
            assert kind & 0x0C == 0x08 and kind & 0x40 == 0 and body[1] & PROTECTED == 0  # a data frame with a body
            assert bytes.fromhex("aaaa03000000") in body


def test_a_bpf_filter_applies_to_wifi_captures_as_libpcap_compiles_it(tmp_path: Path):
    """`--filter udp` keeps what tcpdump keeps with the same filter: libpcap's 802.11 code (1.10)
    finds the IP header of neither a frame with HT control nor an IPv6 one between access points,
    so those are filtered out here as in tcpdump and Wireshark's capture filters."""
    capture = write(tmp_path / "wifi.pcap", ip_frames() + other_frames(), DLT_IEEE802_11_RADIO)
    kept = tmp_path / "kept.pcap"
    subprocess.run(["tcpdump", "-r", str(capture), "-w", str(kept), "udp"], check=True, capture_output=True)
    expected = tshark_flows(kept)
    assert len(expected) == 1  # the DNS answer
    assert netscope_flows(capture, tmp_path / "flows.json", "--filter", "udp") == expected
