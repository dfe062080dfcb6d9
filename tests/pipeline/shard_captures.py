"""Small captures built with dpkt whose flows are known to land on different shards of two."""

from __future__ import annotations

import random
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


def random_capture(seed: int, path: Path) -> Path:
    """Hundreds of packets of random TCP, UDP and IPv6 flows among 40 hosts, HTTP requests and DNS
    answers (one address often named by several), with idle gaps of seconds; for some seeds a
    third of the packets come again later with earlier times, as captures joined end to end."""
    rnd = random.Random(seed)
    hosts = [f"10.{rnd.randrange(4)}.{rnd.randrange(4)}.{rnd.randrange(1, 30)}" for _ in range(40)]
    hosts6 = [f"fd00::{rnd.randrange(1, 50):x}" for _ in range(10)]
    records: list[tuple[float, bytes]] = []
    t = 0.0
    for _ in range(rnd.randrange(200, 2000)):
        t += rnd.expovariate(50) if rnd.random() < 0.97 else rnd.uniform(1, 6)
        kind = rnd.random()
        if kind < 0.05:
            name = f"h{rnd.randrange(30)}.test"
            frame = name_packets.udp("10.9.9.9", 53, rnd.choice(hosts), rnd.randrange(1024, 65535),
                                     name_packets.dns_response(name, [name_packets.a_record(name, rnd.choice(hosts))]))
        elif kind < 0.15:
            src, dst = rnd.sample(hosts6, 2)
            frame = name_packets.udp(src, rnd.randrange(1000, 1010), dst, 9999, b"y" * rnd.randrange(50))
        elif kind < 0.5:
            src, dst = rnd.sample(hosts, 2)
            sport, dport = rnd.randrange(1000, 1020), rnd.choice([80, 443, 5201])
            flags = rnd.choice([2, 18, 16, 24, 17, 4])  # SYN, SYN-ACK, ACK, PSH-ACK, FIN-ACK, RST
            payload = (b"GET / HTTP/1.1\r\nHost: x%d.test\r\n\r\n" % rnd.randrange(5) if flags == 24 and dport == 80
                       else b"z" * rnd.randrange(100))
            if rnd.random() < 0.5:
                src, dst, sport, dport = dst, src, dport, sport
            frame = name_packets.tcp(src, sport, dst, dport, payload, flags=flags, seq=rnd.randrange(2**32))
        else:
            src, dst = rnd.sample(hosts, 2)
            frame = name_packets.udp(src, rnd.randrange(2000, 2010), dst, rnd.randrange(3000, 3005),
                                     b"q" * rnd.randrange(80))
        records.append((t, frame))
    if rnd.random() < 0.3:
        records += [(ts - rnd.uniform(0, t), frame) for ts, frame in records[: len(records) // 3]]
    with open(path, "wb") as fh:
        writer = dpkt.pcap.Writer(fh)
        for ts, frame in records:  # in this order: time may step back
            writer.writepkt(frame, ts=EPOCH + ts)
    return path


def late_syn_scan_capture(path: Path) -> Path:
    """SYNs from 10.0.5.5 to four ports of 10.0.6.6; the second is stamped 0.5 s but comes after an
    unrelated ACK at 100 s, so the detector counts it at 100 s and sees three ports within a
    second at 100.3 s."""
    def syn(port: int) -> bytes:
        return name_packets.tcp("10.0.5.5", 40000 + port, "10.0.6.6", port, flags=dpkt.tcp.TH_SYN)

    ack = name_packets.tcp("10.0.7.7", 5000, "10.0.8.8", 6000, flags=dpkt.tcp.TH_ACK)
    records = [(0.0, syn(1)), (100.0, ack), (0.5, syn(2)), (100.2, syn(3)), (100.3, syn(4))]
    with open(path, "wb") as fh:
        writer = dpkt.pcap.Writer(fh)
        for ts, frame in records:  # capture order, not time order
            writer.writepkt(frame, ts=EPOCH + ts)
    return path
