"""The unit of work handed from capture to parse: one libpcap batch, viewed, not copied."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, slots=True)
class RawBatch:
    """Packets of one `next_batch` call as parallel numpy columns over a single byte buffer.

    `data` is a zero-copy uint8 view of the bytes pcapy returned; packet i is
    `data[offset[i] : offset[i] + caplen[i]]`. Wire length is kept apart from captured length
    because a snaplen-truncated capture still has to count the bytes that crossed the wire.
    """

    data: np.ndarray  # uint8, the whole batch buffer
    offset: np.ndarray  # int64, start of each packet in data
    caplen: np.ndarray  # int64, bytes present
    wirelen: np.ndarray  # int64, original length on the wire
    ts_us: np.ndarray  # int64, packet timestamp in microseconds since the epoch
    linktype: int  # pcap DLT of every packet in the batch

    @property
    def count(self) -> int:
        return int(self.offset.shape[0])

    def slice(self, start: int, stop: int) -> RawBatch:
        """Packets start..stop-1 as a batch over the same buffer (pacing feeds batches in slices)."""
        return RawBatch(self.data, self.offset[start:stop], self.caplen[start:stop], self.wirelen[start:stop],
                        self.ts_us[start:stop], self.linktype)

    def where(self, keep: np.ndarray) -> RawBatch:
        """The packets where `keep` (bool per packet) holds, over the same buffer."""
        return RawBatch(self.data, self.offset[keep], self.caplen[keep], self.wirelen[keep], self.ts_us[keep],
                        self.linktype)

    def packet(self, i: int) -> bytes:
        """One packet's captured bytes, for inspection views (never on the hot path)."""
        start = int(self.offset[i])
        return self.data[start : start + int(self.caplen[i])].tobytes()

    @staticmethod
    def from_packets(packets: list[bytes], ts_us: list[int], linktype: int,
                     wirelen: list[int] | None = None) -> RawBatch:
        """Build a batch from separate packets: used by tests, benchmarks and synthetic input."""
        caplen = np.array([len(p) for p in packets], dtype=np.int64)
        offset = np.zeros(len(packets), dtype=np.int64)
        if len(packets) > 1:
            offset[1:] = np.cumsum(caplen)[:-1]
        data = np.frombuffer(b"".join(packets), dtype=np.uint8) if packets else np.zeros(0, np.uint8)
        wl = caplen.copy() if wirelen is None else np.asarray(wirelen, dtype=np.int64)
        return RawBatch(data, offset, caplen, wl, np.asarray(ts_us, dtype=np.int64), linktype)
