"""Names for addresses and flows: passive DNS, TLS SNI and HTTP Host, from each flow's first packets.

The engine calls `NameObserver.observe` once per batch. A numpy pass picks the few packets
worth decoding (name_candidates.py: DNS ports, a TLS ClientHello record header, an HTTP method
at the payload start); only those reach the Python decoders, and each flow gets a small budget
of decodes. Records longer than a segment are put together first (record_reassembly.py).
Names sit at the start of a flow (a DNS query and its answer, the ClientHello, the first
request), so a flow is looked at only while it has had fewer than FIRST_PACKETS packets (as
the tracker counted them before the batch, or the part of it, that carries a packet): the
pre-filter over every payload packet of a bulk transfer cost a tenth of the engine's time.
No lookups are ever sent: names come from DNS answers that crossed the wire.

Everything kept is bounded: names per address and per flow live in tables that drop their
oldest entries when full.
"""

from __future__ import annotations

import ipaddress
import struct
import sys
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from netscope.analysis.dns import CLASS_IN, CLASS_MASK, TYPE_A, TYPE_AAAA, TYPE_CNAME, DnsMessage, parse_dns
from netscope.analysis.http_host import parse_http_request
from netscope.analysis.name_candidates import (
    FIRST_PACKETS,
    KIND_DNS_TCP,
    KIND_DNS_UDP,
    KIND_HTTP,
    KIND_TLS,
    Candidates,
    payload_spans,
    select_candidates,
)
from netscope.analysis.record_reassembly import RecordReassembly
from netscope.analysis.tls_sni import RECORD_HEADER_LEN, ClientHello, parse_client_hello
from netscope.capture.batch import RawBatch
from netscope.flow.records import PROTO_NAMES, FlowColumns
from netscope.parse.columns import PROTO_TCP, ParsedBatch
from netscope.parse.gather import ByteReader

DEFAULT_PACKET_BUDGET = 8
DEFAULT_MAX_NAMES = 65536
DEFAULT_MAX_FLOWS = 65536
MAX_CNAME_HOPS = 16


FlowKey = tuple[str, str, int, str, int]  # (proto, a_ip, a_port, b_ip, b_port), as FlowRow.key
_PROTO_NUMBERS = {name: number for number, name in PROTO_NAMES.items()}
_LOW64 = (1 << 64) - 1
_KEY = struct.Struct(">5Q")


@dataclass(frozen=True, slots=True)
class FlowNames:
    """What is known about one flow's names; small and picklable, for snapshots and exports."""

    name_a: str | None = None  # passive DNS name of endpoint A's address
    name_b: str | None = None
    sni: str | None = None  # from the flow's TLS ClientHello
    http_host: str | None = None  # Host header of the flow's first HTTP request
    dns_query: str | None = None  # first question name of a DNS flow


@dataclass
class NameStats:
    """Counters that show what the observer did (and that the per-flow budget held)."""

    candidates: int = 0  # packets the numpy pre-filter selected
    decoded: int = 0  # packets handed to a decoder
    over_budget: int = 0  # candidates skipped because their flow had used its budget
    dns_messages: int = 0
    client_hellos: int = 0
    http_requests: int = 0
    names_learned: int = 0  # address -> name mappings recorded (updates included)


_NO_NAMES = FlowNames()
Named = tuple[str, int]  # an address's name and the order of the answer that gave it (later wins)
# What one observer knows about a list of flows: their FlowNames, then each flow's A and B address
# as Named, so observers that each saw part of a capture can be merged (pipeline/merge.py).
NamesAnswer = tuple[list["FlowNames | None"], list["Named | None"], list["Named | None"]]


@dataclass(slots=True)
class _FlowInfo:
    decodes: int = 0
    sni: str | None = None
    http_host: str | None = None
    dns_query: str | None = None


def _shared(text: str | None) -> str | None:
    """One string object per distinct name: thousands of flows to one host keep one copy of it."""
    return None if text is None else sys.intern(text)


def _packed_keys(parsed: ParsedBatch, index: np.ndarray) -> np.ndarray:
    """Canonical flow keys (§3.2) of the given packets, as 40-byte records: both directions of a flow share one.

    Packed in numpy, so a batch's keys can be deduplicated there and only distinct ones cut
    into bytes objects, which are cheaper to build and to keep than tuples of Python ints:
    (proto, ip version, port A, port B) in one word, then A and B.
    """
    src_hi, src_lo, dst_hi, dst_lo = (parsed.src_hi[index], parsed.src_lo[index], parsed.dst_hi[index],
                                      parsed.dst_lo[index])
    src_port, dst_port = parsed.src_port[index].astype(np.uint64), parsed.dst_port[index].astype(np.uint64)
    low_first = (src_lo < dst_lo) | ((src_lo == dst_lo) & (src_port <= dst_port))
    src_first = (src_hi < dst_hi) | ((src_hi == dst_hi) & low_first)
    words = _pack_words(parsed.ip_proto[index], parsed.ip_version[index],
                        np.where(src_first, src_port, dst_port), np.where(src_first, dst_port, src_port),
                        np.where(src_first, src_hi, dst_hi), np.where(src_first, src_lo, dst_lo),
                        np.where(src_first, dst_hi, src_hi), np.where(src_first, dst_lo, src_lo))
    return words.view(f"V{_KEY.size}").reshape(-1)


def _directional_keys(parsed: ParsedBatch, index: np.ndarray) -> np.ndarray:
    """Flow keys that tell the directions apart (source first), as 40-byte records."""
    words = _pack_words(parsed.ip_proto[index], parsed.ip_version[index], parsed.src_port[index].astype(np.uint64),
                        parsed.dst_port[index].astype(np.uint64), parsed.src_hi[index], parsed.src_lo[index],
                        parsed.dst_hi[index], parsed.dst_lo[index])
    return words.view(f"V{_KEY.size}").reshape(-1)


def _pack_words(proto: np.ndarray, version: np.ndarray, a_port: np.ndarray, b_port: np.ndarray,
                a_hi: np.ndarray, a_lo: np.ndarray, b_hi: np.ndarray, b_lo: np.ndarray) -> np.ndarray:
    """Canonical keys as (n, 5) big-endian words, the layout of _KEY: (proto, ip version,
    port A, port B) in one word, then A and B."""
    words = np.empty((proto.size, 5), dtype=">u8")
    words[:, 0] = ((proto.astype(np.uint64) << np.uint64(56)) | (version.astype(np.uint64) << np.uint64(48))
                   | (a_port.astype(np.uint64) << np.uint64(32)) | (b_port.astype(np.uint64) << np.uint64(16)))
    words[:, 1], words[:, 2], words[:, 3], words[:, 4] = a_hi, a_lo, b_hi, b_lo
    return words


def _split_keys(records: np.ndarray) -> list[bytes]:
    packed = records.tobytes()
    return [packed[at:at + _KEY.size] for at in range(0, len(packed), _KEY.size)]


def _rank_within_key(inverse: np.ndarray) -> np.ndarray:
    """For each element, how many earlier elements share its key (0 for a key's first occurrence)."""
    order = np.argsort(inverse, kind="stable")
    sorted_keys = inverse[order]
    group_start = np.flatnonzero(np.r_[True, sorted_keys[1:] != sorted_keys[:-1]])
    group_sizes = np.diff(np.r_[group_start, sorted_keys.size])
    rank = np.empty(inverse.size, dtype=np.int64)
    rank[order] = np.arange(inverse.size) - np.repeat(group_start, group_sizes)
    return rank


def _packed_key(key: FlowKey) -> bytes | None:
    """The observer's packed key for a presentation key; None if the key cannot name a flow."""
    proto, a_ip, a_port, b_ip, b_port = key
    number = _PROTO_NUMBERS.get(proto)
    try:
        a, b = ipaddress.ip_address(a_ip), ipaddress.ip_address(b_ip)
    except ValueError:
        return None
    if number is None or a.version != b.version or not (0 <= a_port <= 0xFFFF and 0 <= b_port <= 0xFFFF):
        return None
    a_int, b_int = int(a), int(b)
    head = (number << 56) | (a.version << 48) | (a_port << 32) | (b_port << 16)
    return _KEY.pack(head, a_int >> 64, a_int & _LOW64, b_int >> 64, b_int & _LOW64)


class NameObserver:
    """Passive DNS (address -> name) and per-flow SNI / Host / DNS question, fed batch by batch."""

    def __init__(self, packet_budget: int = DEFAULT_PACKET_BUDGET, max_names: int = DEFAULT_MAX_NAMES,
                 max_flows: int = DEFAULT_MAX_FLOWS) -> None:
        self.packet_budget = packet_budget
        self.max_names = max_names
        self.max_flows = max_flows
        self.stats = NameStats()
        self._names: OrderedDict[str, Named] = OrderedDict()
        self._packets_seen = 0  # the default order of answers: their place among the packets observed
        # Per flow, by a packed canonical key built from the batch columns without formatting an
        # address: the decode budget used and what was found. The oldest flows go first when
        # full; one that comes back then gets a fresh budget, which still bounds work per flow.
        self._flows: OrderedDict[bytes, _FlowInfo] = OrderedDict()
        self._records = RecordReassembly()  # ClientHellos and DNS messages longer than their first segment
        self._record_keys: dict[int, bytes] = {}  # this batch's TLS and DNS-over-TCP rows -> directional key
        self._seq: np.ndarray = np.zeros(0, np.uint32)  # this batch's TCP sequence numbers and payload lengths
        self._payload_len: np.ndarray = np.zeros(0, np.int64)

    def observe(self, raw: RawBatch, parsed: ParsedBatch, packets_before: np.ndarray | None = None,
                order: np.ndarray | None = None) -> None:
        """Decode the batch's candidates; `packets_before` as in select_candidates.

        `order` ranks each packet among all the observers of one capture (a pipeline shard's
        packets' places in the file, or their times live), so that merged observers name an
        address after the latest answer, as one observer of the whole capture does; by
        default it is the packet's place among those this observer has seen.
        """
        self._records.next_batch()
        self._seq, self._payload_len = parsed.tcp_seq, parsed.payload_len
        found = select_candidates(raw, parsed, packets_before)
        stream_rows = found.index[(found.kind == KIND_TLS) | (found.kind == KIND_DNS_TCP)]
        self._record_keys = dict(zip(stream_rows.tolist(), _split_keys(_directional_keys(parsed, stream_rows)),
                                     strict=True))
        self._observe_candidates(raw, parsed, found, order)
        if self._records:
            self._continue_records(raw, parsed, packets_before)

    def _observe_candidates(self, raw: RawBatch, parsed: ParsedBatch, found: Candidates,
                            order: np.ndarray | None) -> None:
        first, self._packets_seen = self._packets_seen, self._packets_seen + parsed.count
        if not found.index.size:
            return
        found_order = (found.index + first if order is None else order[found.index]).tolist()
        self.stats.candidates += int(found.index.size)
        records = _packed_keys(parsed, found.index)
        distinct, first, inverse = np.unique(records, return_index=True, return_inverse=True)
        keys = _split_keys(distinct)
        if len(self._flows) + len(keys) > self.max_flows:
            # Flows may be dropped and come back within this batch: take candidates one by one.
            self._observe_each([keys[k] for k in inverse.tolist()], raw.data, found, found_order)
            return
        # Budgets are settled per distinct flow, in numpy: a long flow's later packets never reach
        # Python. New flows enter the table in the order their first candidates appear.
        flows = self._flows
        infos = [None] * len(keys)
        remaining = np.empty(len(keys), dtype=np.int64)
        for k in np.argsort(first, kind="stable").tolist():
            info = flows.get(keys[k])
            if info is None:
                info = flows[keys[k]] = _FlowInfo()
            infos[k] = info
            remaining[k] = self.packet_budget - info.decodes
        chosen = np.flatnonzero(_rank_within_key(inverse) < remaining[inverse])
        self.stats.over_budget += int(found.index.size - chosen.size)
        data = raw.data
        rows = zip(inverse[chosen].tolist(), found.kind[chosen].tolist(), found.start[chosen].tolist(),
                   found.length[chosen].tolist(), [found_order[c] for c in chosen.tolist()],
                   found.index[chosen].tolist(), strict=True)
        for k, kind, start, length, rank, row in rows:
            info = infos[k]
            info.decodes += 1
            self.stats.decoded += 1
            self._decode(info, kind, data[start:start + length].tobytes(), rank, row)

    def _observe_each(self, keys: list[bytes], data: np.ndarray, found: Candidates, found_order: list[int]) -> None:
        flows = self._flows
        for key, kind, start, length, rank, row in zip(keys, found.kind.tolist(), found.start.tolist(),
                                                       found.length.tolist(), found_order, found.index.tolist(),
                                                       strict=True):
            info = flows.get(key)
            if info is None:
                info = flows[key] = _FlowInfo()
                if len(flows) > self.max_flows:
                    flows.popitem(last=False)
            if info.decodes >= self.packet_budget:
                self.stats.over_budget += 1
                continue
            info.decodes += 1
            self.stats.decoded += 1
            self._decode(info, kind, data[start:start + length].tobytes(), rank, row)

    def _continue_records(self, raw: RawBatch, parsed: ParsedBatch, packets_before: np.ndarray | None) -> None:
        """Hand the batch's later segments of the flows with an incomplete record to the reassembly
        (those the decode loop did not take already: a DNS continuation is a candidate itself)."""
        wanted = parsed.flow_mask() & (parsed.ip_proto == PROTO_TCP) & (parsed.payload_len > 0)
        if packets_before is not None:
            wanted &= packets_before < FIRST_PACKETS
        rows = np.flatnonzero(wanted)
        keys = _directional_keys(parsed, rows)
        waiting = np.frombuffer(b"".join(self._records.keys), dtype=keys.dtype)
        hit = np.flatnonzero(np.isin(keys, waiting))
        if not hit.size:
            return
        rows = rows[hit]
        start, length = payload_spans(raw, parsed, ByteReader(raw.data), rows, np.ones(rows.size, dtype=bool))
        data = raw.data
        for row, key, at, size in zip(rows.tolist(), _split_keys(keys[hit]), start.tolist(), length.tolist(),
                                      strict=True):
            done = self._records.extend(key, data[at:at + size].tobytes(), int(parsed.tcp_seq[row]),
                                        int(parsed.payload_len[row]), row)
            if done is not None:
                self._whole_record(*done)

    def _whole_record(self, owner: tuple[_FlowInfo, int, int], record: bytes) -> None:
        info, kind, rank = owner
        if kind == KIND_TLS:
            self._found_hello(info, parse_client_hello(record))
        else:
            self._found_dns(info, record[2:], rank)

    def _found_hello(self, info: _FlowInfo, hello: ClientHello | None) -> None:
        if hello is not None:
            self.stats.client_hellos += 1
            info.sni = info.sni or _shared(hello.sni)

    def _found_dns(self, info: _FlowInfo, payload: bytes, rank: int) -> None:
        message = parse_dns(payload)
        if message is not None:
            self.stats.dns_messages += 1
            if message.questions:
                info.dns_query = info.dns_query or _shared(message.questions[0].name)
            self._learn(message, rank)

    def name_for(self, ip: str) -> str | None:
        """The name a DNS answer last gave for this address (text form as in flow keys), if any."""
        named = self._names.get(ip)
        return None if named is None else named[0]

    def named(self, ips: list[str]) -> list[Named | None]:
        """Each address's name with the order of the answer that gave it."""
        names = self._names
        return [names.get(ip) for ip in ips]

    def answer(self, flows: FlowColumns, a_ips: list[str], b_ips: list[str]) -> NamesAnswer:
        """table_names plus the addresses' Named, for merging with other observers' answers."""
        return self.table_names(flows, a_ips, b_ips), self.named(a_ips), self.named(b_ips)

    def answer_keys(self, keys: list[FlowKey]) -> NamesAnswer:
        """`answer` for flows given by their canonical keys (a snapshot's rows)."""
        return ([self.flow_names(key) for key in keys], self.named([key[1] for key in keys]),
                self.named([key[3] for key in keys]))

    def flow_names(self, key: FlowKey) -> FlowNames | None:
        """Names for a flow by its canonical key `(proto, a_ip, a_port, b_ip, b_port)`; None if none known."""
        packed = _packed_key(key)
        info = None if packed is None else self._flows.get(packed)
        names = FlowNames(self.name_for(key[1]), self.name_for(key[3]), *(
            (info.sni, info.http_host, info.dns_query) if info is not None else ()))
        return None if names == _NO_NAMES else names

    def names_for_flows(self, keys: Iterable[FlowKey]) -> dict[FlowKey, FlowNames]:
        """Names of the flows that have any, for a snapshot's top flows (a few dict lookups per flow)."""
        found = {}
        for key in keys:
            names = self.flow_names(key)
            if names is not None:
                found[key] = names
        return found

    def table_names(self, flows: FlowColumns, a_ips: list[str], b_ips: list[str]) -> list[FlowNames | None]:
        """flow_names for every flow of a table (an export), given its endpoint addresses as text:
        the keys are packed in numpy from the columns instead of parsed back from the text."""
        if not self._names and not self._flows:
            return [None] * flows.count
        v4 = flows.ip_version == 4
        low32, zero = np.uint64(0xFFFFFFFF), np.uint64(0)
        packed = _pack_words(flows.proto, flows.ip_version, flows.a_port, flows.b_port,
                             np.where(v4, zero, flows.a_hi), np.where(v4, flows.a_lo & low32, flows.a_lo),
                             np.where(v4, zero, flows.b_hi), np.where(v4, flows.b_lo & low32, flows.b_lo)).tobytes()
        size = _KEY.size
        found: list[FlowNames | None] = []
        for i, (a_ip, b_ip) in enumerate(zip(a_ips, b_ips, strict=True)):
            info = self._flows.get(packed[i * size:(i + 1) * size]) if self._flows else None
            names = FlowNames(self.name_for(a_ip), self.name_for(b_ip), *(
                (info.sni, info.http_host, info.dns_query) if info is not None else ()))
            found.append(None if names == _NO_NAMES else names)
        return found

    @property
    def known_names(self) -> int:
        return len(self._names)

    @property
    def known_flows(self) -> int:
        return len(self._flows)

    def _decode(self, info: _FlowInfo, kind: int, payload: bytes, rank: int, row: int) -> None:
        if kind == KIND_HTTP:
            request = parse_http_request(payload)
            if request is not None:
                self.stats.http_requests += 1
                info.http_host = info.http_host or _shared(request.host)
        elif kind == KIND_DNS_UDP:
            self._found_dns(info, payload, rank)
        else:  # a ClientHello record, or a DNS message after its 2-byte length: either may go on
            key, seq = self._record_keys[row], int(self._seq[row])
            if self._records.continues(key, seq):  # the next segment of one that goes on
                done = self._records.extend(key, payload, seq, int(self._payload_len[row]), row)
                if done is not None:
                    self._whole_record(*done)
                return
            needed = (RECORD_HEADER_LEN + int.from_bytes(payload[3:5], "big") if kind == KIND_TLS
                      else 2 + int.from_bytes(payload[:2], "big"))
            if needed > len(payload):
                self._records.start(key, payload, needed, seq, int(self._payload_len[row]), (info, kind, rank), row)
            else:
                self._whole_record((info, kind, rank), payload[:needed])

    def _learn(self, message: DnsMessage, rank: int) -> None:
        header = message.header
        if not header.is_response or header.flags & 0xF:
            return
        # Addresses are named after the name that was asked for: follow CNAMEs back from the
        # A/AAAA owner (www.example.com CNAME cdn.example.net, cdn.example.net A ...).
        aliased_by = {}
        for record in message.answers:
            if record.rtype == TYPE_CNAME and record.target is not None:
                aliased_by.setdefault(record.target.lower(), record.name)
        for record in message.answers + message.additionals:
            if record.rtype not in (TYPE_A, TYPE_AAAA) or record.rclass & CLASS_MASK != CLASS_IN:
                continue
            address = record.address
            if address is None or record.name == ".":
                continue
            name = record.name
            for _ in range(MAX_CNAME_HOPS):
                owner = aliased_by.get(name.lower())
                if owner is None:
                    break
                name = owner
            self._remember(address, _shared(name), rank)

    def _remember(self, address: str, name: str, rank: int) -> None:
        self._names[address] = (name, rank)
        self._names.move_to_end(address)
        if len(self._names) > self.max_names:
            self._names.popitem(last=False)
        self.stats.names_learned += 1


NAME_FIELDS = ("name_a", "name_b", "sni", "http_host")
