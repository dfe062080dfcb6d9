"""TCP health packet by packet, written as plainly as possible: the oracle for netscope.analysis.tcp_*.

RTT: the reference's rule (§3.5) as it reads: an ACK pops, oldest first, every queued
(seq_end, time) of the peer it covers; a segment that advances its direction is queued,
128 at most. Classification: tshark's tcp_analyze_sequence_number rules (fast
retransmission, out-of-order, spurious and plain retransmission, keep-alive). Handshake:
tshark's initial RTT, exported only for a full handshake. Sequence numbers compare with
signed 32-bit differences, as both tools do.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

SYN, ACK, FIN, RST = 0x02, 0x10, 0x01, 0x04
M32 = 1 << 32


def diff(a: int, b: int) -> int:
    d = (a - b) % M32
    return d - M32 if d >= M32 // 2 else d


@dataclass
class Direction:
    next: int | None = None  # tshark's nextseq: highest seq + len of any packet
    next_us: int = 0
    seg_max: int | None = None  # the reference's max_seq_end (segments with length)
    inflight: deque = field(default_factory=deque)
    ack: int | None = None  # latest ACK this direction sent
    ack_us: int = 0
    window: int = 0
    dupacks: int = 0


@dataclass
class Flow:
    first_us: int
    dirs: tuple[Direction, Direction] = field(default_factory=lambda: (Direction(), Direction()))
    retransmissions: int = 0
    out_of_order: int = 0
    samples: list[int] = field(default_factory=list)
    ewma: float | None = None
    syn_us: int | None = None
    syn_dir: int = 0
    synack_seen: bool = False
    first_rtt: int | None = None
    full_handshake: bool = False

    @property
    def rtt_min_us(self) -> int | None:
        return min(self.samples) if self.samples else None

    @property
    def handshake_us(self) -> int | None:
        return max(self.first_rtt, 0) if self.first_rtt is not None and self.full_handshake else None

    def packet(self, d: int, ts: int, flags: int, seq: int, ack: int, window: int, payload: int) -> None:
        self.first_us = min(self.first_us, ts)
        me, peer = self.dirs[d], self.dirs[1 - d]
        syn, is_ack, fin = bool(flags & SYN), bool(flags & ACK), bool(flags & FIN)
        plain = not flags & (SYN | FIN | RST)
        seq_len = payload + syn + fin
        if is_ack:
            while peer.inflight and diff(peer.inflight[0][0], ack) <= 0:
                _, sent = peer.inflight.popleft()
                self._sample(max(0, ts - sent))
            duplicate = (payload == 0 and window != 0 and me.ack is not None and window == me.window
                         and me.next is not None and seq == me.next and ack == me.ack and plain)
            if duplicate:
                me.dupacks += 1
            elif me.ack is None or ack != me.ack:
                me.dupacks = 0
        if seq_len > 0:
            end = (seq + seq_len) % M32
            self._classify(me, peer, ts, seq, end, payload, plain)
            if me.seg_max is None or diff(end, me.seg_max) > 0:
                me.seg_max = end
                me.inflight.append((end, ts))
                if len(me.inflight) > 128:
                    me.inflight.popleft()
        end = (seq + seq_len) % M32
        if me.next is None or diff(end, me.next) > 0:
            me.next, me.next_us = end, ts
        if is_ack:
            me.ack, me.ack_us, me.window = ack, ts, window
        if syn and not is_ack:
            self.syn_us, self.syn_dir, self.synack_seen = ts, d, False
        elif syn and is_ack:
            if self.syn_us is not None and d != self.syn_dir:
                self.synack_seen = True
        elif is_ack and self.syn_us is not None and self.first_rtt is None and ts != self.syn_us:
            self.first_rtt = ts - self.syn_us
            self.full_handshake = self.synack_seen and d == self.syn_dir

    def _classify(self, me: Direction, peer: Direction, ts: int, seq: int, end: int, payload: int,
                  plain: bool) -> None:
        late = keepalive = False
        if me.next is not None:
            one_below = seq == (me.next - 1) % M32
            late = diff(seq, me.next) < 0 and not (payload > 1 and one_below)
            keepalive = payload == 1 and one_below and plain
        if keepalive:
            return
        window = self.first_rtt if self.first_rtt is not None else 3000
        fast = (late and peer.ack is not None and peer.dupacks >= 2 and peer.ack == seq
                and 0 <= ts - peer.ack_us < 20_000)
        reordered = not fast and late and 0 <= ts - me.next_us < window and end != me.next
        spurious = (not fast and not reordered and payload > 0 and peer.ack is not None
                    and diff(end, peer.ack) <= 0)
        if fast or spurious or (late and not reordered):
            self.retransmissions += 1
        elif reordered:
            self.out_of_order += 1

    def _sample(self, rtt_us: int) -> None:
        self.samples.append(rtt_us)
        self.ewma = rtt_us if self.ewma is None else 0.875 * self.ewma + 0.125 * rtt_us
