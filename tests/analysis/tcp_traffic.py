"""Random TCP traffic for the TcpHealth tests, and the comparison with the oracle's flows."""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

import numpy as np
from hypothesis import strategies as st

from netscope.parse.columns import PROTO_TCP, PROTO_UDP, ParsedBatch

from .tcp_oracle import ACK, FIN, RST, SYN, Flow

PSH = 0x08
M32 = 1 << 32


@dataclass(frozen=True)
class Packet:
    row: int
    direction: int
    flags: int
    seq: int
    ack: int
    window: int
    payload: int
    proto: int = PROTO_TCP


def parsed(packets: list[Packet], ts_us: list[int]) -> ParsedBatch:
    n = len(packets)
    columns = {f.name: np.zeros(n, dtype=np.int64) for f in fields(ParsedBatch)}
    columns.update(
        ts_us=np.array(ts_us, dtype=np.int64),
        ip_proto=np.array([p.proto for p in packets], dtype=np.uint8),
        tcp_flags=np.array([p.flags for p in packets], dtype=np.uint8),
        tcp_seq=np.array([p.seq for p in packets], dtype=np.uint32),
        tcp_ack=np.array([p.ack for p in packets], dtype=np.uint32),
        tcp_window=np.array([p.window for p in packets], dtype=np.uint16),
        payload_len=np.array([p.payload for p in packets], dtype=np.int64),
    )
    return ParsedBatch(**columns)


FLAGS = st.sampled_from([ACK, ACK, ACK, ACK | PSH, ACK | PSH, SYN, SYN | ACK, ACK | FIN, FIN, RST, ACK | RST, 0])
ISN = st.one_of(st.sampled_from([0, 1, M32 - 1, M32 - 150, M32 - 1000]), st.integers(0, M32 - 1))
STEP_US = st.sampled_from([1, 1, 5, 50, 1_000, 2_999, 3_000, 5_000, 19_999, 20_000, 60_000, 0, -10])


@st.composite
def flow_packets(draw, row: int) -> list[Packet]:
    """One flow's packets around two initial sequence numbers.

    Besides random segments and ACKs, some packets are drawn in the shapes the rules look
    for: a handshake, the next in-order segment, a duplicate ACK, a resend from where the
    peer's ACKs stand.
    """
    isn = (draw(ISN), draw(ISN))
    proto = draw(st.sampled_from([PROTO_TCP] * 5 + [PROTO_UDP]))
    high = [0, 0]  # highest seq + len sent, as an offset from the direction's ISN
    acked = [0, 0]  # latest ACK sent, as an offset from the peer's ISN
    window = [512, 512]
    out: list[Packet] = []

    def emit(direction: int, flags: int, at: int, ack_at: int, size: int, win: int) -> None:
        high[direction] = max(high[direction], at + size + bool(flags & SYN) + bool(flags & FIN))
        if flags & ACK:
            acked[direction], window[direction] = ack_at, win
        out.append(Packet(row, direction, flags, (isn[direction] + at) % M32, (isn[1 - direction] + ack_at) % M32,
                          win, size, proto))

    for _ in range(draw(st.integers(1, 30))):
        d = draw(st.integers(0, 1))
        shape = draw(st.sampled_from(["random"] * 4 + ["next", "next", "dupack", "resend", "handshake"]))
        size = draw(st.sampled_from([0, 0, 1, 100, 100, 300]))
        if shape == "handshake":
            emit(d, SYN, 0, 0, 0, 512)
            emit(1 - d, SYN | ACK, 0, 1, 0, 512)
            closer = draw(st.sampled_from([d, d, 1 - d]))  # an ACK from the SYN-ACK's side completes nothing
            emit(closer, ACK, 1, 1, 0, 512)
        elif shape == "next":
            emit(d, ACK | PSH, high[d], high[1 - d], size, window[d])
        elif shape == "dupack":
            emit(d, ACK, high[d], acked[d], 0, window[d])
        elif shape == "resend":
            emit(d, ACK, acked[1 - d], high[1 - d], max(size, 1), window[d])
        else:
            at = draw(st.integers(0, 15)) * 100 + draw(st.sampled_from([0, 0, 0, 0, 1, -1, 50]))
            ack_at = draw(st.integers(0, 16)) * 100 + draw(st.sampled_from([0, 0, 1]))
            emit(d, draw(FLAGS), at, ack_at, size, draw(st.sampled_from([0, 512, 512, 1024])))
    return out


def assert_same(values: dict[str, np.ndarray], i: int, flow: Flow) -> None:
    assert values["retransmissions"][i] == flow.retransmissions
    assert values["out_of_order"][i] == flow.out_of_order
    assert values["rtt_samples"][i] == len(flow.samples)
    if flow.samples:
        assert round(values["rtt_last_ms"][i] * 1000) == flow.samples[-1]
        assert round(values["rtt_min_ms"][i] * 1000) == flow.rtt_min_us
        assert math.isclose(values["rtt_ewma_ms"][i] * 1000, flow.ewma, rel_tol=1e-9, abs_tol=1e-6)
    else:
        assert math.isnan(values["rtt_last_ms"][i]) and math.isnan(values["rtt_ewma_ms"][i])
    handshake = values["rtt_handshake_ms"][i]
    if flow.handshake_us is None:
        assert math.isnan(handshake)
    else:
        assert round(handshake * 1000) == flow.handshake_us
