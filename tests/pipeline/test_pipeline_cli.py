"""The pipeline through the real CLI: same exports as one process, alerts, and a clean Ctrl-C."""

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.pipeline import shard_captures

DATA = Path(__file__).resolve().parent.parent / "data"


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "netscope", "--headless", "-q", *args], capture_output=True,
                          text=True, timeout=120, check=True)


def shm_segments() -> set[str]:
    return set(os.listdir("/dev/shm")) if os.path.isdir("/dev/shm") else set()


def exports(capture: Path, tmp_path: Path, *extra: str) -> list[dict]:
    out = tmp_path / f"flows{len(extra)}.json"
    run_cli("--read-pcap", str(capture), "--export-json", str(out), *extra)
    return json.loads(out.read_text())


@pytest.fixture(scope="module")
def bigger_capture(tmp_path_factory, sample_pcap):
    """Three copies of the sample end to end: more batches, and timestamps that jump back."""
    path = tmp_path_factory.mktemp("big") / "three.pcap"
    subprocess.run(["mergecap", "-a", "-F", "pcap", "-w", str(path), *[str(sample_pcap)] * 3], check=True)
    return path


@pytest.mark.parametrize("workers", ["2", "3"])
def test_pipeline_export_equals_single_process(sample_pcap, tmp_path, workers):
    single = exports(sample_pcap, tmp_path)
    sharded = exports(sample_pcap, tmp_path, "--pipeline", "--workers", workers)
    assert len(sharded) == len(single) == 165
    for mine, theirs in zip(sharded, single, strict=True):
        assert mine == theirs


@pytest.mark.parametrize("workers", ["2", "3"])
def test_the_flow_cap_holds_for_all_shards_together(sample_pcap, tmp_path, workers):
    """As in one process, 40 flows at most of the sample's 165; each shard used to keep 40."""
    flows = exports(sample_pcap, tmp_path, "--max-flows", "40", "--workers", workers)
    summary = run_cli("--read-pcap", str(sample_pcap), "--max-flows", "40", "--workers", workers, "--stats").stdout
    evicted = int(re.search(r"Flows expired / evicted +0 / (\d+)", summary)[1])
    assert 40 - int(workers) < len(flows) <= 40 and len(flows) + evicted == 165


def test_pipeline_export_equals_single_process_on_a_bigger_file(bigger_capture, tmp_path):
    assert exports(bigger_capture, tmp_path, "--workers", "2") == exports(bigger_capture, tmp_path)


def test_small_ring_slots_split_batches_without_changing_the_export(bigger_capture, tmp_path):
    """A slot smaller than a read batch: each batch goes out in many pieces through a full ring.

    Smaller batches reorder the floating-point sums of the RTT average, so floats agree to
    rounding; every count, byte and name must still be equal.
    """
    config = tmp_path / "small-slots.toml"
    config.write_text("[pipeline]\nchannel_capacity = 100\n")
    sharded = exports(bigger_capture, tmp_path, "--workers", "2", "--config", str(config))
    single = exports(bigger_capture, tmp_path)
    assert len(sharded) == len(single) == 165
    for mine, theirs in zip(sharded, single, strict=True):
        assert mine.keys() == theirs.keys()
        for key, value in mine.items():
            assert value == (pytest.approx(theirs[key], rel=1e-9) if isinstance(value, float) else theirs[key]), key


def test_expired_flows_match_too(bigger_capture, tmp_path):
    def expired(*extra: str) -> list[str]:
        out = tmp_path / f"expired{len(extra)}.jsonl"
        run_cli("--read-pcap", str(bigger_capture), "--expired-flows-jsonl", str(out), "--flow-timeout-s", "5", *extra)
        return sorted(out.read_text().splitlines())

    assert expired("--workers", "2") == expired()


def alerts(capture: Path, tmp_path: Path, *extra: str) -> list[tuple]:
    out = tmp_path / f"alerts{len(extra)}.jsonl"
    run_cli("--read-pcap", str(capture), "--alerts-jsonl", str(out), *extra)
    return [(a["kind"], a["description"], a["ts"]) for a in map(json.loads, out.read_text().splitlines())]


@pytest.mark.parametrize("capture", sorted(DATA.glob("anomaly-*.pcap")), ids=lambda path: path.stem)
def test_pipeline_raises_the_alerts_of_one_process(capture, tmp_path):
    """One detector for the whole capture: a flood spread over shards is seen, a scan raised once."""
    single = alerts(capture, tmp_path, "--anomalies")
    assert alerts(capture, tmp_path, "--anomalies", "--workers", "2") == single
    if "nmap" in capture.name:
        assert [kind for kind, _, _ in single] == ["port_scan"]
    if "hping3" in capture.name:
        assert [kind for kind, _, _ in single] == ["syn_flood"]


LOW_THRESHOLDS = """
[analysis.anomalies]
enabled = true
[analysis.anomalies.syn_flood]
syn_threshold = 3
unique_src_threshold = 1
cooldown_secs = 0.5
[analysis.anomalies.port_scan]
unique_ports_threshold = 3
unique_hosts_threshold = 2
cooldown_secs = 0.5
"""


def test_many_alerts_come_in_the_same_order_as_one_process(bigger_capture, tmp_path):
    """Low thresholds over a capture whose time jumps back: order and clamping match too."""
    config = tmp_path / "low.toml"
    config.write_text(LOW_THRESHOLDS)
    single = alerts(bigger_capture, tmp_path, "--config", str(config))
    assert len(single) >= 10 and {kind for kind, _, _ in single} == {"syn_flood", "port_scan"}
    assert alerts(bigger_capture, tmp_path, "--config", str(config), "--workers", "3") == single


def test_live_pipeline_refuses_write_pcap(tmp_path):
    done = subprocess.run([sys.executable, "-m", "netscope", "--headless", "-i", "lo", "--workers", "2",
                           "--write-pcap", str(tmp_path / "out.pcap")], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "output.write_pcap" in done.stderr and "pipeline.enabled" in done.stderr
    assert not (tmp_path / "out.pcap").exists()


def test_sigint_writes_exports_and_leaves_nothing_behind(bigger_capture, tmp_path):
    before = shm_segments()
    out = tmp_path / "flows.json"
    # The signal goes right after the banner, while the replay is still running (the
    # invariants checked hold just the same should it have finished first).
    process = subprocess.Popen([sys.executable, "-m", "netscope", "--headless", "--read-pcap", str(bigger_capture),
                                "--export-json", str(out), "--workers", "2", "--stats"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout.readline()  # the banner: the workers exist and the run starts
        children = _children(process.pid)
        process.send_signal(signal.SIGINT)
        process.wait(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0
    assert isinstance(json.loads(out.read_text()), list)  # written, however far the replay got
    assert shm_segments() <= before
    # A child may outlive the parent by a moment (the shared-memory resource tracker ends on EOF).
    assert children and not _still_running(children)


def _running(pid: int) -> bool:
    """Alive and not a zombie waiting for a reaper (in a container, pid 1 may never reap)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _still_running(pids: list[int], patience_s: float = 10.0) -> list[int]:
    deadline = time.monotonic() + patience_s
    while (running := [pid for pid in pids if _running(pid)]) and time.monotonic() < deadline:
        time.sleep(0.05)
    return running


def _children(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


@pytest.fixture
def idle_flow_capture(tmp_path):
    return shard_captures.idle_flow_capture(tmp_path / "idle.pcap")


@pytest.mark.parametrize("slot_packets", [32768, 3])
def test_idle_expiry_follows_the_whole_capture_clock(idle_flow_capture, tmp_path, slot_packets):
    """A shard expires its flows when one process would, not at its own next packet.

    One process expires the quiet flow at 3 s (its timeout pass runs on the busy
    flow's packets), so the quiet flow's packet at 10 s starts a new flow; a shard that
    only passed on its own packets would fold that packet into the old flow. Slots of three
    packets give the quiet shard slots with none of its packets, and passes before its first.
    """
    config = tmp_path / "slots.toml"
    config.write_text(f"[pipeline]\nchannel_capacity = {slot_packets}\n")
    def run(*extra: str) -> tuple[list[dict], list[dict]]:
        out, expired = tmp_path / f"flows{len(extra)}.json", tmp_path / f"expired{len(extra)}.jsonl"
        run_cli("--read-pcap", str(idle_flow_capture), "--flow-timeout-s", "2", "--export-json", str(out),
                "--expired-flows-jsonl", str(expired), *extra)
        return json.loads(out.read_text()), [json.loads(line) for line in expired.read_text().splitlines()]

    single_flows, single_expired = run()
    assert len(single_expired) == 1 and single_expired[0]["ts"] <= 1_700_000_003  # the oracle's own premise
    sharded_flows, sharded_expired = run("--workers", "2", "--config", str(config))
    assert sharded_expired == single_expired
    assert sharded_flows == single_flows


def test_expired_flows_carry_names_learned_on_another_shard(tmp_path):
    """The DNS answer naming a web server is on one shard, the web flow on the other: its
    expired-flows line still has the server's name and Host, as one process writes it."""
    path = shard_captures.named_web_capture(tmp_path / "names.pcap")

    def expired(*extra: str) -> list[dict]:
        out = tmp_path / f"expired{len(extra)}.jsonl"
        run_cli("--read-pcap", str(path), "--expired-flows-jsonl", str(out), "--flow-timeout-s", "1", *extra)
        return sorted((json.loads(line) for line in out.read_text().splitlines()), key=json.dumps)

    single = expired()
    web_lines = [line for line in single if line["endpoint_b"]["port"] == 80]
    assert len(web_lines) == 1
    assert (web_lines[0]["name_b"], web_lines[0]["http_host"]) == (shard_captures.WEB_NAME,) * 2
    assert expired("--workers", "2") == single


@pytest.mark.parametrize("later_answer_shard", [0, 1])
def test_an_address_named_twice_takes_the_later_name_whichever_shard_saw_it(tmp_path, later_answer_shard):
    path = shard_captures.renamed_web_capture(tmp_path / "renamed.pcap", later_answer_shard)

    def web_name(*extra: str) -> str:
        flows = exports(path, tmp_path, *extra)
        return next(flow["name_b"] for flow in flows if flow["endpoint_b"]["port"] == 80)

    assert web_name() == shard_captures.WEB_NAME
    assert web_name("--workers", "2") == shard_captures.WEB_NAME


@pytest.mark.parametrize(("seed", "slots"), [(0, 100), (1, 32768), (3, 7), (30, 32768)])
def test_random_captures_give_one_process_s_exports_expired_flows_and_alerts(tmp_path, seed, slots):
    """Differential: random flows, names, idle gaps and (seeds 1, 3 and 30) time that steps back,
    through one process and through 2 and 3 shards, with ring slots of a whole batch or less."""
    capture = shard_captures.random_capture(seed, tmp_path / "random.pcap")
    config = tmp_path / "low.toml"
    config.write_text(f"{LOW_THRESHOLDS}[pipeline]\nchannel_capacity = {slots}\n")

    def results(*extra: str) -> tuple:
        out = {name: tmp_path / f"{name}{len(extra)}" for name in ("flows", "expired", "alerts")}
        run_cli("--read-pcap", str(capture), "--config", str(config), "--flow-timeout-s", "1",
                "--export-json", str(out["flows"]), "--expired-flows-jsonl", str(out["expired"]),
                "--alerts-jsonl", str(out["alerts"]), *extra)
        return (json.loads(out["flows"].read_text()), sorted(out["expired"].read_text().splitlines()),
                out["alerts"].read_text().splitlines())

    single = results()
    assert single[0] and len(single[1]) > 50 and single[2]  # the comparison has something to compare
    assert results("--workers", "2") == single
    assert results("--workers", "3") == single


def test_a_late_syn_is_counted_at_the_capture_s_clock_as_one_process_counts_it(tmp_path):
    """The clock the detector runs on is the latest time of any packet so far, including those
    the shards do not hand over (an ACK): without it the late SYN falls out of the window."""
    capture = shard_captures.late_syn_scan_capture(tmp_path / "late.pcap")
    config = tmp_path / "scan.toml"
    config.write_text("[analysis.anomalies]\nenabled = true\n[analysis.anomalies.port_scan]\n"
                      "unique_ports_threshold = 3\nunique_hosts_threshold = 100\n")
    single = alerts(capture, tmp_path, "--config", str(config))
    assert [kind for kind, _, _ in single] == ["port_scan"]
    assert alerts(capture, tmp_path, "--config", str(config), "--workers", "2") == single
