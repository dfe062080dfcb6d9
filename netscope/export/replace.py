"""Writing a whole file so that a failure never leaves half of it: a temporary file, then a rename.

A flow-table export is written once, at the end of a run. Written in place, a full disk or a
crash mid-write would leave a truncated JSON array or CSV where the last good export was;
written beside it and renamed over it, the path holds either the old file or the new one.
Paths that are not ordinary files (`/dev/stdout`, a FIFO; netscope.paths) are written in
place, since a rename would replace the device entry, or the file a redirected stdout writes to,
behind its descriptor's back; so is a file whose directory we may not create in.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from netscope.paths import is_ordinary_file, open_output


@contextlib.contextmanager
def replacing(path: str | os.PathLike[str], newline: str | None = None) -> Iterator[IO[str]]:
    """A text file to write `path`'s new content into; it becomes `path` only once all is written."""
    if not is_ordinary_file(path):
        with open_output(path, "w", encoding="utf-8", newline=newline) as fh:
            yield fh
        return
    target = Path(os.path.realpath(path))  # through a symlink: the link stays, its file is replaced
    try:
        fd, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".partial", dir=target.parent)
    except PermissionError:  # a writable file in a directory we may not create in
        with open(target, "w", encoding="utf-8", newline=newline) as fh:
            yield fh
        return
    try:
        os.fchmod(fd, _mode_for(target))
        with os.fdopen(fd, "w", encoding="utf-8", newline=newline) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def _mode_for(target: Path) -> int:
    """The existing file's permissions, or those open() would give a new one (0666 less the umask)."""
    try:
        return stat.S_IMODE(target.stat().st_mode)
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask
