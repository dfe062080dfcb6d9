"""Files a run writes: streamed JSONL (expired flows, alerts) and the final flow-table exports.

Kept in one place so every way a run can end (EOF, count, Ctrl-C, a capture error) goes
through the same `finish`/`close` and nothing already reported is lost.
"""

from __future__ import annotations

from dataclasses import dataclass

from netscope.export.flows import write_csv, write_json
from netscope.export.jsonl import JsonlWriter, alert_objects, expired_flow_objects


class OutputError(Exception):
    """An output file could not be opened or written; str() is one line naming the file."""


def _open(path: str | None, what: str) -> JsonlWriter | None:
    if not path:
        return None
    try:
        return JsonlWriter(path)
    except OSError as exc:
        raise OutputError(f"cannot write {what} {path}: {exc.strerror or exc}") from None


@dataclass
class OutputPaths:
    export_json: str | None = None
    export_csv: str | None = None
    expired_flows_jsonl: str | None = None
    alerts_jsonl: str | None = None


class RunOutputs:
    def __init__(self, paths: OutputPaths) -> None:
        self.paths = paths
        self.expired = _open(paths.expired_flows_jsonl, "expired-flows file")
        try:
            self.alerts = _open(paths.alerts_jsonl, "alerts file")
        except OutputError:
            self.close()
            raise

    @property
    def collect_expired(self) -> bool:
        return self.expired is not None

    def record(self, engine) -> None:
        """Write what the engine reported since the last call (expired flows, alerts)."""
        if self.expired is not None:
            expired = engine.tracker.take_expired()
            if expired.flows.count:
                self.expired.write_many(
                    expired_flow_objects(expired.flows, expired.reason_labels(), expired.times()))
        if engine.unrecorded_alerts:
            alerts, engine.unrecorded_alerts = engine.unrecorded_alerts, []
            if self.alerts is not None:
                self.alerts.write_many(alert_objects(alerts))

    def finish(self, engine) -> list[tuple[str, str]]:
        """Write the flow-table exports; returns (label, path) of what was written."""
        written = []
        wanted = [("JSON", self.paths.export_json, write_json), ("CSV", self.paths.export_csv, write_csv)]
        if any(path for _, path, _ in wanted):
            table = engine.flow_table()
            for label, path, writer in wanted:
                if not path:
                    continue
                try:
                    writer(table, path)
                except OSError as exc:
                    raise OutputError(f"cannot write flow export {path}: {exc.strerror or exc}") from None
                written.append((label, path))
        for label, stream in (("expired flows", self.expired), ("alerts", self.alerts)):
            if stream is not None:
                written.append((label, stream.path))
        return written

    def close(self) -> None:
        for stream in (getattr(self, "expired", None), getattr(self, "alerts", None)):
            if stream is not None:
                stream.close()
