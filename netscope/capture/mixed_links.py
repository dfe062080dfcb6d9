"""pcapng files whose interfaces have different link types, which libpcap refuses and Wireshark reads.

Wireshark and dumpcap capturing on several interfaces at once (`-i any -i eth0`, a VPN's raw-IP
tunnel next to an Ethernet card) and `mergecap` joining captures of different links write one
Interface Description Block per interface; libpcap's reader only takes a file whose interfaces
share the first one's link type ("an interface has a type ... different from the type of the
first interface"). When the interfaces described before the first packet differ
(`mixes_link_types`, as dumpcap and mergecap write them), this source reads the file itself,
and when an interface of another link type only comes later FileSource hands the rest of the
file over to it (`skip`: the packets libpcap has delivered). It reads block by block, and hands each run of
packets of one link type over as a batch of its own (a RawBatch has one link type, and the
parser dispatches on it), in file order.

It is the slow path: a Python loop over the blocks, 2.5–3.6 µs a packet, used only for
the files libpcap refuses this way. It reads Enhanced, Simple and (obsolete) Packet Blocks with
each interface's timestamp resolution and offset, and exact wire lengths; a BPF filter is run on
each packet with a program compiled per link type. A file cut short keeps every complete packet
before the cut, with a warning, as FileSource does.
"""

from __future__ import annotations

import mmap
import os
import stat
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pcapy

from netscope.capture.batch import RawBatch
from netscope.capture.errors import CaptureError, file_error, filter_error
from netscope.capture.pcapfile import (
    MAX_CAPLEN,
    PCAPNG_BYTE_ORDER_MAGIC,
    PCAPNG_EPB,
    PCAPNG_IDB,
    PCAPNG_MIN_BLOCK_LEN,
    PCAPNG_PB,
    PCAPNG_SHB,
    PCAPNG_SPB,
)
from netscope.capture.source import StopSignal, stop_check
from netscope.linktypes import DLT_RAW, DLT_RAW_OPENBSD

OPTION_END, OPTION_TSRESOL, OPTION_TSOFFSET = 0, 9, 14
# A file's LINKTYPE_ number -> the DLT_ number libpcap reports for it (pcap-common.c linktype_to_dlt),
# so batches and BPF programs get what they would from libpcap; the rest are the same number.
LINKTYPE_TO_DLT = {DLT_RAW_OPENBSD: DLT_RAW}
MICROSECOND = 1_000_000
# Compiled once per byte order: a block's header, an EPB's and an obsolete PB's fixed fields.
_HEADER = {order: struct.Struct(order + "II") for order in "<>"}
_U32 = {order: struct.Struct(order + "I") for order in "<>"}
_EPB = {order: struct.Struct(order + "5I") for order in "<>"}
_PB = {order: struct.Struct(order + "HH4I") for order in "<>"}


@dataclass(frozen=True, slots=True)
class _Interface:
    linktype: int
    snaplen: int
    ticks_per_second: int  # if_tsresol
    offset_s: int  # if_tsoffset


@dataclass(frozen=True, slots=True)
class _Packet:
    linktype: int
    data: bytes
    ts_us: int
    wirelen: int


def mixes_link_types(path: str | os.PathLike[str]) -> bool:
    """Whether `path` is a regular pcapng file whose interfaces, described before its first packet
    (as dumpcap and mergecap write them), have more than one link type. Only those blocks are read."""
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            return False
        with open(path, "rb") as file:
            if file.read(4) != struct.pack("<I", PCAPNG_SHB):
                return False
    except OSError:
        return False  # FileSource says why it cannot be read
    try:
        with MixedLinkSource(path) as source:
            return len(source.linktypes) > 1
    except CaptureError:
        return False


class MixedLinkSource:
    """A pcapng file of several link types, read without libpcap (see the module docstring)."""

    def __init__(self, path: str | os.PathLike[str], bpf_filter: str | None = None,
                 batch_packets: int = 32768, skip: int = 0) -> None:
        self.path = Path(path)
        self._skip = skip  # packets (of those the filter passes) already delivered by libpcap
        self.bpf_filter = bpf_filter or None
        self.batch_packets = batch_packets
        self.packets_read = 0
        self.wirelen_estimated = 0
        self.warning: str | None = None
        self.truncated_at: int | None = None
        self._position = 0
        self._programs: dict[int, object] = {}
        try:
            with open(self.path, "rb") as file:
                self.size_bytes = os.fstat(file.fileno()).st_size
                self._map = mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ)
        except (OSError, ValueError) as exc:
            raise file_error(self.path, exc if isinstance(exc, OSError) else OSError(str(exc))) from exc
        interfaces = self._first_interfaces()
        if not interfaces:
            self.close()
            raise CaptureError(f"cannot read {self.path}: no interface is described before its first packet")
        self.linktype = interfaces[0].linktype  # what the banner and a --write-pcap file name
        self.snaplen = max(interface.snaplen for interface in interfaces)
        self.linktypes = tuple(dict.fromkeys(interface.linktype for interface in interfaces))
        for linktype in self.linktypes:
            self._program(linktype)  # a filter this file's links cannot take fails now, not mid-run

    # -- reading -------------------------------------------------------------------------
    def batches(self, stop: StopSignal = None) -> Iterator[RawBatch]:
        """Batches in file order, each of one link type, until the end or `stop`."""
        should_stop = stop_check(stop)
        data = self._map
        run: list[_Packet] = []
        for linktype, start, caplen, ts_us, wirelen in self._packets():
            if run and (linktype != run[0].linktype or len(run) >= self.batch_packets):
                yield self._batch(run)
                run = []
                if should_stop():
                    return
            program = self._program(linktype)
            if program is not None and not program.filter(bytes(data[start:start + caplen])):
                continue
            if self._skip:  # delivered by libpcap already: not even copied
                self._skip -= 1
                continue
            run.append(_Packet(linktype, bytes(data[start:start + caplen]), ts_us, wirelen))
        if run:
            yield self._batch(run)

    def _batch(self, run: list[_Packet]) -> RawBatch:
        self.packets_read += len(run)
        return RawBatch.from_packets([p.data for p in run], [p.ts_us for p in run], run[0].linktype,
                                     [p.wirelen for p in run])

    def _program(self, linktype: int):
        if self.bpf_filter is None:
            return None
        if linktype not in self._programs:
            try:
                self._programs[linktype] = pcapy.compile(linktype, MAX_CAPLEN, self.bpf_filter, 1, 0)
            except pcapy.PcapError as exc:
                raise filter_error(self.bpf_filter, str(exc)) from exc
        return self._programs[linktype]

    # -- blocks --------------------------------------------------------------------------
    def _blocks(self) -> Iterator[tuple[str, int, int, int]]:
        """(byte order, block type, body start, body end) of each whole block; a cut one ends the walk."""
        data, position, order = self._map, 0, "<"
        size = len(data)
        while position + PCAPNG_MIN_BLOCK_LEN <= size:
            kind, length = _HEADER[order].unpack_from(data, position)
            if kind == PCAPNG_SHB:  # the same bytes in either order; the next field says which
                magic = _U32["<"].unpack_from(data, position + 8)[0]
                order = "<" if magic == PCAPNG_BYTE_ORDER_MAGIC else ">"
                length = _U32[order].unpack_from(data, position + 4)[0]
            if length < PCAPNG_MIN_BLOCK_LEN or length % 4 or position + length > size:
                self.truncated_at = position
                self.warning = (f"{self.path} is truncated or damaged at byte {position:,} of {self.size_bytes:,}; "
                                f"the packets before it were read")
                return
            self._position = position + length
            yield order, kind, position + 8, position + length - 4
            position += length

    def _first_interfaces(self) -> list[_Interface]:
        interfaces = []
        for order, kind, start, end in self._blocks():
            if kind == PCAPNG_IDB:
                interfaces.append(_interface(self._map, order, start, end))
            elif kind in (PCAPNG_EPB, PCAPNG_SPB, PCAPNG_PB):
                break
        self._position, self.warning, self.truncated_at = 0, None, None
        return interfaces

    def _packets(self) -> Iterator[tuple[int, int, int, int, int]]:
        """(link type, where its bytes start in the file, caplen, ts_us, wirelen) of each packet."""
        data = self._map
        interfaces: list[_Interface] = []
        last_us = 0
        for order, kind, start, end in self._blocks():
            if kind == PCAPNG_SHB:
                interfaces = []  # a new section describes its interfaces anew
            elif kind == PCAPNG_IDB:
                interfaces.append(_interface(data, order, start, end))
            elif kind in (PCAPNG_EPB, PCAPNG_PB):
                if kind == PCAPNG_EPB:
                    index, high, low, caplen, wirelen = _EPB[order].unpack_from(data, start)
                else:
                    index, _drops, high, low, caplen, wirelen = _PB[order].unpack_from(data, start)
                if index >= len(interfaces) or start + 20 + caplen > end:
                    continue  # a packet of no described interface, or longer than its block: skipped
                interface = interfaces[index]
                ticks = (high << 32) | low
                last_us = interface.offset_s * MICROSECOND + ticks * MICROSECOND // interface.ticks_per_second
                yield interface.linktype, start + 20, caplen, last_us, wirelen
            elif kind == PCAPNG_SPB and interfaces:
                wirelen = _U32[order].unpack_from(data, start)[0]
                caplen = min(wirelen, end - start - 4, interfaces[0].snaplen or wirelen)
                yield interfaces[0].linktype, start + 4, caplen, last_us, wirelen

    # -- progress and lifetime -----------------------------------------------------------
    @property
    def progress(self) -> float | None:
        return min(self._position / self.size_bytes, 1.0) if self.size_bytes else None

    def close(self) -> None:
        if self._map is not None:
            self._map.close()
            self._map = None

    def __enter__(self) -> MixedLinkSource:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def _interface(data: mmap.mmap, order: str, start: int, end: int) -> _Interface:
    linktype, _reserved, snaplen = struct.unpack_from(order + "HHI", data, start)
    ticks, offset = MICROSECOND, 0
    position = start + 8
    while position + 4 <= end:
        code, length = struct.unpack_from(order + "HH", data, position)
        if code == OPTION_END:
            break
        value = position + 4
        if code == OPTION_TSRESOL and length >= 1:
            resolution = data[value]
            ticks = 2 ** (resolution & 0x7F) if resolution & 0x80 else 10 ** resolution
        elif code == OPTION_TSOFFSET and length >= 8:
            offset = struct.unpack_from(order + "q", data, value)[0]
        position = value + (length + 3) // 4 * 4
    return _Interface(LINKTYPE_TO_DLT.get(linktype, linktype), snaplen, ticks, offset)
