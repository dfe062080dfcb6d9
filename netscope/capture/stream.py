"""Reading a capture that arrives as a stream (standard input, a FIFO): whole records only.

libpcap reads a stream as it reads a file, but `next_batch(n)` then blocks until n packets have
arrived, so a slow `tcpdump -U -w - | netscope --read-pcap -` shows nothing for minutes; a
signal during that read fails the whole batch (EINTR), and a stream cut mid-record fails the
batch it lands in. A file can be reopened and read again up to the damage; a stream cannot.

So a relay thread reads the stream itself and hands libpcap, through a pipe of our own, only
complete records (classic pcap records, pcapng blocks), counting the packets among them. The
source then asks libpcap for no more packets than have been handed over: its read never waits
on the network and never sees half a record. When the stream ends, or the run stops, the relay
closes its end after the last whole record, which libpcap reads as a clean end of file. The
record headers it walks also give exact wire lengths, as the record index does for files.

The walk is a Python loop over record headers: a stream runs at the rate of whatever writes it
(tcpdump, a download), not at the rate of a file read from the page cache. A stream that starts
as gzip, bzip2 or xz is decompressed on the way (decompress.Inflater), as Wireshark reads it.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import select
import struct
import threading
from abc import ABC, abstractmethod
from collections import deque
from typing import Protocol, runtime_checkable

import numpy as np

from netscope.capture.decompress import CHUNK as INFLATE_CHUNK
from netscope.capture.decompress import DECODE_ERRORS, LIBRARY_KINDS, Inflater
from netscope.capture.errors import compression_of
from netscope.capture.pcapfile import (
    PCAP_FILE_HEADER_LEN,
    PCAP_LINKTYPE_MASK,
    PCAPNG_BYTE_ORDER_MAGIC,
    PCAPNG_EPB,
    PCAPNG_IDB,
    PCAPNG_MIN_BLOCK_LEN,
    PCAPNG_PB,
    PCAPNG_SHB,
    PCAPNG_SPB,
    max_caplen,
    sniff_format,
)

READ_CHUNK = 1 << 20
PIPE_BYTES = 1 << 20  # the default /proc/sys/fs/pipe-max-size
MAX_RECORD = 1 << 24  # a record claiming more is damage, not a packet still arriving
POLL_S = 0.1  # how often a relay waiting on a silent stream checks whether the run has stopped
SNIFF_BYTES = 12  # enough to tell classic pcap from pcapng, and either from anything else


@runtime_checkable
class ChunkSource(Protocol):
    """A stream this process produces itself (a compressed file being decompressed, decompress.py)."""

    def read(self, timeout: float) -> bytes | None:
        """The next bytes; b"" at the end; None if none came within `timeout` seconds."""


class StreamRelay:
    """Reads `source` in a thread; `path` is the pipe libpcap opens, carrying whole records only.

    The caller waits for `opened` before opening `path` (libpcap reads the file header, or the
    pcapng section header and first interface, while opening), then takes packets with
    `take(n)`, n at most `available()`, which also returns their wire lengths. A new pcapng
    section is a boundary `available()` does not cross, so the packets of one section are
    never in the batch a failure in the next one fails.
    """

    def __init__(self, source: int | str | ChunkSource) -> None:
        # A descriptor (standard input), the path of a FIFO (opened here), or a ChunkSource.
        self._source = source
        self._in = source if isinstance(source, int) else -1
        read_end, self._out = os.pipe()
        self._slice = _grow_pipe(self._out) // 2
        self.path = f"/dev/fd/{read_end}"
        self._read_end = read_end
        self._lock = threading.Condition()
        self._wirelen: deque[np.ndarray] = deque()
        self._ready = 0  # packets handed to libpcap and not yet taken
        self._section_ends: deque[int] = deque()  # packets handed over when each later section began
        self._handed = 0  # packets handed over in all
        self.bytes_handed = 0  # stream bytes of the records handed over
        self.opened = threading.Event()  # libpcap can open `path` without waiting on the stream
        # Opening a pipe by its /dev/fd path waits for a writer, as a FIFO's open does: the relay
        # keeps its end open until the caller says libpcap has opened (or failed to open) it.
        self.attached = threading.Event()
        self.header_seen = False  # the capture's opening records reached the pipe (else: not a capture)
        self.head = b""  # the stream's first bytes, to say what it is when it is no capture
        self.ended = False  # the stream ended or the relay stopped: nothing more will be handed over
        self.cut_at: int | None = None  # the stream ended inside, or was damaged at, the record at this byte
        self.damage: str | None = None  # why the record at cut_at is one libpcap would refuse (None: cut short)
        self.error: OSError | None = None  # reading the stream failed
        self.compression: str | None = None  # "gzip", "bzip2" or "xz": the stream is decompressed on the way
        self.inflate_error: str | None = None  # why decompressing it stopped before its end
        self._source_chunk = READ_CHUNK
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="netscope-stream", daemon=True)
        self._thread.start()

    # -- the caller's side ---------------------------------------------------------------
    def available(self) -> int:
        with self._lock:
            limit = self._section_ends[0] - (self._handed - self._ready) if self._section_ends else self._ready
            return max(0, min(self._ready, limit))

    def wait(self, timeout: float) -> None:
        """Until packets are available, the stream has ended, or `timeout` seconds pass."""
        with self._lock:
            self._lock.wait_for(lambda: self._ready or self.ended, timeout)

    def take(self, count: int) -> np.ndarray:
        """Wire lengths of the next `count` packets libpcap returns (the caller read them)."""
        with self._lock:
            parts, wanted = [], count
            while wanted:
                head = self._wirelen[0]
                parts.append(head[:wanted])
                if head.size > wanted:
                    self._wirelen[0] = head[wanted:]
                    wanted = 0
                else:
                    self._wirelen.popleft()
                    wanted -= head.size
            self._ready -= count
            taken = self._handed - self._ready
            while self._section_ends and self._section_ends[0] <= taken:
                self._section_ends.popleft()
            return np.concatenate(parts) if parts else np.zeros(0, np.int64)

    def taken_share(self) -> float:
        """Share of the handed-over packets already taken; 1 before any were handed over."""
        with self._lock:
            return 1.0 - self._ready / self._handed if self._handed else 1.0

    def stop(self) -> None:
        """End the relay: libpcap sees the end of the stream after the records already handed over."""
        self._stopping.set()
        self._thread.join(POLL_S * 5)

    def close(self) -> None:
        self._stopping.set()
        self.attached.set()
        with contextlib.suppress(OSError):
            os.close(self._read_end)  # a relay blocked writing to a full pipe gets EPIPE and ends
        self._thread.join(POLL_S * 5)

    # -- the relay thread ----------------------------------------------------------------
    def _run(self) -> None:
        try:
            if isinstance(self._source, str):
                self._in = os.open(self._source, os.O_RDONLY)  # a FIFO: waits for its writer, as tcpdump -r does
            self._relay()
        except OSError as exc:
            if not self._stopping.is_set():
                self.error = exc
        finally:
            self.opened.set()
            if self.header_seen:  # libpcap will open the pipe: it must find this end still open
                self.attached.wait()
            with contextlib.suppress(OSError):
                os.close(self._out)
            if isinstance(self._source, str) and self._in >= 0:
                with contextlib.suppress(OSError):
                    os.close(self._in)
            with self._lock:
                self.ended = True
                self._lock.notify_all()
            self.opened.set()

    def _read(self) -> bytes | None:
        """The next bytes of the stream; b"" at its end; None when the run stops first."""
        if isinstance(self._source, ChunkSource):
            while not self._stopping.is_set():
                chunk = self._source.read(POLL_S)
                if chunk is not None:
                    return chunk
            return None
        while not self._stopping.is_set():
            ready, _, _ = select.select([self._in], [], [], POLL_S)
            if ready:
                try:
                    return os.read(self._in, self._source_chunk)
                except BlockingIOError:  # a descriptor left non-blocking by whoever passed it on
                    continue
        return None

    def _relay(self) -> None:
        buffer = bytearray()
        consumed = 0  # stream bytes before buffer[0] (decompressed bytes, for a compressed stream)
        walker: _Walker | None = None
        inflater: Inflater | None = None
        while True:
            chunk = self._read()
            if chunk is None:
                return
            try:
                if not chunk:
                    if inflater is not None:
                        inflater.finish()
                    if buffer and walker is not None:
                        self.cut_at = consumed
                    return
                if inflater is not None:
                    chunk = inflater.feed(chunk)
            except DECODE_ERRORS as exc:
                self.inflate_error = f"its {inflater.kind} data is damaged or cut short ({exc})"
                return
            buffer += chunk
            if walker is None:
                if len(buffer) < SNIFF_BYTES:
                    continue
                compressed = compression_of(bytes(buffer[:SNIFF_BYTES])) if inflater is None else None
                if compressed is not None and compressed[1] in LIBRARY_KINDS:
                    # gzip, bzip2 or xz on standard input: undone here, as Wireshark does.
                    self.compression = compressed[1]
                    inflater = Inflater(compressed[1])
                    self._source_chunk = INFLATE_CHUNK  # bounds what one read can expand into
                    data = bytes(buffer)
                    buffer.clear()
                    try:
                        buffer += inflater.feed(data)
                    except DECODE_ERRORS as exc:
                        self.inflate_error = f"its {inflater.kind} data is damaged ({exc})"
                        return
                    continue
                self.head = bytes(buffer[:SNIFF_BYTES])
                walker = _walker_for(bytes(buffer[:PCAP_FILE_HEADER_LEN]))
                if walker is None:  # not a capture
                    return
            while True:  # in slices the pipe can hold: see _hand_over
                end, wirelen, sections = walker.walk(buffer, self._slice)
                if end:
                    self._hand_over(buffer, end, wirelen, sections)
                    del buffer[:end]
                    consumed += end
                    self.bytes_handed = consumed
                if walker.opening_done:
                    self.header_seen = True
                    self.opened.set()
                if walker.damage is not None:
                    self.cut_at, self.damage = consumed, walker.damage
                    return
                if not end:
                    break

    def _hand_over(self, buffer: bytearray, end: int, wirelen: list[int], sections: list[int]) -> None:
        """Write one slice of whole records to libpcap's pipe, then count its packets as available.

        Counted only once written, the packets are in the pipe when libpcap is asked for them,
        so its read never waits. That needs each slice to fit in the pipe beside the unread ones
        before it (which libpcap is free to read): slices are at most half the pipe. A single
        record bigger than that is counted first, and libpcap may wait for the rest of it.
        """
        early = end > self._slice
        if early:
            self._count(wirelen, sections)
        view = memoryview(buffer)[:end]
        while view:
            view = view[os.write(self._out, view):]
        if not early:
            self._count(wirelen, sections)

    def _count(self, wirelen: list[int], sections: list[int]) -> None:
        with self._lock:
            for packets_before in sections:
                self._section_ends.append(self._handed + packets_before)
            if wirelen:
                self._wirelen.append(np.array(wirelen, dtype=np.int64))
            self._handed += len(wirelen)
            self._ready += len(wirelen)
            self._lock.notify_all()


def _grow_pipe(fd: int) -> int:
    """Make the pipe as big as the system allows (fewer, larger slices); its size in bytes."""
    with contextlib.suppress(OSError):
        fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, PIPE_BYTES)
    return fcntl.fcntl(fd, fcntl.F_GETPIPE_SZ)


class _Walker(ABC):
    """Finds whole records at the front of a buffer; subclasses know one format.

    A record libpcap would refuse is damage: the walk stops before it, so libpcap's read never
    fails and the packets before it, in the batch that would have failed, are kept (a file is
    read again up to its damage; a stream cannot be). The checks are libpcap's own (1.10).
    """

    opening_done = False  # what libpcap reads while opening has been seen
    damage: str | None = None  # why the record the walk stopped at is refused; the stream is read up to it

    @abstractmethod
    def walk(self, buffer: bytearray, budget: int) -> tuple[int, list[int], list[int]]:
        """(bytes of whole records at the front, no more than `budget` unless the first record
        alone is bigger; the wire length of each packet among them; for each new section begun
        in them, the packets before it)."""


class _PcapWalker(_Walker):
    def __init__(self, order: str, record_header_len: int) -> None:
        self.header = struct.Struct(order + "4I")
        self.record_header_len = record_header_len
        self.order = order
        self.at_start = True
        self.max_caplen = MAX_RECORD

    def walk(self, buffer: bytearray, budget: int) -> tuple[int, list[int], list[int]]:
        pos = 0
        if self.at_start:
            if len(buffer) < PCAP_FILE_HEADER_LEN:
                return 0, [], []
            linktype = struct.unpack_from(self.order + "I", buffer, 20)[0] & PCAP_LINKTYPE_MASK
            self.max_caplen = min(max_caplen(linktype), MAX_RECORD)
            pos, self.at_start, self.opening_done = PCAP_FILE_HEADER_LEN, False, True
        wirelen: list[int] = []
        unpack, size = self.header.unpack_from, len(buffer)
        while pos + self.record_header_len <= size:
            _, _, caplen, original = unpack(buffer, pos)
            if caplen > self.max_caplen:
                self.damage = _too_long(caplen, self.max_caplen)
                break
            end = pos + self.record_header_len + caplen
            if end > size or (end > budget and pos):
                break
            wirelen.append(original)
            pos = end
        return pos, wirelen, []


class _PcapngWalker(_Walker):
    def __init__(self) -> None:
        self.order = "<"
        self.sections = 0
        self.interfaces = 0  # described in the current section
        self.linktype: int | None = None  # of the first interface: libpcap reads no other
        self.max_caplen = MAX_RECORD

    def walk(self, buffer: bytearray, budget: int) -> tuple[int, list[int], list[int]]:
        pos, size = 0, len(buffer)
        wirelen: list[int] = []
        sections: list[int] = []
        while pos + PCAPNG_MIN_BLOCK_LEN <= size:
            block_type = struct.unpack_from(self.order + "I", buffer, pos)[0]
            if block_type == PCAPNG_SHB:  # each section says its own byte order
                magic = struct.unpack_from("<I", buffer, pos + 8)[0]
                order = "<" if magic == PCAPNG_BYTE_ORDER_MAGIC else ">"
            else:
                order = self.order
            length = struct.unpack_from(order + "I", buffer, pos + 4)[0]
            if length < PCAPNG_MIN_BLOCK_LEN or length % 4 or length > MAX_RECORD:
                self.damage = f"a block claiming {length:,} bytes"
                break
            if pos + length > size or (pos + length > budget and pos):
                break
            self.damage = self._refused(buffer, pos, block_type, order)
            if self.damage is not None:
                break
            if block_type == PCAPNG_SHB:
                self.order = order
                self.sections += 1
                self.interfaces = 0
                if self.sections > 1:
                    sections.append(len(wirelen))
            elif block_type in (PCAPNG_EPB, PCAPNG_PB):
                wirelen.append(struct.unpack_from(order + "I", buffer, pos + 24)[0])
            elif block_type == PCAPNG_SPB:
                wirelen.append(struct.unpack_from(order + "I", buffer, pos + 8)[0])
            elif block_type == PCAPNG_IDB:
                self.opening_done = True
                self.interfaces += 1
            pos += length
        return pos, wirelen, sections

    def _refused(self, buffer: bytearray, pos: int, block_type: int, order: str) -> str | None:
        """Why libpcap would refuse this whole block; None when it reads it. The first
        interface's link type is learnt here, since it sets the limits for what follows."""
        if block_type == PCAPNG_IDB:
            linktype = struct.unpack_from(order + "H", buffer, pos + 8)[0]
            if self.linktype is None:
                self.linktype, self.max_caplen = linktype, min(max_caplen(linktype), MAX_RECORD)
            elif linktype != self.linktype:
                return (f"an interface of link type {linktype} after one of link type {self.linktype}; "
                        "netscope reads a pcapng of several link types from a regular file")
        elif block_type in (PCAPNG_EPB, PCAPNG_PB):
            if block_type == PCAPNG_EPB:
                interface = struct.unpack_from(order + "I", buffer, pos + 8)[0]
            else:
                interface = struct.unpack_from(order + "H", buffer, pos + 8)[0]
            if interface >= self.interfaces:
                return f"a packet on interface {interface}, which no interface description block describes"
            caplen = struct.unpack_from(order + "I", buffer, pos + 20)[0]
            if caplen > self.max_caplen:
                return _too_long(caplen, self.max_caplen)
        elif block_type == PCAPNG_SPB and not self.interfaces:
            return "a simple packet block before any interface description block"
        return None


def _too_long(caplen: int, limit: int) -> str:
    return f"a record of {caplen:,} captured bytes, more than libpcap accepts ({limit:,})"


def _walker_for(head: bytes) -> _Walker | None:
    fmt = sniff_format(head.ljust(PCAP_FILE_HEADER_LEN, b"\0"))
    if fmt is None:
        return None
    return _PcapWalker(fmt.byte_order, fmt.record_header_len) if fmt.kind == "pcap" else _PcapngWalker()
