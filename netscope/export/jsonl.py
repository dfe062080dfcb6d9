"""Streaming JSON-lines writers: expired flows and alerts, flushed as they happen.

Flushing per write is deliberate: these files are read by `tail -f` and must survive a
crash or Ctrl-C with everything that was already reported.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Any

from netscope.analysis.alerts import Alert
from netscope.export.flows import flow_records
from netscope.flow.records import FlowColumns


class JsonlWriter:
    """Append compact JSON objects, one per line, truncating the file at open (reference §7.3)."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self._fh: IO[str] | None = open(path, "w", encoding="utf-8")  # noqa: SIM115 - closed by close()
        self.lines = 0

    def write_many(self, objects: Iterable[dict[str, Any]]) -> None:
        if self._fh is None:
            raise ValueError(f"{self.path} is closed")
        text = "".join(json.dumps(obj, separators=(",", ":")) + "\n" for obj in objects)
        if text:
            self._fh.write(text)
            self._fh.flush()
            self.lines += text.count("\n")

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None


def expired_flow_objects(flows: FlowColumns, reasons: Iterable[str], times: Iterable[float]) -> list[dict]:
    """`{"ts", "reason", ...snapshot fields}` per expired or evicted flow (reference §3.6)."""
    return [
        {"ts": ts, "reason": reason, **record}
        for record, reason, ts in zip(flow_records(flows), reasons, times, strict=True)
    ]


def alert_objects(alerts: Iterable[Alert]) -> list[dict]:
    return [alert.to_json_dict() for alert in alerts]
