"""BatchReadAhead: the same results as calling next_batch in place, errors where they happened, no thread left."""

from __future__ import annotations

import threading

import pcapy
import pytest

from netscope.capture.offline import FileSource
from netscope.capture.readahead import BatchReadAhead


def read_ahead_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "netscope-read-ahead"]


def test_yields_exactly_what_next_batch_returns(sample_pcap):
    in_place = pcapy.open_offline(str(sample_pcap))
    expected = []
    while True:
        result = in_place.next_batch(500)
        expected.append(result)
        if not result[1]:
            break
    handle = pcapy.open_offline(str(sample_pcap))
    ahead = BatchReadAhead(handle, 500)
    assert list(ahead) == [*expected[:-1], None]
    assert len(expected) == 8  # 3413 packets in batches of 500, then the empty end
    ahead.stop()
    assert not read_ahead_threads()


def test_convert_runs_in_the_thread_and_its_errors_reach_the_caller_in_order(sample_pcap):
    def convert(batch: tuple[bytes, bytes]) -> tuple[str, int]:
        packets = len(batch[1]) // 16
        if packets < 500:
            raise ValueError("the short last batch")
        return threading.current_thread().name, packets

    ahead = BatchReadAhead(pcapy.open_offline(str(sample_pcap)), 500, convert)
    got = []
    with pytest.raises(ValueError, match="short last batch"):
        for item in ahead:
            got.append(item)
    assert got == [("netscope-read-ahead", 500)] * 6
    ahead.stop()


class FailingHandle:
    """Two batches, then the error libpcap raises on a damaged record."""

    def __init__(self) -> None:
        self.calls = 0

    def next_batch(self, _n: int) -> tuple[bytes, bytes]:
        self.calls += 1
        if self.calls > 2:
            raise pcapy.PcapError("truncated dump file")
        return b"x" * self.calls, b"m" * 16


def test_an_error_is_raised_in_the_caller_after_the_batches_before_it():
    ahead = BatchReadAhead(FailingHandle(), 10)
    got = []
    with pytest.raises(pcapy.PcapError, match="truncated dump file"):
        for data, _meta in ahead:
            got.append(data)
    assert got == [b"x", b"xx"]
    ahead.stop()


class EndlessHandle:
    def __init__(self) -> None:
        self.calls = 0

    def next_batch(self, _n: int) -> tuple[bytes, bytes]:
        self.calls += 1
        return b"data", b"m" * 16


def test_stop_ends_the_thread_after_at_most_one_more_read():
    handle = EndlessHandle()
    ahead = BatchReadAhead(handle, 10)
    results = iter(ahead)
    next(results)
    ahead.stop()
    assert not read_ahead_threads()
    calls = handle.calls
    assert calls <= 3  # the one taken, the one queued, the one that found the queue full
    assert handle.calls == calls  # nothing reads after stop() returned


def test_file_source_leaves_no_thread_when_the_caller_stops_early(sample_pcap):
    with FileSource(sample_pcap, batch_packets=100) as source:
        batches = source.batches()
        next(batches)
        next(batches)
        assert read_ahead_threads()
        batches.close()
        assert not read_ahead_threads()
        assert source.packets_read == 200  # what was delivered, not what was read ahead
    assert not read_ahead_threads()


def test_closing_the_source_mid_read_stops_the_thread_first(sample_pcap):
    source = FileSource(sample_pcap, batch_packets=100)
    batches = source.batches()
    next(batches)
    source.close()  # the generator is still open: close() must not free the handle under the thread
    assert not read_ahead_threads()
    batches.close()
