"""RunOutputs at the end of a run: one failed export never costs the others."""

from __future__ import annotations

import csv
import errno
import json
import os
import subprocess
import sys
import threading
from pathlib import Path
from types import SimpleNamespace

import pytest

from netscope.config import Config
from netscope.engine.outputs import OutputError, OutputPaths, RunOutputs, check_outputs
from netscope.engine.session import build_engine, open_source


def test_every_export_is_written_when_one_of_them_fails(sample_pcap: Path, tmp_path: Path) -> None:
    config = Config().replace("capture", read_pcap=str(sample_pcap))
    source = open_source(config)
    engine = build_engine(config, source, keep_recent_packets=False, top_n=0)
    for raw in source.batches():
        engine.process(raw)
    source.close()
    json_path, csv_path = tmp_path / "flows.json", tmp_path / "flows.csv"
    outputs = RunOutputs(OutputPaths(export_json=str(json_path), export_csv=str(csv_path)))
    json_path.mkdir()  # the path went bad while the capture ran
    written, error = outputs.finish(engine)
    outputs.close()
    assert error is not None and str(json_path) in error and "\n" not in error
    assert written == [("CSV", str(csv_path))]
    with csv_path.open() as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == engine.totals().active_flows > 0


def test_a_stream_that_cannot_be_written_is_one_line_naming_it(tmp_path: Path) -> None:
    class Alert:
        def to_json_dict(self) -> dict:
            return {"kind": "syn_flood"}

    class FullDisk:
        path = str(tmp_path / "alerts.jsonl")
        given_up = False

        def write_many(self, _objects) -> None:
            raise OSError(errno.ENOSPC, "No space left on device")

    outputs = RunOutputs(OutputPaths())
    outputs.alerts = FullDisk()
    with pytest.raises(OutputError) as err:
        outputs.record(SimpleNamespace(unrecorded_alerts=[Alert()]))
    assert str(err.value) == f"cannot write alerts file {tmp_path / 'alerts.jsonl'}: No space left on device"


def test_the_summary_lists_only_what_this_run_wrote_and_says_what_is_incomplete(sample_pcap: Path,
                                                                               tmp_path: Path) -> None:
    """A segment an earlier run left is not this run's export; a stream given up on a full disk
    holds only what came before, and says so."""
    earlier = tmp_path / "ring.000001.pcap"
    earlier.write_bytes(b"")
    config = Config().replace("capture", read_pcap=str(sample_pcap))
    source = open_source(config)
    engine = build_engine(config, source, keep_recent_packets=False, top_n=0)
    outputs = RunOutputs(OutputPaths(write_pcap=str(tmp_path / "ring.pcap"), write_pcap_rotate_mb=1,
                                     write_pcap_max_files=5, alerts_jsonl="/dev/full"), source.linktype)
    for raw in source.batches():
        engine.process(raw)
        outputs.write_packets(raw)
    source.close()
    with pytest.raises(OSError):
        outputs.alerts.write_many([{"kind": "syn_flood"}])
    written, error = outputs.finish(engine)
    outputs.close()
    assert error is None
    assert written == [("alerts, incomplete", "/dev/full"), ("pcap", str(tmp_path / "ring.000002.pcap")),
                       ("pcap", str(tmp_path / "ring.000003.pcap"))]


def test_the_screens_check_names_an_unwritable_output_and_touches_none(tmp_path: Path) -> None:
    kept = tmp_path / "alerts.jsonl"
    kept.write_text('{"kept": true}\n')
    paths = OutputPaths(export_json=str(tmp_path / "flows.json"), alerts_jsonl=str(kept),
                        write_pcap=str(tmp_path / "out.pcap"))
    check_outputs(paths)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["alerts.jsonl"]  # nothing created
    assert kept.read_text() == '{"kept": true}\n'  # nor truncated
    for field, what in (("expired_flows_jsonl", "expired-flows file"), ("write_pcap", "pcap output"),
                        ("export_csv", "flow export")):
        missing = str(tmp_path / "no-such-dir" / "x")
        with pytest.raises(OutputError, match=f"^cannot write {what} {missing}: No such file or directory$"):
            check_outputs(OutputPaths(**{field: missing}))


@pytest.mark.timeout(60)
def test_an_export_to_a_fifo_reaches_its_reader_whole(sample_pcap: Path, tmp_path: Path) -> None:
    """The start-up check leaves FIFOs alone: opening one to try handed the reader an empty
    stream (EOF at the check's close), and the export at exit then waited for a reader forever."""
    fifo = tmp_path / "flows.fifo"
    os.mkfifo(fifo)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()))
    reader.start()
    result = subprocess.run([sys.executable, "-m", "netscope", "--headless", "-q", "--read-pcap", str(sample_pcap),
                             "--export-json", str(fifo)], capture_output=True, text=True, timeout=30)
    reader.join(timeout=30)
    assert result.returncode == 0, result.stderr
    assert len(json.loads(received[0])) == 165


def test_an_output_whose_reader_has_gone_is_incomplete_not_an_error(sample_pcap: Path, tmp_path: Path) -> None:
    config = Config().replace("capture", read_pcap=str(sample_pcap))
    source = open_source(config)
    engine = build_engine(config, source, keep_recent_packets=False, top_n=0)
    read_end, write_end = os.pipe()
    told: list[bool] = []
    json_path = tmp_path / "flows.json"
    outputs = RunOutputs(OutputPaths(write_pcap=f"/dev/fd/{write_end}", export_json=str(json_path)),
                         source.linktype, on_reader_gone=told.append)
    os.close(read_end)  # the reader (tcpdump -c 10, head) has had enough
    for raw in source.batches():
        engine.process(raw)
        outputs.write_packets(raw)  # no OutputError
    source.close()
    written, error = outputs.finish(engine)
    outputs.close()
    os.close(write_end)
    assert error is None and told == [True]  # once; the JSON export was still to be written
    assert written == [("JSON", str(json_path)), ("pcap, incomplete", f"/dev/fd/{write_end}")]
    assert len(json.loads(json_path.read_text())) == 165
