"""Building a pipeline run from the Config: the session builders call these when `pipeline.enabled`."""

from __future__ import annotations

import os
from collections.abc import Callable

from netscope.capture.live import LiveSource
from netscope.config import Config
from netscope.engine.core import Engine
from netscope.engine.snapshot import SourceInfo
from netscope.pipeline.engine import LivePipelineSource, PipelineEngine
from netscope.pipeline.workers import worker_count


def open_live_pipeline(config: Config, open_live: Callable[[], LiveSource],
                       make_engine: Callable[[object], Engine]) -> LivePipelineSource:
    """Workers that each open their own handle and join one kernel fanout group (capture/fanout.py).

    The group id only has to be unique among the groups on the host at the time: our pid is.
    """
    group = os.getpid() & 0xFFFF

    def open_capture() -> LiveSource:
        source = open_live()
        try:
            source.fanout(group)
        except BaseException:
            source.close()
            raise
        return source

    return LivePipelineSource(open_capture, make_engine, worker_count(config.pipeline.workers), config.run.count,
                              config.capture.timeout_ms, anomaly_input=config.analysis.anomalies.enabled)


def build_pipeline_engine(config: Config, source, info: SourceInfo, make_engine: Callable[[object], Engine],
                          top_n: int, *, detectors: list, keep_recent_packets: bool,
                          second_history: bool = False, socket_owners: bool = False,
                          reverse_dns: bool = False) -> PipelineEngine:
    """`detectors` run in this process over the shards' anomaly input; the shards' engines run none."""
    if isinstance(source, LivePipelineSource):
        engine = PipelineEngine(info, lambda: make_engine(source), workers=len(source.workers.conns), top_n=top_n,
                                slot_packets=config.pipeline.channel_capacity, detectors=detectors,
                                keep_recent=keep_recent_packets, live=source,
                                shards_observe_names=config.analysis.names, socket_owners=socket_owners,
                                reverse_dns=reverse_dns)
        source.engine = engine
        return engine
    return PipelineEngine(info, lambda: make_engine(source), workers=worker_count(config.pipeline.workers),
                          top_n=top_n, slot_packets=config.pipeline.channel_capacity, detectors=detectors,
                          keep_recent=keep_recent_packets, second_history=second_history,
                          shards_observe_names=config.analysis.names)
