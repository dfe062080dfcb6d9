"""Compressed capture files, read as Wireshark reads them: `--read-pcap trace.pcap.gz` just works.

libpcap reads only plain captures, so a compressed file is decompressed in a thread and what
comes out is read as a stream (stream.py), exactly as `zcat trace.pcap.gz | netscope
--read-pcap -` would be. gzip, bzip2 and xz are undone by the standard library (whose
decompressors release the GIL, so this runs beside the engine on the other core); zstd and lz4,
which it lacks, by their own tools when installed. How far into the compressed file the packets
taken so far reach is the replay's progress.
"""

from __future__ import annotations

import bz2
import contextlib
import lzma
import os
import queue
import shutil
import subprocess
import threading
import zlib
from collections.abc import Callable
from pathlib import Path

from netscope.capture.errors import COMPRESSION_MAGIC, CaptureError, compression_of

CHUNK = 1 << 16  # compressed bytes per step: what a file cut short still yields is kept
QUEUED_CHUNKS = 64  # decompressed chunks waiting for the relay (a few MB at most)
STOP_POLL_S = 0.1
# A fresh decompressor per member (gzip) or stream (bzip2, xz): files joined end to end hold
# several. Bytes after the last one that start no other (padding, trailing garbage) are ignored,
# as gzip -d ignores them.
_LIBRARY_DECOMPRESSORS: dict[str, Callable[[], object]] = {
    "gzip": lambda: zlib.decompressobj(zlib.MAX_WBITS | 16),
    "bzip2": bz2.BZ2Decompressor,
    "xz": lzma.LZMADecompressor,
}
_TOOLS = {"zstd": ["zstd", "-dc"], "lz4": ["lz4", "-dc"]}  # read standard input, write standard output
DECODE_ERRORS = (OSError, EOFError, zlib.error, lzma.LZMAError)


def compression(path: Path) -> str | None:
    """The compressor a regular file's first bytes name ("gzip", "zstd", ...), or None."""
    try:
        with open(path, "rb") as file:
            found = compression_of(file.read(6))
    except OSError:
        return None
    return None if found is None else found[1]


LIBRARY_KINDS = frozenset(_LIBRARY_DECOMPRESSORS)


class Inflater:
    """Incremental decompression with the standard library of members joined end to end.

    Bytes after a member that start no other (padding, trailing garbage) end the data, as
    gzip -d ignores them; `done` then says the rest needs no feeding.
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.done = False
        self._start_member()

    def _start_member(self) -> None:
        self._decompressor = _LIBRARY_DECOMPRESSORS[self.kind]()
        self._fed = False

    def feed(self, chunk: bytes) -> bytes:
        """The decompressed bytes `chunk` completes; raises one of DECODE_ERRORS on damage."""
        out = []
        magic = COMPRESSION_MAGIC[self.kind]
        while chunk and not self.done:
            if data := self._decompressor.decompress(chunk):
                out.append(data)
            self._fed = True
            if not self._decompressor.eof:
                break
            chunk = self._decompressor.unused_data  # the next member, ready for the next chunk if empty
            self._start_member()
            self.done = bool(chunk) and not magic.startswith(chunk[:len(magic)])
        return b"".join(out)

    def finish(self) -> None:
        """Say the data ended: an error if it ended inside a member."""
        if self._fed and not self.done:
            raise EOFError("the data ends inside a compressed member")


class Decompressor:
    """Decompresses `path` in a thread; `read` hands the decompressed bytes to a StreamRelay.

    Chunks go through a bounded queue, not an OS pipe: a pipeline forks its workers after the
    source is open, and a forked copy of a pipe's write end would keep the relay from ever
    seeing the end. `consumed` is how far into the compressed file the decompressor has read;
    `error` says why it stopped before the end (a damaged or cut-off file) once `read` has
    returned the end.
    """

    def __init__(self, path: Path, kind: str) -> None:
        self.kind = kind
        self.consumed = 0
        self.produced = 0  # decompressed bytes handed on
        self.error: str | None = None
        self._chunks: queue.Queue[bytes] = queue.Queue(maxsize=QUEUED_CHUNKS)
        self._stopping = threading.Event()
        self._raw = open(path, "rb")  # noqa: SIM115 (closed by close())
        self._process: subprocess.Popen | None = None
        if kind in _TOOLS:
            command = _TOOLS[kind]
            if shutil.which(command[0]) is None:
                self._raw.close()
                raise CaptureError(f"{path} is {kind}-compressed and the {command[0]} tool is not installed "
                                   f"to read it: install {kind}, or decompress it first")
            # The tool reads the file through a descriptor shared with this process, so the
            # position of that descriptor is the tool's progress through the file.
            self._process = subprocess.Popen(command, stdin=self._raw, stdout=subprocess.PIPE,
                                             stderr=subprocess.PIPE)
        self._thread = threading.Thread(target=self._run, name="netscope-unzip", daemon=True)
        self._thread.start()

    def read(self, timeout: float) -> bytes | None:
        """The next decompressed bytes; b"" once they have all been read; None if none came within `timeout`."""
        try:
            return self._chunks.get(timeout=timeout)
        except queue.Empty:
            return None

    def position(self, delivered: float) -> int:
        """How far into the compressed file the packets delivered so far reach, given `delivered`:
        how many decompressed bytes their reader has taken. The decompressor runs ahead of the
        reader by what its queue and the relay's pipe hold, so its own position is scaled back by
        the share of its output the reader has taken (a paced replay would otherwise show a small
        file as read at once)."""
        if self._process is not None:
            with contextlib.suppress(OSError, ValueError):
                self.consumed = os.lseek(self._raw.fileno(), 0, os.SEEK_CUR)
        return int(self.consumed * min(delivered / self.produced, 1.0)) if self.produced else 0

    def _run(self) -> None:
        try:
            if self._process is None:
                self._decompress()
            else:
                self._pump_tool()
        except _Stopped:
            return
        except DECODE_ERRORS as exc:
            self.error = f"its {self.kind} data is damaged or cut short after {self.consumed:,} bytes ({exc})"
        with contextlib.suppress(_Stopped):
            self._put(b"")

    def _decompress(self) -> None:
        """Feed the file through the library's decompressor a chunk at a time, so everything
        before a cut or a damaged byte is handed on (a file object's read() loses it)."""
        inflater = Inflater(self.kind)
        while not inflater.done and (chunk := self._raw.read(CHUNK)):
            self.consumed += len(chunk)
            if data := inflater.feed(chunk):  # b"" would say the end: bzip2 holds whole blocks back
                self._put(data)
        inflater.finish()

    def _pump_tool(self) -> None:
        assert self._process is not None and self._process.stdout is not None
        while chunk := self._process.stdout.read1(CHUNK * 4):
            self._put(chunk)
        message = self._process.stderr.read().decode(errors="replace").strip()
        if self._process.wait() != 0:
            self.error = f"{self.kind}: {message.splitlines()[-1] if message else 'failed'}"

    def _put(self, data: bytes) -> None:
        while not self._stopping.is_set():
            try:
                self._chunks.put(data, timeout=STOP_POLL_S)
                self.produced += len(data)
                return
            except queue.Full:
                continue
        raise _Stopped

    def close(self) -> None:
        """Stop decompressing (the reader has what it wants) and release the file and the tool."""
        self._stopping.set()
        if self._process is not None:
            with contextlib.suppress(OSError):
                self._process.kill()
            self._process.wait()
        self._thread.join(5)
        if self._process is not None:
            self._process.stdout.close()
            self._process.stderr.close()
        self._raw.close()


class _Stopped(Exception):
    """The reader closed the decompressor while it waited to hand a chunk on."""
