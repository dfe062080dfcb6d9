"""The screen's terminal driver: Textual's own, minus a hang when the terminal goes away.

When the terminal closes under a running screen (the window is closed, an SSH connection
drops) Textual's writer thread dies on the first write that fails (EIO), its queue fills
and the next frame blocks the event loop for good, SIGHUP and SIGTERM handlers included: the
process stayed behind, capturing, until killed. Here a failed write marks the terminal gone
and raises SIGHUP in this process, which quits as `q` does (the engine still writes its
exports), while every later write is dropped instead of queued forever.
"""

from __future__ import annotations

import os
import signal
from typing import IO, Any

from textual.drivers.linux_driver import LinuxDriver


class TerminalFile:
    """What the writer thread writes to: the terminal, until it fails once."""

    def __init__(self, file: IO[str]) -> None:
        self._file = file
        self.gone = False

    def write(self, text: str) -> None:
        if not self.gone:
            try:
                self._file.write(text)
            except OSError:
                self._lost()

    def flush(self) -> None:
        if not self.gone:
            try:
                self._file.flush()
            except OSError:
                self._lost()

    def _lost(self) -> None:
        self.gone = True
        os.kill(os.getpid(), signal.SIGHUP)  # the screen's handler quits; from this thread too

    def __getattr__(self, name: str) -> Any:  # fileno, isatty, encoding: the terminal's own
        return getattr(self._file, name)


class TerminalDriver(LinuxDriver):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._file = TerminalFile(self._file)
