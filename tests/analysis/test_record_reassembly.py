"""Records longer than a segment (post-quantum ClientHellos, DNS answers over TCP): names from the
segments put together."""

from __future__ import annotations

import struct

import pytest

from netscope.analysis import record_reassembly
from netscope.analysis.names import NameObserver
from netscope.parse.batch_parser import parse_batch
from tests.analysis.name_packets import a_record, batch, client_hello, dns_response, extension, sni_extension, tcp

CLIENT, SERVER, RESOLVER = "10.0.0.5", "93.184.216.34", "10.0.0.53"
KEY = ("tcp", CLIENT, 40002, SERVER, 443)
MSS = 1448


def big_hello(name: bytes = b"pq.example.org") -> bytes:
    """1,570 bytes with an X25519MLKEM768 key share (Chrome's, with GREASE and padding, are about
    1,800), the server name after the share; well formed for tshark."""
    shares = struct.pack("!HH", 0x11EC, 1216) + b"\x5a" * 1216 + struct.pack("!HH", 0x001D, 32) + b"\x7b" * 32
    key_share = extension(51, struct.pack("!H", len(shares)) + shares)
    others = (extension(13, struct.pack("!H", 160) + b"\x04\x03" * 80) + extension(16, b"\x00\x0c\x02h2\x08http/1.1")
              + extension(43, b"\x02\x03\x04"))
    return client_hello(extension(10, b"\x00\x04\x11\xec\x00\x1d") + key_share + others + sni_extension(name))


def segments(data: bytes, size: int = MSS, first_seq: int = 1000) -> list[bytes]:
    return [tcp(CLIENT, 40002, SERVER, 443, data[at:at + size], seq=(first_seq + at) % 2**32)
            for at in range(0, len(data), size)]


def sni_after(*batches: list[bytes]) -> str | None:
    observer = NameObserver()
    for frames in batches:
        raw = batch(frames)
        observer.observe(raw, parse_batch(raw))
    names = observer.flow_names(KEY)
    return None if names is None else names.sni


def test_the_name_in_the_second_segment_is_found_in_one_batch_or_across_two() -> None:
    first, second = segments(big_hello())
    assert len(big_hello()) > MSS
    reply = tcp(SERVER, 443, CLIENT, 40002, b"", seq=5000)  # the server's ACK between them
    assert sni_after([first, reply, second]) == "pq.example.org"
    assert sni_after([first], [reply, second]) == "pq.example.org"


def test_three_segments_and_a_wrapping_sequence_number() -> None:
    parts = segments(big_hello(), size=600, first_seq=2**32 - 800)
    assert len(parts) == 3
    assert sni_after(parts[:2], parts[2:]) == "pq.example.org"


@pytest.mark.parametrize("trouble", ["gap", "reordered", "cut"])
def test_a_gap_a_reordering_or_a_cut_segment_gives_up(trouble: str) -> None:
    first, second = segments(big_hello())
    if trouble == "gap":
        second = segments(big_hello(), first_seq=1001)[1]
        assert sni_after([first, second]) is None
    elif trouble == "reordered":
        assert sni_after([second, first]) is None
    else:
        assert sni_after([first[:200], second]) is None  # cut by a 200-byte snaplen


def test_a_retransmitted_first_segment_starts_again() -> None:
    first, second = segments(big_hello())
    assert sni_after([first, first, second]) == "pq.example.org"


def test_pending_hellos_are_bounded(monkeypatch) -> None:
    monkeypatch.setattr(record_reassembly, "MAX_PENDING", 2)
    observer = NameObserver()
    frames = [tcp(CLIENT, port, SERVER, 443, big_hello()[:MSS], seq=1) for port in range(41000, 41005)]
    raw = batch(frames)
    observer.observe(raw, parse_batch(raw))
    assert len(observer._records.keys) == 2


def test_thousands_of_hellos_begun_in_one_batch_are_all_completed() -> None:
    """A busy server's batch: 3,000 first segments before any second one."""
    hello = big_hello()
    frames = [tcp(CLIENT, 10000 + i, SERVER, 443, hello[:MSS], seq=1) for i in range(3000)]
    frames += [tcp(CLIENT, 10000 + i, SERVER, 443, hello[MSS:], seq=1 + MSS) for i in range(3000)]
    observer = NameObserver()
    raw = batch(frames)
    observer.observe(raw, parse_batch(raw))
    assert all(observer.flow_names(("tcp", CLIENT, 10000 + i, SERVER, 443)).sni == "pq.example.org"
               for i in range(3000))


def test_a_dns_answer_over_tcp_longer_than_a_segment_names_every_address() -> None:
    """Answers too big for a datagram go over TCP, so they are the ones that span segments."""
    addresses = [f"192.0.2.{i}" for i in range(1, 201)]
    message = dns_response("big.example.org", [a_record("big.example.org", address) for address in addresses])
    framed = struct.pack("!H", len(message)) + message
    assert len(framed) > 2 * MSS
    parts = [tcp(RESOLVER, 53, CLIENT, 40100, framed[at:at + MSS], seq=7000 + at) for at in range(0, len(framed), MSS)]
    for batches in ([parts], [parts[:1], parts[1:]], [[p] for p in parts]):
        observer = NameObserver()
        for frames in batches:
            raw = batch(frames)
            observer.observe(raw, parse_batch(raw))
        assert [observer.name_for(address) for address in addresses] == ["big.example.org"] * 200
        assert observer.flow_names(("tcp", CLIENT, 40100, RESOLVER, 53)).dns_query == "big.example.org"
