"""Files a run writes: streamed JSONL (expired flows, alerts) and the final flow-table exports.

Kept in one place so every way a run can end (EOF, count, Ctrl-C, a capture error) goes
through the same `finish`/`close` and nothing already reported is lost.

An output whose reader has gone (`--write-pcap - | tcpdump -r - -c 10`, a FIFO's reader that
exits) is no error: the reader took what it wanted. That output stops being written, is listed
as incomplete, and `on_reader_gone` is told whether any other output is still being written, so
the run can stop as tcpdump does on SIGPIPE, or, for a replay, finish the other outputs.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from netscope.capture.batch import RawBatch
from netscope.capture.pcapfile import FULL_SNAPLEN
from netscope.export.flows import write_csv, write_json
from netscope.export.hosts import write_hosts_csv
from netscope.export.jsonl import JsonlWriter, alert_objects, expired_flow_objects
from netscope.export.pcap_writer import PcapWriteError, PcapWriter


class OutputError(Exception):
    """An output file could not be opened or written; str() is one line naming the file."""


def _open(path: str | None, what: str) -> JsonlWriter | None:
    if not path:
        return None
    try:
        return JsonlWriter(path)
    except OSError as exc:
        raise OutputError(f"cannot write {what} {path}: {exc.strerror or exc}") from None


def _check_writable(path: str | None, what: str) -> None:
    """Fail before the capture starts, not after it, when a file written at exit could never be.

    The file is not truncated or left behind: an existing one is opened for appending, a
    missing one is created and removed again.
    """
    if not path:
        return
    target = Path(path)
    try:
        if target.is_dir():
            raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR))
        if target.exists():
            os.close(os.open(target, os.O_WRONLY | os.O_APPEND))
        else:
            os.close(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644))
            target.unlink()
    except OSError as exc:
        raise OutputError(f"cannot write {what} {path}: {exc.strerror or exc}") from None


def check_outputs(paths: OutputPaths) -> None:
    """Whether every output could be opened, touching none of them: the screen runs this before
    it takes over the terminal, so a path that cannot be written is a one-line error there too
    (the engine process that opens them comes later). A FIFO or device is left to the engine,
    since opening one to try may block until a reader comes."""
    for path, what in ((paths.export_json, "flow export"), (paths.export_csv, "flow export"),
                       (paths.export_hosts_csv, "host export"), (paths.expired_flows_jsonl, "expired-flows file"),
                       (paths.alerts_jsonl, "alerts file"), (paths.write_pcap, "pcap output")):
        if path and (not os.path.exists(path) or os.path.isfile(path)):
            _check_writable(path, what)


@dataclass
class OutputPaths:
    export_json: str | None = None
    export_csv: str | None = None
    export_hosts_csv: str | None = None
    expired_flows_jsonl: str | None = None
    alerts_jsonl: str | None = None
    write_pcap: str | None = None
    write_pcap_rotate_mb: int = 0
    write_pcap_max_files: int = 0


def _reader_went(exc: OSError) -> bool:
    return exc.errno == errno.EPIPE


class RunOutputs:
    def __init__(self, paths: OutputPaths, linktype: int = 1, snaplen: int = FULL_SNAPLEN,
                 on_reader_gone: Callable[[bool], None] | None = None) -> None:
        self.paths = paths
        self.on_reader_gone = on_reader_gone  # called with: is another output still being written?
        self.expired = self.alerts = self.pcap = None
        try:
            check_outputs(paths)  # all of them first: a refused start truncates no JSONL file
            self.expired = _open(paths.expired_flows_jsonl, "expired-flows file")
            self.alerts = _open(paths.alerts_jsonl, "alerts file")
            if paths.write_pcap:
                self.pcap = PcapWriter(paths.write_pcap, linktype, snaplen, rotate_mb=paths.write_pcap_rotate_mb,
                                       max_files=paths.write_pcap_max_files)
        except (OutputError, PcapWriteError, ValueError) as exc:
            self.close()
            raise OutputError(str(exc)) from None

    def write_packets(self, raw: RawBatch) -> None:
        """Raw packets to the pcap file, before any analysis could fail on them."""
        if self.pcap is not None and not self.pcap.given_up:
            if raw.count and raw.linktype != self.pcap.linktype:  # a pcapng that changes link type part-way
                raise OutputError(f"--write-pcap writes pcap, which holds one link type, but the capture changes "
                                  f"from link type {self.pcap.linktype} to {raw.linktype}; {self.paths.write_pcap} "
                                  "has the packets before")
            try:
                self.pcap.write(raw)
            except PcapWriteError as exc:
                if not _reader_went(exc):
                    raise OutputError(str(exc)) from None
                self._reader_gone()

    @property
    def collect_expired(self) -> bool:
        return self.expired is not None

    def record(self, engine) -> None:
        """Write what the engine reported since the last call (expired flows, alerts).

        A stream that cannot be written ends the run as a failing pcap does, with one line
        naming the file; the other outputs are still finished.
        """
        if self.expired is not None:
            expired = engine.take_expired()  # taken even when no longer written, or they pile up
            if expired.flows.count and not self.expired.given_up:
                self._write(self.expired, "expired-flows file",
                            expired_flow_objects(expired.flows, expired.reason_labels(), expired.times(),
                                                 engine.names_now))
        if engine.unrecorded_alerts:
            alerts, engine.unrecorded_alerts = engine.unrecorded_alerts, []
            if self.alerts is not None and not self.alerts.given_up:
                self._write(self.alerts, "alerts file", alert_objects(alerts))

    def _write(self, stream: JsonlWriter, what: str, objects: list[dict]) -> None:
        try:
            stream.write_many(objects)
        except OSError as exc:
            if not _reader_went(exc):
                raise OutputError(f"cannot write {what} {stream.path}: {exc.strerror or exc}") from None
            self._reader_gone()

    def _reader_gone(self) -> None:
        if self.on_reader_gone is not None:
            streams = (self.expired, self.alerts, self.pcap)
            others = any(s is not None and not s.given_up for s in streams) or bool(
                self.paths.export_json or self.paths.export_csv or self.paths.export_hosts_csv)
            self.on_reader_gone(others)

    def finish(self, engine) -> tuple[list[tuple[str, str]], str | None]:
        """Write the flow-table exports and close the pcap: (label, path) of what was written,
        and what failed as one line (None when nothing did).

        Every output is finished even when another fails (a full disk, a directory removed
        meanwhile), so one bad path never costs the others. The host export is summed from the
        same table the flow exports write (taken once: a pipeline's shards hand theirs over
        only once), so the files of one run agree.
        """
        written, failed = [], []
        wanted = [("JSON", self.paths.export_json, write_json, "JSON flow export"),
                  ("CSV", self.paths.export_csv, write_csv, "CSV flow export"),
                  ("hosts CSV", self.paths.export_hosts_csv, write_hosts_csv, "host export")]
        if any(path for _, path, _, _ in wanted):
            table = engine.flow_table()
            for label, path, writer, what in wanted:
                if not path:
                    continue
                try:
                    writer(table, path, engine.names)
                except OSError as exc:
                    if _reader_went(exc):
                        written.append((f"{label}, incomplete", path))
                    else:
                        failed.append(f"cannot write {what} {path}: {exc.strerror or exc}")
                    continue
                written.append((label, path))
        for label, stream in (("expired flows", self.expired), ("alerts", self.alerts)):
            if stream is not None:
                written.append((f"{label}, incomplete" if stream.given_up else label, stream.path))
        if self.pcap is not None:
            try:
                self.pcap.close()
            except PcapWriteError as exc:
                if not _reader_went(exc):
                    failed.append(str(exc))
            last = self.pcap.written[-1] if self.pcap.written else None
            written += [("pcap, incomplete" if self.pcap.given_up and path == last else "pcap", str(path))
                        for path in self.pcap.written]
        return written, "; ".join(failed) or None

    def close(self) -> None:
        for stream in (self.expired, self.alerts, self.pcap):
            if stream is not None:
                try:
                    stream.close()
                except PcapWriteError:
                    continue  # finish() or the failed write already reported it
