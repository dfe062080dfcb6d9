"""Live capture from an interface through pcapy, delivered as RawBatch objects.

The handle is built with `pcapy.create` so each option (snaplen, promiscuous mode, timeout,
kernel buffer) is set before `activate()`; pcapy returns libpcap's activation code instead of
raising, and the code is what says *why* (no such device, permission) — errors.py turns it
into advice. Wire lengths are estimated from the IP header for packets that fill the snaplen
(netscope.capture.wirelen), since live metadata has only the captured length.

Stopping: libpcap's read timeout does not make a read return on a silent link (Linux
TPACKET_V3 only wakes the reader when the kernel retires a block, and an empty block is
never retired), so a blocking `next_batch` could wait forever and a stop request with it.
The handle is therefore non-blocking and `batches(stop)` waits in `select()` on its file
descriptor for at most `timeout_ms`, checking `stop` after every wait. When the wait ends
with nothing captured it yields an *empty* batch rather than nothing, so a consumer that
ticks (redraws, expires flows) between batches keeps ticking while the link is idle. A lock
around each wait-and-read lets another thread call `close()` or `stats()` safely: they wait
for the read in progress, at most one timeout.
"""

from __future__ import annotations

import logging
import select
import threading
import time
from collections.abc import Iterator
from typing import NamedTuple

import pcapy

from netscope.capture.batch import RawBatch
from netscope.capture.errors import CaptureError, activate_error, filter_error
from netscope.capture.fanout import PACKET_FANOUT_CBPF, set_fanout_program
from netscope.capture.interfaces import default_interface
from netscope.capture.pcapfile import FULL_SNAPLEN
from netscope.capture.source import StopSignal, empty_batch, stop_check, unpack_batch
from netscope.capture.wirelen import effective_snaplen, estimate_wirelen

log = logging.getLogger(__name__)

MIN_TIMEOUT_MS = 1  # 0 would mean "wait until packets arrive": stop could never be honoured
DRAIN_LIMIT_S = 1.0  # at a stop, wait at most this long for the kernel to hand over what it holds
ACTIVATION_WARNINGS = {1: "libpcap warning", 2: "promiscuous mode not supported",
                       3: "requested timestamp type not supported"}


class CaptureStats(NamedTuple):
    """libpcap's counters since the handle was activated."""

    received: int
    dropped: int  # by the kernel: the ring buffer was full
    if_dropped: int  # by the interface or its driver


class LiveSource:
    """An activated libpcap handle on one interface."""

    def __init__(self, interface: str | None, snaplen: int = FULL_SNAPLEN, promiscuous: bool = True,
                 timeout_ms: int = 100, buffer_size_mb: int | None = None, immediate_mode: bool = False,
                 bpf_filter: str | None = None, batch_packets: int = 4096) -> None:
        resolved = interface or default_interface()
        if not resolved:
            raise CaptureError("no capture interface found (see --list-interfaces)")
        self.interface = resolved
        self.snaplen = effective_snaplen(snaplen)
        self.bpf_filter = bpf_filter or None
        self.batch_packets = batch_packets
        self.wirelen_estimated = 0
        self.packets_read = 0
        self.timeout_ms = max(timeout_ms, MIN_TIMEOUT_MS)
        self._lock = threading.Lock()
        self._handle = self._activate(promiscuous, self.timeout_ms, buffer_size_mb, immediate_mode)
        self._handle.setnonblock(1)
        self._fd = self._handle.getfd()
        self.linktype: int = self._handle.datalink()
        self._idle = empty_batch(self.linktype)
        if self.bpf_filter is not None:
            try:
                self._handle.setfilter(self.bpf_filter)
            except pcapy.PcapError as exc:
                self.close()
                raise filter_error(self.bpf_filter, str(exc)) from exc

    def _activate(self, promiscuous: bool, timeout_ms: int, buffer_size_mb: int | None,
                  immediate_mode: bool):
        try:
            handle = pcapy.create(self.interface)
        except pcapy.PcapError as exc:
            raise CaptureError(f"cannot capture on {self.interface}: {exc}") from exc
        handle.set_snaplen(self.snaplen)
        handle.set_promisc(int(promiscuous))
        handle.set_timeout(timeout_ms)
        if buffer_size_mb:
            handle.set_buffer_size(buffer_size_mb * 1024 * 1024)
        if immediate_mode:
            set_immediate = getattr(handle, "set_immediate_mode", None)
            if set_immediate is None:
                log.debug("immediate mode requested but this pcapy has no set_immediate_mode; ignored")
            else:
                set_immediate(1)
        code = handle.activate()
        if code < 0:
            handle.close()
            raise activate_error(self.interface, code, self._libpcap_message(promiscuous, timeout_ms))
        if code > 0:
            log.warning("%s: %s", self.interface, ACTIVATION_WARNINGS.get(code, f"libpcap warning {code}"))
        return handle

    def _libpcap_message(self, promiscuous: bool, timeout_ms: int) -> str | None:
        """libpcap's own text for a failed activation: pcapy only returns the code, open_live raises it."""
        try:
            pcapy.open_live(self.interface, self.snaplen, int(promiscuous), timeout_ms).close()
        except pcapy.PcapError as exc:
            return str(exc)
        return None

    def batches(self, stop: StopSignal = None) -> Iterator[RawBatch]:
        """Batches until `stop` (an Event or a callable) is set or the source is closed.

        An empty batch means the read timed out with nothing captured.
        """
        should_stop = stop_check(stop)
        while not should_stop():
            with self._lock:
                if self._handle is None:
                    return
                readable, _, _ = select.select([self._fd], [], [], self.timeout_ms / 1000)
                try:
                    packet_bytes, packed_meta = (self._handle.next_batch(self.batch_packets) if readable
                                                 else (b"", b""))
                except pcapy.PcapError as exc:
                    raise CaptureError(f"capture on {self.interface} failed: {exc}") from exc
            yield self._to_batch(packet_bytes, packed_meta) if packed_meta else self._idle

    def drain(self) -> Iterator[RawBatch]:
        """What the kernel has captured but not yet handed over, read when a capture stops.

        libpcap's ring hands packets over a block at a time, when the block fills or its read
        timeout retires it, so packets that arrived in the last `timeout_ms` before a stop are
        still in the kernel; tcpdump drops them with the ring. This reads for one read timeout
        more (at most DRAIN_LIMIT_S), which also takes in what arrives meanwhile.
        """
        deadline = time.monotonic() + min(self.timeout_ms / 1000, DRAIN_LIMIT_S)
        while (left := deadline - time.monotonic()) > 0:
            with self._lock:
                if self._handle is None or not select.select([self._fd], [], [], left)[0]:
                    return
                try:
                    packet_bytes, packed_meta = self._handle.next_batch(self.batch_packets)
                except pcapy.PcapError as exc:
                    raise CaptureError(f"capture on {self.interface} failed: {exc}") from exc
            if packed_meta:
                yield self._to_batch(packet_bytes, packed_meta)

    def _to_batch(self, packet_bytes: bytes, packed_meta: bytes) -> RawBatch:
        data, offset, caplen, ts_us = unpack_batch(packet_bytes, packed_meta)
        wirelen, estimated = estimate_wirelen(data, offset, caplen, self.linktype, self.snaplen)
        self.wirelen_estimated += estimated
        self.packets_read += caplen.size
        return RawBatch(data, offset, caplen, wirelen, ts_us, self.linktype)

    def stats(self) -> CaptureStats:
        with self._lock:
            if self._handle is None:
                return CaptureStats(0, 0, 0)
            try:
                return CaptureStats(*self._handle.stats())
            except pcapy.PcapError as exc:
                raise CaptureError(f"cannot read capture statistics on {self.interface}: {exc}") from exc

    def fanout(self, group_id: int) -> None:
        """Join a kernel PACKET_FANOUT group: handles in one group share the interface's packets,
        each flow's, both ways, on one handle (capture/fanout.py chooses)."""
        try:
            self._handle.set_fanout(group_id, PACKET_FANOUT_CBPF)
            set_fanout_program(self._fd)
        except (pcapy.PcapError, OSError) as exc:
            raise CaptureError(f"cannot join fanout group {group_id} on {self.interface}: {exc}") from exc

    def close(self) -> None:
        with self._lock:
            if self._handle is not None:
                self._handle.close()
                self._handle = None

    def __enter__(self) -> LiveSource:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()
