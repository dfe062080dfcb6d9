"""Start the engine process and the Textual screen for one run, then report what was written.

The source is opened once in this process first, so a missing file or an interface we may not
capture on is a one-line error before the screen takes over the terminal.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from netscope.config import Config
from netscope.engine.outputs import check_outputs
from netscope.engine.process import EngineProcess
from netscope.engine.session import open_source, output_paths
from netscope.engine.signals import already_stopping


@contextmanager
def _screen_on_the_terminal() -> Iterator[None]:
    """Textual draws on stderr. With stderr sent to a file (`netscope 2> log`) the screen would
    go into the file and the terminal stay blank, so for the screen's lifetime stderr is the
    terminal stdout is on (the run is headless unless stdout is one); afterwards it is the file
    again, which then receives the run's warnings and errors."""
    if sys.stderr.isatty():
        yield
        return
    sys.stderr.flush()
    redirected = os.dup(2)
    os.dup2(1, 2)
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(redirected, 2)
        os.close(redirected)


def run_tui_session(config: Config) -> int:
    open_source(config).close()  # raises CaptureError with a one-line message
    check_outputs(output_paths(config))  # raises OutputError, as headless would before reading
    from netscope.ui.app import run_tui

    link = EngineProcess(config)  # started first: what it writes to stderr stays where stderr points
    try:
        with _screen_on_the_terminal():
            code = run_tui(link, config.tui, detecting_anomalies=config.analysis.anomalies.enabled)
    finally:
        with already_stopping():  # the engine writes the exports: a second SIGTERM must not lose the report
            finished = link.close()
            if finished is not None:
                for label, path in finished.written:
                    _say(f"Export ({label}): {path}", sys.stdout)
                if finished.warning:
                    _say(f"warning: {finished.warning}", sys.stderr)
    if finished is not None and finished.error:
        _say(f"error: {finished.error}", sys.stderr)
        return 1
    return code


def _say(line: str, file) -> None:
    """The report after the screen; a terminal that has closed (the screen's reason to quit)
    takes none of it, and the exports are written all the same."""
    with contextlib.suppress(OSError):
        print(line, file=file, flush=True)
