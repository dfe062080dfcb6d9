"""The signals that end a run, in one place: Ctrl-C, `kill` / `timeout` / a service manager, a closed terminal.

The process that owns the run (the headless CLI, the screen) turns each into a stop that still
writes every export; the processes it started (the screen's engine, pipeline workers) ignore
them and wait to be told, since a signal sent to the whole group reaches them too and would
otherwise end them before they hand over what they hold.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager

STOP_SIGNALS = {signal.SIGINT: "Interrupt", signal.SIGTERM: "Termination request", signal.SIGHUP: "Hangup"}


def ignore_stop_signals() -> None:
    """For a child process: the parent decides when the run ends and says so."""
    for signum in STOP_SIGNALS:
        signal.signal(signum, signal.SIG_IGN)


class StoppedBeforeTheRun(BaseException):
    """A stop signal while the run is still being set up (opening the source, waiting for a FIFO's
    writer): nothing has been captured and nothing is open that a stop would have to write, so
    the process ends at once with one line. A BaseException, as KeyboardInterrupt is, so no
    `except Exception` on the way up mistakes it for an error."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def stop_at_once_on_signals() -> None:
    """Until a run installs its own handlers (which turn a signal into a stop that writes the
    exports), a stop signal raises StoppedBeforeTheRun wherever the main thread is."""
    def handler(signum: int, _frame: object) -> None:
        raise StoppedBeforeTheRun(signum)

    for signum in STOP_SIGNALS:
        signal.signal(signum, handler)


@contextmanager
def already_stopping() -> Iterator[None]:
    """While a run that has stopped hands over its exports and report: a further stop signal
    finds the stop under way and is ignored, so it cannot cut them short."""
    previous = {signum: signal.getsignal(signum) for signum in STOP_SIGNALS}
    for signum in STOP_SIGNALS:
        signal.signal(signum, signal.SIG_IGN)
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
