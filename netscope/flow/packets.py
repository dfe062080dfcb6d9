"""The packets of a batch that the flow layer counts, with endpoints already in canonical order."""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from netscope.flow.keys import a_to_b
from netscope.parse.columns import PROTO_TCP, ParsedBatch


@dataclass(slots=True)
class FlowPackets:
    """One entry per TCP/UDP packet of a batch (reference §3.1), in batch order."""

    position: np.ndarray  # int64, index of the packet in its batch
    ip_version: np.ndarray  # uint8
    proto: np.ndarray  # uint8
    a_hi: np.ndarray  # uint64
    a_lo: np.ndarray
    b_hi: np.ndarray
    b_lo: np.ndarray
    a_port: np.ndarray  # uint16
    b_port: np.ndarray
    a_to_b: np.ndarray  # bool
    ts_us: np.ndarray  # int64
    wirelen: np.ndarray  # int64
    flags: np.ndarray  # uint8, TCP flags; 0 for UDP so the state machine ignores those packets

    @staticmethod
    def gather(batch: ParsedBatch, position: np.ndarray) -> FlowPackets:
        """The packets of `batch` at `position` (indices of flow packets, ascending)."""
        def column(name: str) -> np.ndarray:
            return getattr(batch, name)[position]

        src_hi, src_lo, src_port = column("src_hi"), column("src_lo"), column("src_port")
        dst_hi, dst_lo, dst_port = column("dst_hi"), column("dst_lo"), column("dst_port")
        forward = a_to_b(src_hi, src_lo, src_port, dst_hi, dst_lo, dst_port)
        proto = column("ip_proto")
        return FlowPackets(
            position=position, ip_version=column("ip_version"), proto=proto,
            a_hi=np.where(forward, src_hi, dst_hi), a_lo=np.where(forward, src_lo, dst_lo),
            b_hi=np.where(forward, dst_hi, src_hi), b_lo=np.where(forward, dst_lo, src_lo),
            a_port=np.where(forward, src_port, dst_port), b_port=np.where(forward, dst_port, src_port),
            a_to_b=forward, ts_us=column("ts_us"), wirelen=column("wirelen"),
            flags=np.where(proto == PROTO_TCP, column("tcp_flags"), 0).astype(np.uint8),
        )

    @property
    def count(self) -> int:
        return int(self.position.shape[0])

    def take(self, index: np.ndarray) -> FlowPackets:
        return FlowPackets(**{f.name: getattr(self, f.name)[index] for f in fields(self)})
