"""Start the engine process and the Textual screen for one run, then report what was written.

The source is opened once in this process first, so a missing file or an interface we may not
capture on is a one-line error before the screen takes over the terminal.
"""

from __future__ import annotations

import sys

from netscope.config import Config
from netscope.engine.process import EngineProcess
from netscope.engine.session import open_source


def run_tui_session(config: Config) -> int:
    open_source(config).close()  # raises CaptureError with a one-line message
    from netscope.ui.app import run_tui

    link = EngineProcess(config)
    try:
        code = run_tui(link, config.tui)
    finally:
        finished = link.close()
    if finished is not None:
        for label, path in finished.written:
            print(f"Export ({label}): {path}")
        if finished.warning:
            print(f"warning: {finished.warning}", file=sys.stderr)
        if finished.error:
            print(f"error: {finished.error}", file=sys.stderr)
            return 1
    return code
