"""Streaming JSON-lines writers: expired flows and alerts, flushed as they happen.

Writing through per call is deliberate: these files are read by `tail -f` and must survive a
crash or Ctrl-C with everything that was already reported.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import IO, Any

import orjson

from netscope.analysis.alerts import Alert
from netscope.analysis.names import NameObserver
from netscope.export.flows import flow_records
from netscope.flow.records import FlowColumns
from netscope.paths import abandon, open_output, write_fully


class JsonlWriter:
    """Append compact JSON objects, one per line, truncating the file at open (reference §7.3).

    Written unbuffered, so each call's lines are in the file when it returns; a write that
    fails part-way (a full disk) is cut back to the last whole line, so a reader never sees
    half a record, and the file is given up.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self._fh: IO[bytes] | None = open_output(path, "wb", buffering=0)
        self._size = 0  # bytes of whole lines written
        self.lines = 0
        self.given_up = False  # a write failed: the file holds only the lines before it

    def write_many(self, objects: Iterable[dict[str, Any]]) -> None:
        if self._fh is None:
            raise ValueError(f"{self.path} is closed")
        data = b"".join(orjson.dumps(obj) + b"\n" for obj in objects)
        try:
            self._size += write_fully(self._fh, data)
        except OSError:
            fh, self._fh = self._fh, None
            self.given_up = True
            abandon(fh, self.path, self._size)
            raise
        self.lines += data.count(b"\n")

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None


def expired_flow_objects(flows: FlowColumns, reasons: Iterable[str], times: Iterable[float],
                         names: NameObserver | None = None) -> list[dict]:
    """`{"ts", "reason", ...snapshot fields}` per expired or evicted flow (reference §3.6), then
    the name fields, as in the flow export, when names are observed."""
    return [
        {"ts": ts, "reason": reason, **record}
        for record, reason, ts in zip(flow_records(flows, names), reasons, times, strict=True)
    ]


def alert_objects(alerts: Iterable[Alert]) -> list[dict]:
    return [alert.to_json_dict() for alert in alerts]
