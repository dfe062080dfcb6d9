"""Reading capture files the way the engine does: pcapy next_batch -> RawBatch -> parse_batch."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pcapy

from netscope.analysis.alerts import Alert
from netscope.analysis.anomaly import AnomalyDetector, AnomalySettings
from netscope.capture.batch import RawBatch
from netscope.flow.records import format_ip
from netscope.parse.batch_parser import parse_batch
from netscope.parse.columns import ParsedBatch, Status

from .synthetic import Packet


def parsed_batches(path: str | Path, batch_packets: int = 256) -> list[ParsedBatch]:
    reader = pcapy.open_offline(str(path))
    linktype = reader.datalink()
    batches = []
    while True:
        data, meta = reader.next_batch(batch_packets)
        if len(meta) == 0:
            return batches
        sec, usec, offset, caplen = np.frombuffer(meta, dtype=np.uint32).reshape(-1, 4).T.astype(np.int64)
        raw = RawBatch(np.frombuffer(data, dtype=np.uint8), offset, caplen, caplen.copy(),
                       sec * 1_000_000 + usec, linktype)
        batches.append(parse_batch(raw))


def alerts_in(path: str | Path, settings: AnomalySettings | None = None, batch_packets: int = 256) -> list[Alert]:
    detector = AnomalyDetector(settings or AnomalySettings())
    return [alert for batch in parsed_batches(path, batch_packets) for alert in detector.observe(batch)]


def packets_of(batches: list[ParsedBatch]) -> list[Packet]:
    """The same packets as the oracle's Packet records (for comparing with SequentialOracle)."""
    packets = []
    for batch in batches:
        for i in range(batch.count):
            version = int(batch.ip_version[i])
            src = format_ip(version, int(batch.src_hi[i]), int(batch.src_lo[i])) if version else "0.0.0.0"
            dst = format_ip(version, int(batch.dst_hi[i]), int(batch.dst_lo[i])) if version else "0.0.0.0"
            status = Status(int(batch.status[i])) if batch.has_l4[i] else Status.TRUNCATED_L4
            packets.append(Packet(int(batch.ts_us[i]), src, int(batch.src_port[i]), dst, int(batch.dst_port[i]),
                                  proto=int(batch.ip_proto[i]), flags=int(batch.tcp_flags[i]), status=status))
    return packets
