"""Small captures built with dpkt whose flows are known to land on different shards of two."""

from __future__ import annotations

import socket
from pathlib import Path

import dpkt

from netscope.capture.batch import RawBatch
from netscope.pipeline.routing import shard_ids
from tests.analysis import name_packets

EPOCH = 1_700_000_000
WEB_NAME = "web.example.test"


def udp_frame(src: str, dst: str, sport: int, dport: int) -> bytes:
    udp = dpkt.udp.UDP(sport=sport, dport=dport, data=b"x" * 20)
    ip = dpkt.ip.IP(src=socket.inet_aton(src), dst=socket.inet_aton(dst), p=dpkt.ip.IP_PROTO_UDP, data=udp)
    return bytes(dpkt.ethernet.Ethernet(src=b"\x02" * 6, dst=b"\x04" * 6, data=ip))


def on_two_shards(first: bytes, second: bytes) -> bool:
    return len(set(shard_ids(RawBatch.from_packets([first, second], [0, 0], 1), 2).tolist())) == 2


def write_pcap(path: Path, records: list[tuple[float, bytes]]) -> Path:
    """`records` are (seconds after EPOCH, frame), written in time order."""
    with open(path, "wb") as fh:
        writer = dpkt.pcap.Writer(fh)
        for ts, frame in sorted(records, key=lambda record: record[0]):
            writer.writepkt(frame, ts=EPOCH + ts)
    return path


def idle_flow_capture(path: Path) -> Path:
    """A flow idle for 10 s on one shard while a busy flow on the other keeps the clock going."""
    quiet = udp_frame("10.0.0.1", "10.0.0.2", 1000, 53)
    busy = next(frame for host in range(3, 250)
                if on_two_shards(quiet, frame := udp_frame(f"10.0.0.{host}", "10.0.0.2", 2000, 53)))
    return write_pcap(path, [(0.0, quiet), (0.1, quiet), (10.0, quiet)] + [(0.25 * i, busy) for i in range(49)])


def named_web_capture(path: Path) -> Path:
    """A DNS answer naming 10.0.0.80 WEB_NAME on one shard, an HTTP request to it on the other,
    then a busy flow for six seconds (so a one-second timeout expires the first two)."""
    dns_query = name_packets.udp("10.0.0.9", 40000, "10.0.0.53", 53, name_packets.dns_query(WEB_NAME))
    dns_answer = name_packets.udp("10.0.0.53", 53, "10.0.0.9", 40000, name_packets.dns_response(
        WEB_NAME, [name_packets.a_record(WEB_NAME, "10.0.0.80")]))
    web = next(frame for port in range(41000, 41200)
               if on_two_shards(dns_query, frame := name_packets.tcp(
                   "10.0.0.9", port, "10.0.0.80", 80, f"GET / HTTP/1.1\r\nHost: {WEB_NAME}\r\n\r\n".encode())))
    busy = udp_frame("10.0.0.7", "10.0.0.2", 2000, 9)
    return write_pcap(path, [(0.0, dns_query), (0.01, dns_answer), (0.1, web)]
                      + [(0.25 * i, busy) for i in range(1, 25)])


def shard_of(frame: bytes) -> int:
    return int(shard_ids(RawBatch.from_packets([frame], [0], 1), 2)[0])


def renamed_web_capture(path: Path, later_answer_shard: int) -> Path:
    """Two DNS answers name 10.0.0.80, first "old.test" then WEB_NAME, from resolvers on
    different shards (the later one on `later_answer_shard`), then a request to it."""
    def answer(resolver: str, name: str) -> bytes:
        return name_packets.udp(resolver, 53, "10.0.0.9", 40000, name_packets.dns_response(
            name, [name_packets.a_record(name, "10.0.0.80")]))

    resolvers = {shard_of(answer(f"10.0.1.{host}", "x.test")): f"10.0.1.{host}" for host in range(1, 40)}
    old = answer(resolvers[1 - later_answer_shard], "old.test")
    new = answer(resolvers[later_answer_shard], WEB_NAME)
    web = name_packets.tcp("10.0.0.9", 41000, "10.0.0.80", 80, b"GET / HTTP/1.1\r\n\r\n")
    return write_pcap(path, [(0.0, old), (0.5, new), (1.0, web)])
