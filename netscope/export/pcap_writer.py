"""Writing captured batches to classic pcap, optionally as a size-bounded ring of segments.

Each batch becomes one buffer built by numpy (all 16-byte record headers at once, scattered
between the packet bytes) and one `write`, so saving packets costs a few passes over the
batch's bytes rather than a Python call per packet.

Rotation follows the reference (§7.4): the path given is only a template for segment names
`<stem>.<NNNNNN>[.<ext>]`; segments left by earlier runs are found at start, numbering
continues after the highest, and they count toward `max_files`, so the directory never holds
more than `max_files` segments however often the tool is restarted. Size accounting is the
file size (24 + 16 + caplen per record), and a segment that reaches `rotate_mb` MiB is closed
before the *next* packet is written. The reference opened the next segment eagerly, which
left a header-only file behind when the input ended right after a boundary; here a run that
ends there leaves none.
"""

from __future__ import annotations

import logging
import os
import struct
from pathlib import Path
from typing import BinaryIO

import numpy as np

from netscope.capture.batch import RawBatch
from netscope.capture.pcapfile import FULL_SNAPLEN
from netscope.paths import PartialWrite, abandon, existing_segments, open_output, segment_path, write_fully

log = logging.getLogger(__name__)

PCAP_MAGIC_MICRO = 0xA1B2C3D4
PCAP_VERSION = (2, 4)
FILE_HEADER_LEN = 24
RECORD_HEADER_LEN = 16
SNAPLEN_FIELD_OFFSET = 16
BYTES_PER_MB = 1_048_576
USEC_PER_SEC = 1_000_000

# libpcap reports a few link types by their platform DLT value rather than the LINKTYPE value
# files must carry (pcap-common.c dlt_to_linktype): a raw-IP file (101) reads back as DLT 12.
LINKTYPE_OF_DLT = {11: 100, 12: 101, 15: 102, 16: 103}


class PcapWriteError(OSError):
    """A capture file could not be created, written or flushed; ``str()`` is one line naming the file."""


def _write_error(path: Path, exc: OSError) -> PcapWriteError:
    error = PcapWriteError(f"cannot write {path}: {exc.strerror or exc}")
    error.errno = exc.errno
    return error


def validate_rotation(write_pcap: str | os.PathLike[str] | None, rotate_mb: int, max_files: int) -> None:
    """Reject a half-configured rotation with the reference's messages (§1.4), naming the keys."""
    if rotate_mb <= 0 and max_files <= 0:
        return
    if not write_pcap:
        raise ValueError("output.write_pcap must be set when pcap rotation is enabled")
    if rotate_mb <= 0 or max_files <= 0:
        raise ValueError("output.write_pcap_rotate_mb and output.write_pcap_max_files "
                         "must both be > 0 when rotation is enabled")


def file_header(linktype: int, snaplen: int) -> bytes:
    """Microsecond, little-endian pcap global header; `linktype` is the DLT libpcap reported."""
    return struct.pack("<IHHiIII", PCAP_MAGIC_MICRO, *PCAP_VERSION, 0, 0, snaplen,
                       LINKTYPE_OF_DLT.get(linktype, linktype))


def pcap_records(raw: RawBatch, start: int, stop: int) -> np.ndarray:
    """Records start..stop-1 of `raw` as one uint8 buffer: header, packet bytes, header, ...

    Record headers go to their offsets with one fancy-index store, packet bytes fill every
    other position with one masked store; no per-packet Python.
    """
    caplen = raw.caplen[start:stop]
    offset = raw.offset[start:stop]
    count = caplen.size
    headers = np.empty((count, 4), dtype="<u4")
    headers[:, 0], headers[:, 1] = np.divmod(raw.ts_us[start:stop], USEC_PER_SEC)
    headers[:, 2] = caplen
    headers[:, 3] = raw.wirelen[start:stop]

    bytes_before = np.cumsum(caplen) - caplen  # packet bytes ahead of each packet
    record_start = np.arange(count, dtype=np.int64) * RECORD_HEADER_LEN + bytes_before
    payload_len = int(caplen.sum())
    out = np.empty(count * RECORD_HEADER_LEN + payload_len, dtype=np.uint8)
    header_at = record_start[:, None] + np.arange(RECORD_HEADER_LEN)
    out[header_at] = headers.view(np.uint8).reshape(count, RECORD_HEADER_LEN)
    is_payload = np.ones(out.size, dtype=bool)
    is_payload[header_at] = False
    out[is_payload] = _packed_payload(raw.data, offset, caplen, bytes_before, payload_len)
    return out


def _packed_payload(data: np.ndarray, offset: np.ndarray, caplen: np.ndarray, bytes_before: np.ndarray,
                    payload_len: int) -> np.ndarray:
    """The packets' bytes back to back: a view when they already are (as libpcap returns them)."""
    if not caplen.size:
        return data[:0]
    first = int(offset[0])
    if np.array_equal(offset - first, bytes_before):
        return data[first:first + payload_len]
    return data[np.repeat(offset - bytes_before, caplen) + np.arange(payload_len)]


class PcapWriter:
    """Batches in, classic pcap out: one file at `path`, or rotating segments named after it.

    `linktype` is the DLT the source reports (RawBatch.linktype); `snaplen` <= 0 means 65535,
    and a packet captured longer than the declared snaplen raises it in the file header so
    libpcap readers do not cut the packet short. Rotation is on when both `rotate_mb` and
    `max_files` are > 0 (see `validate_rotation`). `segments` lists the files this writer
    keeps on disk, oldest first (just `path` without rotation); `written`, those of them it
    wrote. Files are written unbuffered, one write per batch, so they are complete readable
    captures between batches; a write that fails part-way (a full disk) is cut back to the last
    whole record and the file is given up, so what it holds still reads to the end in tcpdump
    or tshark.
    """

    def __init__(self, path: str | os.PathLike[str], linktype: int, snaplen: int = FULL_SNAPLEN,
                 rotate_mb: int = 0, max_files: int = 0) -> None:
        validate_rotation(path, rotate_mb, max_files)
        self.path = Path(path)
        self.linktype = linktype
        self.snaplen = snaplen if snaplen > 0 else FULL_SNAPLEN
        self.max_files = max_files
        self.rotate_bytes = rotate_mb * BYTES_PER_MB if rotate_mb > 0 else None
        self.packets_written = 0
        self.bytes_written = 0
        self.segments: list[Path] = []
        self.written: list[Path] = []  # the segments this run wrote that are still on disk
        self.given_up = False  # a write failed: the file being written holds only the records before it
        self._file: BinaryIO | None = None
        self._current = self.path  # the file being written, for error messages
        self._segment_size = 0  # bytes of the current segment, all of them whole records
        if self.rotate_bytes is None:
            self._open(self.path)
            return
        try:
            found = existing_segments(self.path)
        except OSError as exc:
            raise _write_error(self.path.parent, exc) from exc
        self.segments = [segment for _, segment in found]
        self._next_index = found[-1][0] + 1 if found else 1
        self._open_next_segment()

    # -- writing -------------------------------------------------------------------------
    def write(self, raw: RawBatch) -> None:
        """Append every packet of `raw`, rotating wherever a segment fills up."""
        if self._file is None:
            raise ValueError(f"pcap writer for {self.path} is closed")
        if raw.linktype != self.linktype:
            raise ValueError(f"batch link type {raw.linktype} differs from the capture's {self.linktype}")
        if not raw.count:
            return
        self._fit_snaplen(int(raw.caplen.max()))
        record_end = np.cumsum(raw.caplen + RECORD_HEADER_LEN)  # batch bytes up to each record's end
        start = 0
        while start < raw.count:
            if self.rotate_bytes is not None and self._segment_size >= self.rotate_bytes:
                self._rotate()
            stop = self._segment_stop(record_end, start)
            written_before = int(record_end[start - 1]) if start else 0
            self._write(pcap_records(raw, start, stop), record_end[start:stop] - written_before)
            start = stop

    def _segment_stop(self, record_end: np.ndarray, start: int) -> int:
        """One past the record that fills the current segment, or the batch's end if none does."""
        if self.rotate_bytes is None:
            return record_end.size
        written_before = int(record_end[start - 1]) if start else 0
        filling = np.searchsorted(record_end, self.rotate_bytes - self._segment_size + written_before)
        return min(int(filling) + 1, record_end.size)

    def _write(self, buffer: bytes | np.ndarray, record_end: np.ndarray | None = None) -> None:
        """Write all of `buffer`: the file header, or records ending at `record_end` (bytes into
        the buffer), which say what a write that fails part-way keeps."""
        assert self._file is not None
        try:
            size = write_fully(self._file, buffer)
        except PartialWrite as exc:
            records = 0 if record_end is None else int(np.searchsorted(record_end, exc.landed, side="right"))
            kept = int(record_end[records - 1]) if records else 0
            file, self._file = self._file, None
            self.given_up = True
            abandon(file, self._current, self._segment_size + kept)
            self._account(kept, records)
            raise _write_error(self._current, exc) from exc
        self._account(size, 0 if record_end is None else record_end.size)

    def _account(self, size: int, records: int) -> None:
        self._segment_size += size
        self.bytes_written += size
        self.packets_written += records

    def _fit_snaplen(self, longest: int) -> None:
        if longest <= self.snaplen:
            return
        self.snaplen = longest
        assert self._file is not None
        try:
            self._file.seek(SNAPLEN_FIELD_OFFSET)
            self._file.write(struct.pack("<I", longest))
            self._file.seek(0, os.SEEK_END)
        except OSError as exc:
            raise _write_error(self._current, exc) from exc

    # -- segments ------------------------------------------------------------------------
    def _open(self, path: Path) -> None:
        try:
            self._file = open_output(path, "wb", buffering=0)
        except OSError as exc:
            raise _write_error(path, exc) from exc
        self._current = path
        self._segment_size = 0
        self._write(file_header(self.linktype, self.snaplen))
        self.segments.append(path)
        self.written.append(path)

    def _open_next_segment(self) -> None:
        self._open(segment_path(self.path, self._next_index))
        self._next_index += 1
        self._prune()

    def _rotate(self) -> None:
        self._close_file()
        self._open_next_segment()

    def _prune(self) -> None:
        """Delete the oldest segments beyond `max_files`; one that will not go is only a warning."""
        while len(self.segments) > self.max_files:
            oldest = self.segments.pop(0)
            if oldest in self.written:
                self.written.remove(oldest)
            try:
                oldest.unlink(missing_ok=True)
            except OSError as exc:
                log.warning("could not delete old capture segment %s: %s", oldest, exc.strerror or exc)

    # -- lifetime ------------------------------------------------------------------------
    def _close_file(self) -> None:
        file, self._file = self._file, None
        if file is None:
            return
        try:
            file.close()
        except OSError as exc:
            raise _write_error(self._current, exc) from exc

    def close(self) -> None:
        """Flush and close the open file; no new segment is started, even right after a boundary."""
        self._close_file()

    def __enter__(self) -> PcapWriter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
