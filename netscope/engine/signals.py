"""The signals that end a run, in one place: Ctrl-C, `kill` / `timeout` / a service manager, a closed terminal.

The process that owns the run (the headless CLI, the screen) turns each into a stop that still
writes every export; the processes it started (the screen's engine, pipeline workers) ignore
them and wait to be told, since a signal sent to the whole group reaches them too and would
otherwise end them before they hand over what they hold.
"""

from __future__ import annotations

import signal

STOP_SIGNALS = {signal.SIGINT: "Interrupt", signal.SIGTERM: "Termination request", signal.SIGHUP: "Hangup"}


def ignore_stop_signals() -> None:
    """For a child process: the parent decides when the run ends and says so."""
    for signum in STOP_SIGNALS:
        signal.signal(signum, signal.SIG_IGN)
