"""The pipeline engine under the Runner: detail requests answered by the shards, a worker lost mid-run."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import dpkt
import pytest

from netscope.capture.errors import CaptureError
from netscope.config import Config
from netscope.engine.messages import FlowDetail, RequestDetail
from netscope.engine.outputs import OutputPaths, RunOutputs
from netscope.engine.runner import Runner
from netscope.engine.session import build_engine, finish_engine, open_source
from netscope.flow.query import FlowQuery
from netscope.pipeline.engine import PipelineEngine
from tests.pipeline import shard_captures

BUSIEST = ("tcp", "10.88.0.1", 39246, "10.88.0.2", 5201)


def pipeline_runner(sample: Path, commands: list, published: list, outputs: RunOutputs | None = None,
                    source=None, slot_packets: int = 32768) -> Runner:
    config = Config().replace("capture", read_pcap=str(sample)).replace(
        "pipeline", enabled=True, workers=2, channel_capacity=slot_packets)
    source = source or open_source(config)
    engine = build_engine(config, source, keep_recent_packets=True, top_n=10)
    assert isinstance(engine, PipelineEngine)

    def poll():
        out, commands[:] = list(commands), []
        return out

    return Runner(engine, source, outputs or RunOutputs(OutputPaths()), tick_s=0.05, replay_speed=0.0,
                  publish=published.append, poll_commands=poll)


def test_detail_request_returns_counters_and_recent_packets_from_the_flows_shard(sample_pcap: Path) -> None:
    published: list = []
    commands: list = []
    runner = pipeline_runner(sample_pcap, commands, published)
    try:
        runner.run()
        commands.append(RequestDetail(BUSIEST))
        runner._handle_commands()
        detail = published[-1]
        assert isinstance(detail, FlowDetail) and detail.flow is not None
        assert detail.flow.packets_total == 732 + 449
        assert detail.packets and all(p.linktype == 1 and len(p.data) >= 54 for p in detail.packets)
        assert [p.ts for p in detail.packets] == sorted(p.ts for p in detail.packets)
    finally:
        runner.engine.close()


def test_recent_packets_are_the_flow_s_own_after_their_ring_slot_is_reused(sample_pcap: Path) -> None:
    """Slots of 20 packets are reused 170 times over the sample: the packets a shard keeps
    for the detail view must not be read back from a slot that now holds other packets."""
    published: list = []
    commands: list = []
    runner = pipeline_runner(sample_pcap, commands, published, slot_packets=20)
    try:
        runner.run()
        commands.append(RequestDetail(BUSIEST))
        runner._handle_commands()
        detail = published[-1]
        assert isinstance(detail, FlowDetail) and len(detail.packets) >= 20
        endpoints = {(BUSIEST[1], BUSIEST[2]), (BUSIEST[3], BUSIEST[4])}
        for record in detail.packets:
            ip = dpkt.ethernet.Ethernet(record.data).data
            assert {(socket.inet_ntoa(ip.src), ip.data.sport), (socket.inet_ntoa(ip.dst), ip.data.dport)} == endpoints
    finally:
        runner.engine.close()


def test_a_filter_s_matches_are_counted_across_the_shards(sample_pcap: Path) -> None:
    published: list = []
    runner = pipeline_runner(sample_pcap, [], published)
    try:
        runner.run()
        filtered = runner.engine.tick("finished", 1.0, [], top_n=10, query=FlowQuery.parse("tcp"))
        assert filtered.matching_flows == 163 and len(filtered.top_flows) == 10  # of the sample's 165 flows
        assert filtered.ranked_for == "tcp"
        unfiltered = runner.engine.tick("finished", 1.0, [], top_n=10)
        assert unfiltered.matching_flows is None and unfiltered.ranked_for == ""
    finally:
        runner.engine.close()


class KillsAWorker:
    """The sample's batches, with worker 1 killed before the first is handed over."""

    def __init__(self, sample: Path) -> None:
        self.source = open_source(Config().replace("capture", read_pcap=str(sample)))
        self.linktype = self.source.linktype
        self.engine: PipelineEngine | None = None

    def batches(self, stop=None):
        for index, raw in enumerate(self.source.batches(stop)):
            if index == 0:
                process = self.engine.workers.processes[1]
                process.kill()
                process.join()
            yield raw

    def close(self) -> None:
        self.source.close()


def test_worker_killed_mid_run_is_one_error_and_the_others_flows_are_exported(sample_pcap: Path,
                                                                              tmp_path: Path) -> None:
    source = KillsAWorker(sample_pcap)
    export = tmp_path / "flows.json"
    outputs = RunOutputs(OutputPaths(export_json=str(export)))
    runner = pipeline_runner(sample_pcap, [], [], outputs, source)
    source.engine = runner.engine
    with pytest.raises(CaptureError, match=r"^pipeline worker 1 failed: the process ended unexpectedly$"):
        runner.run()
    failure = finish_engine(runner.engine, outputs)
    written, export_error = outputs.finish(runner.engine)
    outputs.close()
    source.close()
    assert failure == "pipeline worker 1 failed: the process ended unexpectedly"
    assert "\n" not in failure and written == [("JSON", str(export))] and export_error is None
    flows = json.loads(export.read_text())
    assert 0 < len(flows) < 165  # worker 0's flows, without worker 1's
    assert not runner.engine.workers.processes


def test_a_screen_gets_the_same_capture_seconds_from_the_pipeline_as_from_one_process(sample_pcap: Path) -> None:
    def seconds(workers: int) -> list[tuple[int, int, int]]:
        config = Config().replace("capture", read_pcap=str(sample_pcap)).replace(
            "pipeline", enabled=bool(workers), workers=workers)
        source = open_source(config)
        engine = build_engine(config, source, keep_recent_packets=True, top_n=10, second_history=True)
        published: list = []
        try:
            Runner(engine, source, RunOutputs(OutputPaths()), tick_s=0.05, replay_speed=0.0,
                   publish=published.append, poll_commands=list).run()
        finally:
            source.close()
            if isinstance(engine, PipelineEngine):
                engine.close()
        return [row for snap in published if getattr(snap, "capture_seconds", None) is not None
                for row in zip(snap.capture_seconds.second.tolist(), snap.capture_seconds.bytes.tolist(),
                               snap.capture_seconds.packets.tolist(), strict=True)]

    single = seconds(0)
    assert len(single) >= 5 and sum(packets for _, _, packets in single) == 3413
    assert seconds(2) == single


def test_top_rows_carry_names_learned_on_another_shard(tmp_path: Path) -> None:
    """The screen's names view: the web flow's server is named by a DNS answer on the other shard."""
    capture = shard_captures.named_web_capture(tmp_path / "names.pcap")

    def web_names(workers: int):
        config = Config().replace("capture", read_pcap=str(capture)).replace(
            "pipeline", enabled=bool(workers), workers=workers)
        source = open_source(config)
        engine = build_engine(config, source, keep_recent_packets=True, top_n=10)
        try:
            for raw in source.batches():
                engine.process(raw)
            snapshot = engine.tick("finished", 0.0, [])
        finally:
            source.close()
            if isinstance(engine, PipelineEngine):
                engine.close()
        web = next(row.key for row in snapshot.top_flows if row.b_port == 80)
        return snapshot.flow_names.get(web)

    single = web_names(0)
    assert (single.name_b, single.http_host) == (shard_captures.WEB_NAME,) * 2
    assert web_names(2) == single
