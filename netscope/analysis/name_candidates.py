"""Which packets of a batch the name observer decodes: one numpy pre-filter over the whole batch.

Names sit at the start of a flow (a DNS query and its answer, the ClientHello, the first HTTP
request), so only a flow's first FIRST_PACKETS packets are looked at, and of those only the ones
whose payload starts like something a decoder reads: DNS ports, a TLS ClientHello record header,
an HTTP method word. Only those reach the Python decoders (names.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from netscope.analysis.http_host import METHOD_PREFIXES
from netscope.analysis.tls_sni import CONTENT_HANDSHAKE, HANDSHAKE_CLIENT_HELLO, MAX_RECORD_LEN
from netscope.capture.batch import RawBatch
from netscope.parse.columns import PROTO_TCP, ParsedBatch
from netscope.parse.gather import ByteReader, pick

DNS_PORTS = (53, 5353)  # DNS and mDNS share the wire format
UDP_HEADER_LEN = 8
DNS_HEADER_LEN = 12
FIRST_PACKETS = 32  # both directions; a flow older than this is no longer looked at

KIND_DNS_UDP, KIND_DNS_TCP, KIND_TLS, KIND_HTTP = 1, 2, 3, 4
_METHOD_WORDS = np.array([int.from_bytes(prefix, "big") for prefix in METHOD_PREFIXES], dtype=np.int64)
_METHOD_LEAD_BYTES = np.zeros(256, dtype=bool)  # first letters of the methods: a cheap test before np.isin
_METHOD_LEAD_BYTES[[prefix[0] for prefix in METHOD_PREFIXES]] = True


@dataclass(frozen=True, slots=True)
class Candidates:
    """Packets of a batch worth decoding: their index, decoder kind and payload span in the batch buffer."""

    index: np.ndarray  # int64, packet index in the batch
    kind: np.ndarray  # int64, KIND_*
    start: np.ndarray  # int64, payload start in RawBatch.data
    length: np.ndarray  # int64, captured payload bytes


def select_candidates(raw: RawBatch, parsed: ParsedBatch, packets_before: np.ndarray | None = None) -> Candidates:
    """The numpy pre-filter: DNS ports, a whole TLS ClientHello record header, an HTTP method word.

    `packets_before` (the tracker's BatchFlows.packets_before) limits it to packets among
    their flow's first FIRST_PACKETS; without it every packet is looked at. Each test narrows
    the packets the next one reads, so the batch-wide cost is two gathers (TCP data offset,
    first payload word) and the record-header reads touch only packets that start with a
    handshake byte. A read past a packet's end sees the next packet's bytes, so every test is
    guarded by the captured payload length.
    """
    wanted = parsed.flow_mask() & (parsed.payload_len > 0)
    if packets_before is not None:
        wanted &= packets_before < FIRST_PACKETS
    index = np.flatnonzero(wanted)
    reader = ByteReader(raw.data)
    is_tcp = parsed.ip_proto[index] == PROTO_TCP
    start, length = payload_spans(raw, parsed, reader, index, is_tcp)

    src_port, dst_port = parsed.src_port[index], parsed.dst_port[index]
    dns_port = (src_port == DNS_PORTS[0]) | (src_port == DNS_PORTS[1]) | (dst_port == DNS_PORTS[0]) | (
        dst_port == DNS_PORTS[1])
    kind = np.zeros(index.size, dtype=np.int64)
    kind[dns_port & ~is_tcp & (length >= DNS_HEADER_LEN)] = KIND_DNS_UDP
    kind[dns_port & is_tcp & (length >= 2 + DNS_HEADER_LEN)] = KIND_DNS_TCP

    stream = np.flatnonzero(is_tcp & ~dns_port & (length >= 4))
    first_word = reader.u32(start[stream])
    lead_byte = first_word >> 24
    maybe_tls = lead_byte == CONTENT_HANDSHAKE
    tls = stream[maybe_tls]
    kind[tls[_is_client_hello_record(reader, start[tls], length[tls], first_word[maybe_tls])]] = KIND_TLS
    maybe_http = _METHOD_LEAD_BYTES[lead_byte]
    kind[stream[maybe_http][np.isin(first_word[maybe_http], _METHOD_WORDS)]] = KIND_HTTP

    chosen = np.flatnonzero(kind)
    return Candidates(index[chosen], kind[chosen], start[chosen], length[chosen])


def payload_spans(raw: RawBatch, parsed: ParsedBatch, reader: ByteReader, index: np.ndarray,
                   is_tcp: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Where the TCP/UDP payload of each packet starts in the batch buffer, and how much of it was captured."""
    packet_start = raw.offset[index]
    l4 = parsed.l4_offset[index]
    tcp_header_len = reader.u8(packet_start + l4, 12)
    tcp_header_len >>= 4
    tcp_header_len *= 4
    payload_at = pick(is_tcp, tcp_header_len, UDP_HEADER_LEN)
    payload_at += l4
    return packet_start + payload_at, np.minimum(parsed.payload_len[index], raw.caplen[index] - payload_at)


def _is_client_hello_record(reader: ByteReader, start: np.ndarray, length: np.ndarray,
                            first_word: np.ndarray) -> np.ndarray:
    """Record header of a ClientHello: version 3.1-3.4, sane length, type 1. The record may go on
    in later segments (record_reassembly.py)."""
    minor = (first_word >> 8) & 0xFF
    record_len = reader.u16(start, 3)
    return (((first_word >> 16) & 0xFF == 3) & (minor >= 1) & (minor <= 4) & (length >= 6) & (record_len >= 1)
            & (record_len <= MAX_RECORD_LEN) & (reader.u8(start, 5) == HANDSHAKE_CLIENT_HELLO))
