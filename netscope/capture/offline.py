"""Replaying a pcap or pcapng file as RawBatch objects.

libpcap (through pcapy's `next_batch`) decodes the file and applies the BPF filter; each
batch becomes numpy views over the returned buffers. Wire lengths come from the file's own
record headers through a predicted, vectorised index (netscope.capture.pcapfile); with a
filter, or for a file the index cannot follow, they are estimated instead
(netscope.capture.wirelen) and `wirelen_estimated` counts the packets concerned.
The path "-" is standard input, read as tcpdump -r - reads it. Standard input, FIFOs and
compressed files (decompress.py, as Wireshark opens them) are streams: a relay thread
(stream.py) hands libpcap whole records only, so a slow stream is processed as it arrives, a
stop or a stream cut short loses no complete packet, and the relay's walk over the record
headers gives exact wire lengths. A BPF filter on a stream is
applied to each batch after libpcap has read it, since libpcap's own would skip records
the relay counted.
A regular file is read one batch ahead in a thread (readahead.py), so libpcap's read of the
next batch overlaps the engine's work on this one.

A file that ends mid-record (a capture copied while still being written, a download cut
short) is still read up to the last complete packet: libpcap fails the whole batch that hits
the damage, so the source reopens the file, skips what it already delivered and collects the
remaining packets one by one. That slow path runs once, at the end; `warning` then says what
happened and `truncated_at` where, when the index knows the byte offset. The same path serves a
file libpcap stops reading for another reason; if that happens before the first packet, the
file is unreadable and the source raises instead. A pcapng interface of a second link type
after the first packets is not damage: the rest of the file is read by mixed_links.py.
"""

from __future__ import annotations

import logging
import mmap
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pcapy

from netscope.capture.batch import RawBatch
from netscope.capture.decompress import Decompressor, compression
from netscope.capture.errors import (
    MIXED_LINKS_REFUSAL,
    CaptureError,
    file_error,
    file_format_error,
    filter_error,
    stream_format_error,
)
from netscope.capture.mixed_links import MixedLinkSource
from netscope.capture.pcapfile import MAX_CAPLEN, RecordIndex, open_index, sniff_format
from netscope.capture.readahead import BatchReadAhead
from netscope.capture.source import StopSignal, empty_batch, pack_meta, stop_check, unpack_batch
from netscope.capture.stream import StreamRelay
from netscope.capture.wirelen import estimate_wirelen

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class _Columns:
    """A next_batch result unpacked, before the caller counts it and makes it a RawBatch."""

    data: np.ndarray
    offset: np.ndarray
    caplen: np.ndarray
    ts_us: np.ndarray
    wirelen: np.ndarray | None  # None: the index cannot tell, estimate
    index_position: int | None  # the index's byte offset once this batch is consumed


STDIN = "-"
STREAM_IDLE_S = 0.1  # a silent stream yields an empty batch this often, so ticks and stops go on


def _is_truncation(libpcap_message: str) -> bool:
    """Whether libpcap failed because the file ends inside a record ("truncated dump file; ...")."""
    return "truncated" in libpcap_message


class FileSource:
    """One capture file, read front to back in batches of up to `batch_packets` packets."""

    def __init__(self, path: str | os.PathLike[str], bpf_filter: str | None = None,
                 batch_packets: int = 32768) -> None:
        self.path = Path(path)
        self.bpf_filter = bpf_filter or None
        self.batch_packets = batch_packets
        self.packets_read = 0
        self.wirelen_estimated = 0
        self.truncated_at: int | None = None
        self.warning: str | None = None
        self._finished = False
        self._index: RecordIndex | None = None
        self._index_lost = False  # set by the reading thread; the index is not consulted after
        self._consumed: int | None = None  # the index's position after the last batch delivered
        self._read_ahead: BatchReadAhead | None = None
        self._regular_file = False
        self.size_bytes = 0
        self._relay: StreamRelay | None = None
        self._decompressor: Decompressor | None = None  # a compressed file, read as a stream of its content
        self._stream_filter = None  # a stream's BPF program, applied here (see the module docstring)
        self._rest: MixedLinkSource | None = None  # reads on past an interface of another link type
        self._mmap = self._map_file()
        try:
            self._handle = self._open_handle()
        except CaptureError:
            self._release_map()
            self._close_relay()
            raise
        self.linktype: int = self._handle.datalink()
        fmt = sniff_format(self._mmap) if self._mmap is not None else None
        self.file_format = fmt.kind if fmt else None
        self.snaplen = fmt.snaplen if fmt else 0
        if fmt is not None and self._mmap is not None and self.bpf_filter is None:
            self._index = open_index(np.frombuffer(self._mmap, dtype=np.uint8), fmt)
            self._consumed = self._index.position
        else:
            self._release_map()

    # -- opening -------------------------------------------------------------------------
    def _map_file(self) -> mmap.mmap | None:
        """Record the size and map the file for the wire-length index (not pipes or devices)."""
        if str(self.path) == STDIN:
            self._relay = StreamRelay(0)
            return None
        try:
            mode = os.stat(self.path).st_mode
            self._regular_file = stat.S_ISREG(mode)
            if stat.S_ISFIFO(mode) or stat.S_ISCHR(mode):
                self._relay = StreamRelay(str(self.path))
                return None
            kind = compression(self.path) if self._regular_file else None
            if kind is not None:
                self.size_bytes = os.stat(self.path).st_size
                self._decompressor = Decompressor(self.path, kind)
                self._relay = StreamRelay(self._decompressor)
                return None
            with open(self.path, "rb") as file:
                self.size_bytes = os.fstat(file.fileno()).st_size
                if self.size_bytes == 0:
                    return None
                return mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ)
        except OSError as exc:
            raise file_error(self.path, exc) from exc

    def _open_handle(self):
        path = str(self.path)
        if self._relay is not None:
            self._relay.opened.wait()  # libpcap then reads the header without waiting on the stream
            if self._relay.error is not None:
                raise file_error(self.path, self._relay.error)
            if not self._relay.header_seen:  # ended, or began with bytes no capture starts with
                if self._unzip_error() is not None:
                    raise CaptureError(f"cannot read {self.path}: {self._unzip_error()}")
                if self._compression() is not None:
                    raise CaptureError(f"{self.path} is {self._compression()}-compressed, but what it holds is "
                                       "not a pcap or pcapng capture")
                raise stream_format_error(self.path, self._relay.head)
            path = self._relay.path
        try:
            handle = pcapy.open_offline(path)
        except pcapy.PcapError as exc:
            raise file_format_error(self.path, str(exc)) from exc
        finally:
            if self._relay is not None:
                self._relay.attached.set()
        if self._relay is not None and self.bpf_filter is not None:
            try:
                self._stream_filter = pcapy.compile(handle.datalink(), MAX_CAPLEN, self.bpf_filter, 1, 0)
            except pcapy.PcapError as exc:
                handle.close()
                raise filter_error(self.bpf_filter, str(exc)) from exc
        elif self.bpf_filter is not None:
            try:
                handle.setfilter(self.bpf_filter)
            except pcapy.PcapError as exc:
                handle.close()
                raise filter_error(self.bpf_filter, str(exc)) from exc
        return handle

    # -- reading -------------------------------------------------------------------------
    def batches(self, stop: StopSignal = None) -> Iterator[RawBatch]:
        """Batches until the end of the file, or until `stop` (an Event or a callable) is set.

        A regular file is read one batch ahead by a thread (capture/readahead.py), which also
        finds the batch's wire lengths, so reading and indexing overlap the caller's work on
        the batch it was given.
        """
        should_stop = stop_check(stop)
        if self._relay is not None:
            yield from self._stream_batches(should_stop)
            return
        self._stop_read_ahead()  # one reader of the handle at a time, even if an earlier iterator lives on
        if self._regular_file and not self._finished:
            self._read_ahead = BatchReadAhead(self._handle, self.batch_packets, self._columns, self._release_map)
            results = iter(self._read_ahead)
        else:
            results = self._read_in_place()
        try:
            while not self._finished and not should_stop():
                try:
                    columns = next(results)
                except pcapy.PcapError as exc:
                    self._stop_read_ahead()
                    yield from self._read_up_to_damage(str(exc), should_stop)
                    return
                if columns is None:
                    self._finished = True
                    return
                yield self._to_batch(columns)
        finally:
            self._stop_read_ahead()

    def _stream_batches(self, should_stop) -> Iterator[RawBatch]:
        """A stream's packets as the relay hands them over, never asking libpcap for more."""
        relay = self._relay
        while not self._finished and not should_stop():
            ready = relay.available()
            if not ready:
                if relay.ended and not relay.available():
                    self._end_stream()
                    return
                relay.wait(STREAM_IDLE_S)
                if not relay.available():
                    yield empty_batch(self.linktype)
                continue
            try:
                packet_bytes, packed_meta = self._handle.next_batch(min(ready, self.batch_packets))
            except pcapy.PcapError as exc:  # a later pcapng section libpcap cannot follow, say
                if not self.packets_read:
                    raise file_format_error(self.path, str(exc)) from exc
                self._finished = True
                self.warning = f"{self.path}: reading stopped after packet {self.packets_read:,} ({exc})"
                return
            data, offset, caplen, ts_us = unpack_batch(packet_bytes, packed_meta)
            wirelen = relay.take(caplen.size)
            batch = self._to_batch(_Columns(data, offset, caplen, ts_us, wirelen, None))
            yield self._filtered(batch) if self._stream_filter is not None else batch
        relay.stop()

    def _filtered(self, batch: RawBatch) -> RawBatch:
        """The packets of a stream's batch that pass its BPF filter (a stream's only per-packet loop)."""
        keep = np.fromiter((self._stream_filter.filter(batch.packet(i)) != 0 for i in range(batch.count)),
                           dtype=bool, count=batch.count)
        return RawBatch(batch.data, batch.offset[keep], batch.caplen[keep], batch.wirelen[keep],
                        batch.ts_us[keep], batch.linktype)

    def _end_stream(self) -> None:
        self._finished = True
        relay = self._relay
        unzip_error = self._unzip_error()
        if unzip_error is not None:  # said in the compressed file's terms, not the stream's
            if not self.packets_read:
                raise CaptureError(f"cannot read {self.path}: {unzip_error}")
            self.warning = f"{self.path}: reading stopped after packet {self.packets_read:,}: {unzip_error}"
        elif relay.error is not None:
            self.warning = f"{self.path}: reading stopped after packet {self.packets_read:,} ({relay.error})"
        elif relay.damage is not None:
            if not self.packets_read:  # refused from the start: an error, as for a file (_read_up_to_damage)
                raise file_format_error(self.path, relay.damage)
            self.truncated_at = relay.cut_at
            self.warning = (f"{self.path}: reading stopped after packet {self.packets_read:,}, at byte "
                            f"{relay.cut_at:,}: {relay.damage}")
        elif relay.cut_at is not None:
            self.truncated_at = relay.cut_at
            self.warning = (f"{self.path} ended or was damaged inside a record at byte {relay.cut_at:,}; the "
                            f"{self.packets_read:,} complete packets before it were read")

    def _compression(self) -> str | None:
        """What a compressed file or stream was compressed with; None for a plain one."""
        return self._decompressor.kind if self._decompressor is not None else self._relay.compression

    def _unzip_error(self) -> str | None:
        """Why decompressing stopped before the end of the data, in the compressed data's terms."""
        return self._decompressor.error if self._decompressor is not None else self._relay.inflate_error

    def _read_in_place(self) -> Iterator[_Columns | None]:
        while True:
            packet_bytes, packed_meta = self._handle.next_batch(self.batch_packets)
            yield self._columns((packet_bytes, packed_meta)) if packed_meta else None

    def _stop_read_ahead(self) -> None:
        if self._read_ahead is not None:
            self._read_ahead.stop()
            self._read_ahead = None

    def _columns(self, batch: tuple[bytes, bytes]) -> _Columns:
        """One next_batch result as columns, with exact wire lengths while the index keeps track
        (None after). Runs in the read-ahead thread: it touches the index, nothing the caller reads."""
        data, offset, caplen, ts_us = unpack_batch(*batch)
        wirelen = None
        if self._index is not None and not self._index_lost:
            wirelen = self._index.wire_lengths(caplen)
            if wirelen is None:
                log.debug("%s: record index lost track at byte %d; estimating wire lengths from here",
                          self.path, self._index.position)
                self._index_lost = True
        position = self._index.position if self._index is not None and not self._index_lost else None
        return _Columns(data, offset, caplen, ts_us, wirelen, position)

    def _to_batch(self, columns: _Columns) -> RawBatch:
        self.packets_read += columns.caplen.size
        self._consumed = columns.index_position
        wirelen = columns.wirelen
        if wirelen is None:
            wirelen, estimated = estimate_wirelen(columns.data, columns.offset, columns.caplen, self.linktype, None)
            self.wirelen_estimated += estimated
        return RawBatch(columns.data, columns.offset, columns.caplen, wirelen, columns.ts_us, self.linktype)

    def _read_up_to_damage(self, libpcap_message: str, should_stop=lambda: False) -> Iterator[RawBatch]:
        """Deliver the packets of the batch libpcap failed, up to the damaged record, then stop."""
        self._finished = True
        handle = self._open_handle()
        try:
            to_skip = self.packets_read
            while to_skip:
                _, meta = handle.next_batch(min(to_skip, self.batch_packets))
                if not meta:
                    break
                to_skip -= len(meta) // 16
            packets, stamps = [], []
            try:
                header, data = handle.next()
                while header is not None:
                    sec, usec = header.getts()
                    packets.append(data)
                    stamps.append(sec * 1_000_000 + usec)
                    header, data = handle.next()
            except pcapy.PcapError:
                pass  # the damaged record itself
        finally:
            handle.close()
        caplen = np.array([len(p) for p in packets], dtype=np.int64)
        batch = self._to_batch(self._columns((b"".join(packets), pack_meta(np.array(stamps, dtype=np.int64),
                                                                              caplen))))
        if MIXED_LINKS_REFUSAL in libpcap_message and self._relay is None:
            # An interface of another link type after the first packets: the rest is read here.
            if batch.count:
                yield batch
            self._rest = MixedLinkSource(self.path, self.bpf_filter, self.batch_packets, skip=self.packets_read)
            yield from self._rest.batches(should_stop)
            self.packets_read += self._rest.packets_read
            self.warning, self.truncated_at = self._rest.warning, self._rest.truncated_at
            return
        if not self.packets_read and not _is_truncation(libpcap_message):
            # Not a cut-off file but one libpcap cannot read at all: an error, not a warning
            # over an empty run.
            raise file_format_error(self.path, libpcap_message)
        self.truncated_at = self._consumed
        if self._consumed is not None and self._index is not None and _is_truncation(libpcap_message):
            self.truncated_at = self._index.damage_start()  # whole blocks before a cut are no damage
        self.warning = self._damage_warning(libpcap_message)
        if batch.count:
            yield batch

    def _damage_warning(self, libpcap_message: str) -> str:
        where = f"at byte {self.truncated_at:,} of {self.size_bytes:,}" if self.truncated_at is not None \
            else f"after packet {self.packets_read:,}"
        return (f"{self.path} is truncated or damaged {where}; the {self.packets_read:,} complete packets "
                f"before it were read ({libpcap_message})")

    # -- progress ------------------------------------------------------------------------
    @property
    def bytes_consumed(self) -> int:
        """How far into the file reading has got: exact with the index, libpcap's read-ahead without."""
        if self._finished:
            return self.size_bytes
        if self._decompressor is not None:  # by the stream bytes of the packets taken, packets being alike
            relay = self._relay
            return self._decompressor.position(relay.bytes_handed * relay.taken_share())
        if self._consumed is not None:
            return self._consumed
        if self._handle is None:
            return 0
        try:
            return os.lseek(self._handle.getfd(), 0, os.SEEK_CUR)
        except OSError:
            return 0

    @property
    def progress(self) -> float | None:
        """Share of the file read, 0..1; None when the size is unknown (a pipe)."""
        if self._rest is not None:
            return self._rest.progress
        if not self.size_bytes:
            return 1.0 if self._finished else None
        return min(self.bytes_consumed / self.size_bytes, 1.0)

    # -- lifetime ------------------------------------------------------------------------
    def _release_map(self) -> None:
        """Drop the index and unmap the file. Unmapping a big replayed file costs milliseconds
        (every page of it was mapped), so at the end of the file the read-ahead thread does it
        while the caller still works on the last batches."""
        self._index = None
        if self._mmap is not None:
            self._mmap.close()
            self._mmap = None

    def _close_relay(self) -> None:
        if self._relay is not None:
            self._relay.close()
        if self._decompressor is not None:
            self._decompressor.close()

    def close(self) -> None:
        self._stop_read_ahead()  # the thread may be inside next_batch on the handle
        if self._handle is not None:
            self._handle.close()
            self._handle = None
        self._release_map()
        self._close_relay()
        if self._rest is not None:
            self._rest.close()

    def __enter__(self) -> FileSource:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()
