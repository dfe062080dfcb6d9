"""Output files: the paths that are not files of their own, writes that keep only whole records,
and the names of a rotating capture's numbered segments.

`/dev/stdout`, `-` and the other descriptor aliases:

`--export-json /dev/stdout` or `--alerts-jsonl /dev/stdout` must write where standard output
already goes. Opening the alias anew would give a second open file: on a redirected stdout
(`> all.txt`) it truncates what the shell's descriptor has written, and the two offsets then
overwrite each other. So an alias of one of our descriptors is written through a duplicate of
that descriptor, sharing its offset, and is never replaced or truncated; other devices and
FIFOs are opened as given.

The streaming outputs (pcap, JSON lines) are written unbuffered, one write per batch. When the
disk fills part-way through one, `abandon` cuts the file back to its last whole record, so a
reader never meets half a packet or half a line.
"""

from __future__ import annotations

import contextlib
import os
import re
import stat
from pathlib import Path
from typing import IO

STDOUT_FD = 1
STDOUT_NAME = "-"
SEGMENT_INDEX_DIGITS = 6
_ALIASES = {"/dev/stdin": 0, "/dev/stdout": STDOUT_FD, "/dev/stderr": 2}
_FD_ALIAS = re.compile(r"/(?:dev/fd|proc/self/fd|proc/thread-self/fd)/(\d+)")


def descriptor_alias(path: str | os.PathLike[str]) -> int | None:
    """The descriptor an output path like /dev/stdout or /dev/fd/3 stands for, or None. As
    for tcpdump -w -, an output named `-` is standard output."""
    if os.fspath(path) == STDOUT_NAME:
        return STDOUT_FD
    text = os.path.abspath(os.fspath(path))
    if text in _ALIASES:
        return _ALIASES[text]
    match = _FD_ALIAS.fullmatch(text)
    return int(match[1]) if match else None


def is_ordinary_file(path: str | os.PathLike[str]) -> bool:
    """A path naming a file of its own, to be created, replaced or kept apart from other outputs:
    not a descriptor alias, a device or a FIFO."""
    if descriptor_alias(path) is not None or os.path.abspath(os.fspath(path)).startswith(("/dev/", "/proc/")):
        return False
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except OSError:
        return True  # not there yet: it will be a file


def open_output(path: str | os.PathLike[str], mode: str, **kwargs) -> IO:
    """`open(path, mode)` for writing, except that a descriptor alias writes through that descriptor."""
    fd = descriptor_alias(path)
    if fd is None:
        return open(path, mode, **kwargs)
    return os.fdopen(os.dup(fd), mode, **kwargs)


class PartialWrite(OSError):
    """A write that failed after `landed` bytes of its buffer had reached the file."""

    def __init__(self, cause: OSError, landed: int) -> None:
        super().__init__(cause.errno, cause.strerror)
        self.landed = landed


def discard_writes(fd: int) -> None:
    """Point a descriptor whose reader has gone (`| head`) at /dev/null, so the writes still to
    come, the interpreter's flush at exit included, succeed instead of raising EPIPE again."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, fd)
    os.close(devnull)


def write_fully(fh: IO[bytes], data: bytes | memoryview) -> int:
    """Write all of `data` to an unbuffered file, whose writes may each take only part of it;
    returns its size, or raises PartialWrite saying how much landed."""
    view = memoryview(data).cast("B")
    size = len(view)
    try:
        while view:
            view = view[fh.write(view):]
    except OSError as exc:
        raise PartialWrite(exc, size - len(view)) from exc
    return size


def abandon(fh: IO[bytes], path: str | os.PathLike[str], keep: int) -> None:
    """After a failed write: cut the file back to its first `keep` bytes (whole records) and close
    it; a descriptor alias or a device is not ours to cut."""
    with contextlib.suppress(OSError):
        if is_ordinary_file(path):
            os.ftruncate(fh.fileno(), keep)
        fh.close()


# Segment names are known here rather than in the pcap writer because the configuration must
# refuse, before anything opens, a capture to read that the ring would overwrite or prune.

def segment_path(base: Path, index: int) -> Path:
    """`capture.pcap` -> `capture.000007.pcap`; `dump` -> `dump.000007` (same directory)."""
    return base.with_name(f"{base.stem}.{index:0{SEGMENT_INDEX_DIGITS}d}{base.suffix}")


def _segment_name(base: Path) -> re.Pattern[str]:
    return re.compile(re.escape(base.stem) + r"\.([0-9]+)" + re.escape(base.suffix))


def existing_segments(base: Path) -> list[tuple[int, Path]]:
    """Segments of `base` already on disk (any number of digits), lowest index first."""
    pattern = _segment_name(base)
    directory = base.parent
    found = []
    for entry in os.scandir(directory):
        match = pattern.fullmatch(entry.name)
        if match and entry.is_file():
            found.append((int(match.group(1)), directory / entry.name))
    return sorted(found)


def is_segment_name(base: Path, path: str | os.PathLike[str]) -> bool:
    """Whether `path` (symlinks resolved) is named as one of `base`'s segments, there or to come."""
    resolved, ring = Path(os.path.realpath(path)), Path(os.path.realpath(base.parent)) / base.name
    return resolved.parent == ring.parent and _segment_name(ring).fullmatch(resolved.name) is not None
