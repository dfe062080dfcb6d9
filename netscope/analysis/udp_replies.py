"""Tell UDP replies from UDP probes, so answering servers are not reported as scanners.

The reference counts every UDP packet towards a port scan by its source (§4.2), so a DNS server
answering ten clients is "scanning" them. Here a UDP packet is a reply, and not counted, when:

* the other endpoint of its flow sent a UDP packet to this packet's source endpoint within the
  port-scan window before it (a request this packet answers), or
* its source port is a well-known UDP service port (PortScanSettings.udp_service_ports): servers
  answer from those even when the request was not captured (one-way capture, capture started
  mid-conversation), and multicast/broadcast services (mDNS, SSDP, NetBIOS) talk from them.

The first rule is per flow, not per endpoint: a scanner whose probe got an answer from one target
is still counted when it probes the next target from the same socket. The price of the second
rule is that a UDP scan sent *from* a service port (nmap -g 53) is not counted; its TCP SYNs still
are.
"""

from __future__ import annotations

import numpy as np

from netscope.analysis.keytable import KeyTable
from netscope.analysis.windows import NEVER, CleanupGate
from netscope.parse.columns import ParsedBatch


class UdpReplies:
    def __init__(self, window_us: int, service_ports: tuple[int, ...]) -> None:
        self._window = window_us
        self._service_ports = np.array(sorted(set(service_ports)), dtype=np.uint16)
        self._flows = KeyTable(width=5)  # canonical flow: endpoint A, endpoint B, version and ports
        self._last_sent = np.full((2, 0), NEVER, np.int64)  # [direction, flow id]: newest packet
        self._cleanup = CleanupGate(window_us)

    @property
    def tracked_flows(self) -> int:
        return self._flows.count

    def replies(self, batch: ParsedBatch, rows: np.ndarray, clock: np.ndarray) -> np.ndarray:
        """For the UDP packets `rows` (in packet order), whether each one is a reply."""
        src_hi, src_lo, sport = batch.src_hi[rows], batch.src_lo[rows], batch.src_port[rows]
        dst_hi, dst_lo, dport = batch.dst_hi[rows], batch.dst_lo[rows], batch.dst_port[rows]
        src_first = (src_hi < dst_hi) | ((src_hi == dst_hi) & (
            (src_lo < dst_lo) | ((src_lo == dst_lo) & (sport <= dport))))
        a_port = np.where(src_first, sport, dport).astype(np.uint64)
        b_port = np.where(src_first, dport, sport).astype(np.uint64)
        flow = self._flows.ids([
            np.where(src_first, src_hi, dst_hi), np.where(src_first, src_lo, dst_lo),
            np.where(src_first, dst_hi, src_hi), np.where(src_first, dst_lo, src_lo),
            (batch.ip_version[rows].astype(np.uint64) << np.uint64(32)) | (a_port << np.uint64(16)) | b_port,
        ])
        self._fit(self._flows.count)
        direction = (~src_first).astype(np.int64)  # 0: sent by endpoint A
        times = clock[rows]
        answered = self._other_side_sent_at(flow, direction, times) >= times - self._window
        for d in (0, 1):
            mine = direction == d
            np.maximum.at(self._last_sent[d], flow[mine], times[mine])
        return answered | np.isin(sport, self._service_ports)

    def _other_side_sent_at(self, flow: np.ndarray, direction: np.ndarray, times: np.ndarray) -> np.ndarray:
        """Time of the latest earlier packet in the opposite direction of each packet's flow."""
        order = np.argsort(flow, kind="stable")
        f, d = flow[order], direction[order]
        size = f.shape[0]
        position = np.arange(size)
        starts = np.empty(size, dtype=bool)
        starts[:1] = True
        np.not_equal(f[1:], f[:-1], out=starts[1:])
        run_start = np.maximum.accumulate(np.where(starts, position, 0))
        latest = [np.maximum.accumulate(np.where(d == side, position, -1)) for side in (0, 1)]
        other = np.where(d == 0, latest[1], latest[0])
        in_batch = other >= run_start
        sent = np.where(in_batch, times[order][np.maximum(other, 0)], self._last_sent[1 - d, f])
        out = np.empty(size, dtype=np.int64)
        out[order] = sent
        return out

    def expire(self, now: int) -> None:
        if not self._cleanup.due(now):
            return
        keep = self._last_sent[:, : self._flows.count].max(axis=0) >= now - self._window
        if not keep.all():
            self._flows.rebuild(keep)
            self._last_sent = self._last_sent[:, np.flatnonzero(keep)]

    def _fit(self, count: int) -> None:
        size = self._last_sent.shape[1]
        if count > size:
            grown = max(count, 2 * size, 1024)
            self._last_sent = np.concatenate(
                [self._last_sent, np.full((2, grown - size), NEVER, np.int64)], axis=1)
