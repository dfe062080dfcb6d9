"""Wire-length estimates for packets cut at the snaplen, per link type."""

from __future__ import annotations

import struct

import numpy as np
import pytest

from netscope.capture.batch import RawBatch
from netscope.capture.wirelen import effective_snaplen, estimate_wirelen

MAC = bytes(6)


def ipv4(payload_len: int) -> bytes:
    return struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + payload_len, 0, 0, 64, 17, 0, bytes(4), bytes(4)) \
        + bytes(payload_len)


def ipv6(payload_len: int) -> bytes:
    return struct.pack("!IHBB16s16s", 6 << 28, payload_len, 17, 64, bytes(16), bytes(16)) + bytes(payload_len)


def ether(ethertype: int, payload: bytes, vlans: tuple[int, ...] = ()) -> bytes:
    tags = b"".join(struct.pack("!HH", tpid, 100) for tpid in vlans)
    return MAC + MAC + tags + struct.pack("!H", ethertype) + payload


def sll(protocol: int, payload: bytes) -> bytes:
    return struct.pack("!HHH8sH", 0, 1, 6, bytes(8), protocol) + payload


def sll2(protocol: int, payload: bytes) -> bytes:
    return struct.pack("!HHIHBB8s", protocol, 0, 1, 1, 0, 6, bytes(8)) + payload


def vlan(ethertype: int, payload: bytes) -> bytes:
    return struct.pack("!HH", 100, ethertype) + payload


def cut(frames: list[bytes], linktype: int, snaplen: int) -> tuple[RawBatch, list[int]]:
    batch = RawBatch.from_packets([f[:snaplen] for f in frames], [0] * len(frames), linktype)
    return batch, [len(f) for f in frames]


def estimate(batch: RawBatch, snaplen: int) -> tuple[list[int], int]:
    wirelen, estimated = estimate_wirelen(batch.data, batch.offset, batch.caplen, batch.linktype, snaplen)
    return wirelen.tolist(), estimated


@pytest.mark.parametrize(("linktype", "frames"), [
    (1, [ether(0x0800, ipv4(1000)), ether(0x86DD, ipv6(1400))]),
    (1, [ether(0x0800, ipv4(500), vlans=(0x8100,)), ether(0x86DD, ipv6(900), vlans=(0x88A8, 0x8100))]),
    (1, [ether(0x0800, ipv4(500), vlans=(0x88A8, 0x8100, 0x8100, 0x8100))]),
    (113, [sll(0x0800, ipv4(700)), sll(0x86DD, ipv6(300))]),
    (113, [sll(0x8100, vlan(0x0800, ipv4(700)))]),
    (276, [sll2(0x0800, ipv4(700)), sll2(0x86DD, ipv6(300)), sll2(0x88A8, vlan(0x8100, vlan(0x0800, ipv4(90))))]),
    (0, [struct.pack("=I", 2) + ipv4(800), struct.pack("=I", 10) + ipv6(800)]),
    (108, [struct.pack("!I", 2) + ipv4(800)]),
    (12, [ipv4(1200), ipv6(64)]),
    (101, [ipv6(2000)]),
    (228, [ipv4(1500)]),
    (229, [ipv6(1500)]),
])
def test_cut_ip_packets_get_their_full_length(linktype, frames):
    batch, true_lengths = cut(frames, linktype, 64)
    assert estimate(batch, 64) == (true_lengths, len(frames))


def jumbogram(payload_len: int, option: int = 0xC2) -> bytes:
    """IPv6 with payload length 0 and a Hop-by-Hop Jumbo Payload option (Linux's BIG TCP)."""
    hop_by_hop = struct.pack("!BBBBI", 6, 0, option, 4, payload_len)
    return struct.pack("!IHBB16s16s", 6 << 28, 0, 0, 64, bytes(16), bytes(16)) + hop_by_hop + bytes(payload_len - 8)


def test_a_cut_jumbogram_gets_its_jumbo_length():
    frames = [ether(0x86DD, jumbogram(130_968)), ether(0x8100, vlan(0x86DD, jumbogram(70_000)))]
    batch, true_lengths = cut(frames, 1, 200)
    assert estimate(batch, 200) == (true_lengths, 2)


def test_payload_length_zero_without_a_jumbo_option_is_not_guessed():
    frames = [ether(0x86DD, jumbogram(70_000, option=0x05)), ether(0x86DD, jumbogram(70_000)[:47])]
    batch, _ = cut(frames, 1, 200)
    assert estimate(batch, 47) == ([200, 61], 0)


def test_short_packets_are_exact_and_not_counted():
    frames = [ether(0x0800, ipv4(10)), ether(0x0800, ipv4(1000))]
    batch, true_lengths = cut(frames, 1, 96)
    assert estimate(batch, 96) == (true_lengths, 1)


def test_non_ip_and_unknown_links_keep_the_captured_length():
    arp = ether(0x0806, bytes(200))
    batch, _ = cut([arp], 1, 64)
    assert estimate(batch, 64) == ([64], 0)
    batch, _ = cut([ipv4(1000)], 147, 64)  # a DLT netscope does not parse
    assert estimate(batch, 64) == ([64], 0)


def test_header_cut_before_the_ip_length():
    batch, _ = cut([ether(0x0800, ipv4(1000))], 1, 16)  # only 2 bytes of IP
    assert estimate(batch, 16) == ([16], 0)


def test_no_snaplen_means_nothing_was_cut():
    batch, true_lengths = cut([ether(0x0800, ipv4(1000))], 1, 10_000)
    assert estimate(batch, 0) == (true_lengths, 0)


def test_empty_batch():
    wirelen, estimated = estimate_wirelen(np.zeros(0, np.uint8), np.zeros(0, np.int64),
                                          np.zeros(0, np.int64), 1, 96)
    assert wirelen.size == 0 and estimated == 0


def test_effective_snaplen():
    assert effective_snaplen(96) == 96
    assert effective_snaplen(0) == effective_snaplen(10**7) == 262144
