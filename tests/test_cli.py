"""The headless CLI end to end: exports against tshark, bad input, Ctrl-C, live capture on lo."""

from __future__ import annotations

import csv
import ipaddress
import json
import os
import pty
import re
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.tshark_oracle import export_flows, netscope_flows, tshark_flows

DATA = Path(__file__).parent / "data"


def netscope(*args: str, timeout: float = 120, **kwargs) -> subprocess.CompletedProcess:
    kwargs.setdefault("text", True)
    return subprocess.run([sys.executable, "-m", "netscope", *args], capture_output=True, timeout=timeout, **kwargs)


def export_of(capture: Path, tmp_path: Path, *extra: str) -> list[dict]:
    out = tmp_path / "flows.json"
    result = netscope("--headless", "--read-pcap", str(capture), "--export-json", str(out), *extra)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    return json.loads(out.read_text())


def test_sample_export_matches_the_shared_tshark_table(sample_pcap: Path, tmp_path: Path) -> None:
    expected = json.loads((DATA / "sample.flows.json").read_text())
    want = {(r["proto"], r["a"][0], r["a"][1], r["b"][0], r["b"][1]):
            (r["pkts_ab"], r["pkts_ba"], r["bytes_ab"], r["bytes_ba"]) for r in expected}
    assert export_flows(export_of(sample_pcap, tmp_path)) == want


@pytest.mark.parametrize("kind", ["vlan", "snap96", "snap68", "pcapng", "pcapng-snap96", "nsec"])
def test_variant_exports_match_tshark(kind: str, make_variant, require_tool, tmp_path: Path) -> None:
    require_tool("tshark")
    capture = make_variant(kind)
    assert export_flows(export_of(capture, tmp_path)) == tshark_flows(capture)


def test_fragmented_udp_counts_first_fragments_as_tshark_does(require_tool, tmp_path: Path) -> None:
    """4000-byte UDP datagrams over a 1500-byte MTU veth, IPv4 and IPv6, to a closed port (so ICMP
    errors quote their UDP headers): only first fragments carry ports, as in the reference."""
    require_tool("tshark")
    capture = DATA / "udp-fragments-v4-v6.pcap"
    assert export_flows(export_of(capture, tmp_path)) == tshark_flows(capture)
    summary = netscope("--headless", "--read-pcap", str(capture)).stdout
    assert re.search(r"non-initial fragment +20\b", summary), summary


def test_filter_and_count(sample_pcap: Path, tmp_path: Path) -> None:
    udp_only = export_of(sample_pcap, tmp_path, "-f", "udp")
    assert udp_only and {r["protocol"] for r in udp_only} == {"udp"}
    first_100 = export_of(sample_pcap, tmp_path, "-c", "100")
    assert sum(r["packets_total"] for r in first_100) <= 100


def test_truncated_capture_processes_what_is_readable(make_variant, tmp_path: Path) -> None:
    capture = make_variant("truncated")
    out = tmp_path / "flows.json"
    result = netscope("--headless", "--read-pcap", str(capture), "--export-json", str(out))
    assert result.returncode == 0, result.stderr
    assert "warning:" in result.stderr and "Traceback" not in result.stderr
    assert sum(r["packets_total"] for r in json.loads(out.read_text())) > 1000


def _one_error_line(result: subprocess.CompletedProcess, code: int, text: str) -> None:
    assert result.returncode == code, (result.stdout, result.stderr)
    lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and text in lines[0], result.stderr
    assert "Traceback" not in result.stderr


def test_bad_input_is_one_line_and_nonzero(tmp_path: Path) -> None:
    not_capture = tmp_path / "notes.txt"
    not_capture.write_text("hello, this is not a capture\n" * 10)
    bad_config = tmp_path / "bad.toml"
    bad_config.write_text("[flow]\nmax_flow = 3\n")
    wrong_value = tmp_path / "wrong.toml"
    wrong_value.write_text("[flow]\ntimeout_secs = 'soon'\n")
    _one_error_line(netscope("--headless", "--read-pcap", str(tmp_path / "missing.pcap")), 1, "missing.pcap")
    _one_error_line(netscope("--headless", "--read-pcap", str(not_capture)), 1, "notes.txt")
    _one_error_line(netscope("--headless", "--read-pcap", str(not_capture), "-f", "tcp prt 80"), 1, "")
    _one_error_line(netscope("--headless", "--config", str(bad_config)), 2, "flow.max_flow")
    _one_error_line(netscope("--headless", "--config", str(wrong_value)), 2, "flow.timeout_secs")
    _one_error_line(netscope("--headless", "-i", "nosuchif0"), 1, "nosuchif0")


@pytest.mark.parametrize(("args", "named"), [
    (("--top-flows", "many"), "--top-flows"),
    (("--bogus",), "--bogus"),
    (("--replay-speed", "fast"), "--replay-speed"),
    # each of these clears the other, so both would have meant neither: a live run on the default interface
    (("-i", "lo", "--read-pcap", "x.pcap"), "--read-pcap"),
])
def test_usage_errors_are_one_line_too(args: tuple[str, ...], named: str) -> None:
    result = netscope("--headless", *args)
    _one_error_line(result, 2, named)
    assert len(result.stderr.splitlines()) == 1, result.stderr


def test_a_pcapng_of_two_link_types_is_read_from_a_file_and_refused_in_a_stream(
        sample_pcap: Path, require_tool, tmp_path: Path) -> None:
    """A pcapng mixing Ethernet and raw-IP interfaces: libpcap refuses it before the first packet,
    netscope reads the file itself (capture/mixed_links.py) as tshark does; a stream cannot be."""
    require_tool("editcap")
    require_tool("mergecap")
    require_tool("tshark")
    ethernet, raw_ip, mixed = tmp_path / "eth.pcapng", tmp_path / "raw.pcapng", tmp_path / "mixed.pcapng"
    subprocess.run(["editcap", "-F", "pcapng", str(sample_pcap), str(ethernet)], check=True)
    subprocess.run(["editcap", "-C", "14", "-T", "rawip", "-F", "pcapng", str(sample_pcap), str(raw_ip)], check=True)
    subprocess.run(["mergecap", "-w", str(mixed), str(ethernet), str(raw_ip)], check=True)
    assert netscope_flows(mixed, tmp_path / "flows.json", "--flow-timeout-s", "0") == tshark_flows(mixed)
    with mixed.open("rb") as piped:
        _one_error_line(netscope("--headless", "--read-pcap", "-", stdin=piped), 1,
                        "an interface of link type 101 after one of link type 1; netscope reads a pcapng of "
                        "several link types from a regular file")


def test_a_capture_piped_in_on_stdin_is_read_as_tcpdump_r_does(sample_pcap: Path, tmp_path: Path) -> None:
    from_file, from_pipe = tmp_path / "file.json", tmp_path / "pipe.json"
    assert netscope("--headless", "--read-pcap", str(sample_pcap), "--export-json", str(from_file)).returncode == 0
    piped = netscope("--read-pcap", "-", "--export-json", str(from_pipe), input=sample_pcap.read_bytes(), text=False)
    assert piped.returncode == 0, piped.stderr
    # a stream arrives in other batches than the file, which moves the last bits of RTT averages
    piped_flows, file_flows = json.loads(from_pipe.read_text()), json.loads(from_file.read_text())
    assert len(piped_flows) == len(file_flows) == 165
    for ours, theirs in zip(piped_flows, file_flows, strict=True):
        assert ours == {key: pytest.approx(value, rel=1e-9) if isinstance(value, float) else value
                        for key, value in theirs.items()}


def test_a_stream_cut_mid_record_or_stopped_keeps_every_complete_packet(sample_pcap: Path, tmp_path: Path) -> None:
    """A stream cannot be read again up to the damage as a file can: what arrived whole counts."""
    cut = netscope("--read-pcap", "-", input=sample_pcap.read_bytes()[:100_000], text=False)
    assert cut.returncode == 0 and b"Traceback" not in cut.stderr
    assert re.search(rb"warning: - ended or was damaged inside a record at byte 99,950; the 692 complete", cut.stderr)
    assert re.search(rb"Packets captured +692\b", cut.stdout)
    # a writer that keeps the pipe open (tcpdump -U -w -): Ctrl-C ends the run with what arrived
    exported, hosts = tmp_path / "flows.json", tmp_path / "hosts.csv"
    writer = subprocess.Popen(["sh", "-c", f'cat "{sample_pcap}"; sleep 30'], stdout=subprocess.PIPE)
    try:
        reader = subprocess.Popen([sys.executable, "-m", "netscope", "--read-pcap", "-", "--export-json", str(exported),
                                   "--export-hosts", str(hosts), "--stats", "--stats-interval-ms", "100"],
                                  stdin=writer.stdout,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        stats = reader.stdout.readline() + reader.stdout.readline() + reader.stdout.readline()
        while "[stats]" not in stats or " 0 flows" in stats.splitlines()[-1]:  # the packets are being processed
            stats += reader.stdout.readline()
        reader.send_signal(signal.SIGINT)
        out, err = reader.communicate(timeout=20)
    finally:
        writer.kill()
        writer.wait()
    assert reader.returncode == 0, err
    assert re.search(r"Packets captured +3,413\b", out) and "error" not in err and "Export (hosts CSV)" in out
    assert len(json.loads(exported.read_text())) == 165
    with hosts.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [row["address"] for row in rows] == ["10.88.0.1", "10.88.0.2", "fd00:88::1", "fd00:88::2"]
    assert sum(int(row["flows"]) for row in rows) == 2 * 165
    assert sum(int(row["bytes"]) for row in rows) == 2 * (1455830 + 71640)


def test_stdin_that_is_not_a_terminal_means_headless_even_on_a_terminal(sample_pcap: Path) -> None:
    """The screen reads keys from stdin: with the capture piped in there it would have none."""
    leader, follower = pty.openpty()
    try:
        proc = subprocess.Popen([sys.executable, "-m", "netscope", "--read-pcap", "-"], stdin=subprocess.PIPE,
                                stdout=follower, stderr=follower)
        os.close(follower)
        proc.stdin.write(sample_pcap.read_bytes())
        proc.stdin.close()
        output = _read_until_closed(leader)
        assert proc.wait(timeout=60) == 0, output
    finally:
        os.close(leader)
    text = output.decode(errors="replace")
    assert "Packets captured" in text and "3,413" in text and "Traceback" not in text


def test_outputs_on_stdout_keep_the_report_off_it(sample_pcap: Path, tmp_path: Path) -> None:
    """As with tcpdump -w -: the pcap (or JSON) on stdout, the report on stderr."""
    pcap = netscope("--headless", "--read-pcap", str(sample_pcap), "--write-pcap", "/dev/stdout", text=False)
    assert pcap.returncode == 0, pcap.stderr
    assert pcap.stdout == sample_pcap.read_bytes()  # the same pcap, byte for byte
    assert b"Packets captured" in pcap.stderr
    exported = netscope("--headless", "--read-pcap", str(sample_pcap), "--export-json", "/dev/stdout")
    assert len(json.loads(exported.stdout)) == 165 and "Packets captured" in exported.stderr


def test_an_output_on_a_terminal_stdout_runs_headless(sample_pcap: Path) -> None:
    """The export goes where the screen would draw: no screen then, as with stdin not a terminal."""
    leader, follower = pty.openpty()
    try:
        proc = subprocess.Popen([sys.executable, "-m", "netscope", "--read-pcap", str(sample_pcap),
                                 "--export-json", "/dev/stdout"], stdin=follower, stdout=follower, stderr=follower)
        os.close(follower)
        output = _read_until_closed(leader)
        assert proc.wait(timeout=10) == 0, output
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(leader)
    text = output.decode(errors="replace")
    assert '"protocol": "tcp"' in text and "Packets captured" in text and "Traceback" not in text


def _read_until_closed(fd: int, timeout_s: float = 60) -> bytes:
    """Everything written to a pty until its last writer closes it, or until `timeout_s` (a
    screen that started would keep it open: the caller's assertions then fail, nothing hangs)."""
    output, deadline = b"", time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not select.select([fd], [], [], 0.5)[0]:
            continue
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # the pty's last writer is gone
            return output
        if not chunk:
            return output
        output += chunk
    return output


def test_two_exports_to_a_redirected_stdout_both_arrive(sample_pcap: Path, tmp_path: Path) -> None:
    """Opened anew, /dev/stdout truncated the file stdout goes to; it is now written through fd 1."""
    out = tmp_path / "both.txt"
    with out.open("w") as stdout:
        result = subprocess.run([sys.executable, "-m", "netscope", "--headless", "--read-pcap", str(sample_pcap),
                                 "--export-json", "/dev/stdout", "--export-csv", "/dev/stdout"],
                                stdout=stdout, stderr=subprocess.PIPE, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    text = out.read_text()
    json_end = text.index("]\n") + 2
    assert len(json.loads(text[:json_end])) == 165
    assert len(list(csv.DictReader(text[json_end:].splitlines()))) == 165


def test_invalid_filter_is_named(sample_pcap: Path) -> None:
    _one_error_line(netscope("--headless", "--read-pcap", str(sample_pcap), "-f", "tcp prt 80"), 1, "tcp prt 80")


def test_unwritable_export_is_reported_before_anything_is_read(sample_pcap: Path, tmp_path: Path) -> None:
    result = netscope("--headless", "--read-pcap", str(sample_pcap), "--export-json",
                      str(tmp_path / "no" / "dir" / "f.json"))
    _one_error_line(result, 1, "f.json")
    assert "Packets captured" not in result.stdout


def test_a_run_refused_at_start_leaves_export_files_as_they_were(sample_pcap: Path, tmp_path: Path) -> None:
    kept, missing = tmp_path / "kept.json", tmp_path / "missing.csv"
    kept.write_text("[earlier export]")
    result = netscope("--headless", "--read-pcap", str(sample_pcap), "--export-json", str(kept),
                      "--export-csv", str(missing), "--anomalies", "--alerts-jsonl", str(tmp_path / "no" / "a.jsonl"))
    _one_error_line(result, 1, "a.jsonl")
    assert kept.read_text() == "[earlier export]" and not missing.exists()
    # streamed outputs too: a pcap path refused after them must not have emptied them
    alerts, expired = tmp_path / "alerts.jsonl", tmp_path / "expired.jsonl"
    alerts.write_text('{"earlier": 1}\n')
    expired.write_text('{"earlier": 2}\n')
    result = netscope("--headless", "--read-pcap", str(sample_pcap), "--anomalies", "--alerts-jsonl", str(alerts),
                      "--expired-flows-jsonl", str(expired), "--write-pcap", str(tmp_path / "no" / "x.pcap"))
    _one_error_line(result, 1, "x.pcap")
    assert alerts.read_text() == '{"earlier": 1}\n' and expired.read_text() == '{"earlier": 2}\n'


def _file_size_limit(limit: int):
    """For preexec_fn: writes past `limit` bytes fail with EFBIG, as on a full disk (SIGXFSZ ignored)."""
    def apply() -> None:
        import resource
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return apply


def test_a_pcap_output_that_fills_up_keeps_the_summary_the_exports_and_whole_records(
        sample_pcap: Path, require_tool, tmp_path: Path) -> None:
    require_tool("capinfos")
    written, export = tmp_path / "copy.pcap", tmp_path / "flows.json"
    result = netscope("--headless", "--read-pcap", str(sample_pcap), "--write-pcap", str(written),
                      "--export-json", str(export), preexec_fn=_file_size_limit(300_000))
    _one_error_line(result, 1, "copy.pcap")
    assert re.search(r"Packets captured +3,413", result.stdout)  # the summary of the whole replay
    assert len(json.loads(export.read_text())) == 165  # the batch the pcap refused still counted
    info = subprocess.run(["capinfos", "-c", "-M", str(written)], capture_output=True, text=True)
    assert info.returncode == 0 and "cut short" not in info.stderr, info.stderr  # whole records only
    assert 0 < int(info.stdout.split("Number of packets:")[1].split()[0]) < 3413


def _udp_burst(port: int, count: int, stop: threading.Event) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
        for i in range(count):
            sender.sendto(b"x" * (10 + i % 7), ("127.0.0.1", port))
            time.sleep(0.002)
    stop.set()


def _free_port(kind: int) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.timeout(90)
def test_live_capture_on_lo_counts_udp_and_tcp_then_ctrl_c_writes_exports(require_root, tmp_path: Path) -> None:
    udp_port, tcp_port = _free_port(socket.SOCK_DGRAM), _free_port(socket.SOCK_STREAM)
    out = tmp_path / "live.json"
    proc = subprocess.Popen(
        [sys.executable, "-m", "netscope", "--headless", "-i", "lo", "-f",
         f"udp port {udp_port} or tcp port {tcp_port}", "--export-json", str(out), "--stats"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:  # the first stats line says the handle is open
            line = proc.stdout.readline()
            if line.startswith("[stats]"):
                break
        server = socket.socket()
        server.bind(("127.0.0.1", tcp_port))
        server.listen(1)
        client = socket.create_connection(("127.0.0.1", tcp_port))
        conn, _ = server.accept()
        client.sendall(b"hello over tcp")
        assert conn.recv(100) == b"hello over tcp"
        client.close()
        conn.close()
        server.close()
        done = threading.Event()
        _udp_burst(udp_port, 50, done)
        time.sleep(1.5)
        proc.send_signal(signal.SIGINT)
        _stdout, stderr = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, stderr
    assert "Traceback" not in stderr
    flows = json.loads(out.read_text())
    udp = [r for r in flows if r["protocol"] == "udp" and udp_port in (r["endpoint_a"]["port"],
                                                                      r["endpoint_b"]["port"])]
    tcp = [r for r in flows if r["protocol"] == "tcp" and tcp_port in (r["endpoint_a"]["port"],
                                                                      r["endpoint_b"]["port"])]
    assert len(udp) == 1 and udp[0]["packets_total"] == 50
    assert udp[0]["bytes_total"] == sum(14 + 20 + 8 + 10 + i % 7 for i in range(50))
    assert len(tcp) == 1 and tcp[0]["client"] is not None
    assert tcp[0]["tcp_state"] in ("closed", "fin_wait") and tcp[0]["packets_total"] >= 8


@pytest.mark.timeout(60)
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
@pytest.mark.parametrize("workers", [0, 2])
def test_termination_signals_stop_like_ctrl_c_and_write_exports(require_root, tmp_path: Path, signum: int,
                                                                 workers: int) -> None:
    """`kill`, `timeout` and service managers send SIGTERM, a closed terminal SIGHUP; sent to the
    whole process group, they reach the pipeline workers too, which must leave it to the reader."""
    udp_port = _free_port(socket.SOCK_DGRAM)
    out = tmp_path / "live.json"
    proc = subprocess.Popen(
        [sys.executable, "-m", "netscope", "--headless", "-i", "lo", "-f", f"udp port {udp_port}",
         "--export-json", str(out), *(["--workers", str(workers)] if workers else [])],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        assert proc.stdout.readline().startswith("netscope")  # printed once capture has started
        _udp_burst(udp_port, 30, threading.Event())
        time.sleep(1.0)
        os.killpg(proc.pid, signum)
        stdout, stderr = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, stderr
    assert "Traceback" not in stderr
    said = "Termination request" if signum == signal.SIGTERM else "Hangup"
    assert stderr.splitlines()[0] == f"{said} received, stopping capture..."  # one line, none blank
    assert "30" in next(line for line in stdout.splitlines() if line.startswith("Packets captured"))
    assert sum(flow["packets_total"] for flow in json.loads(out.read_text())) == 30


def test_list_interfaces_shows_lo() -> None:
    result = netscope("--list-interfaces")
    assert result.returncode == 0 and any(line.startswith("lo ") for line in result.stdout.splitlines())


def test_default_run_without_privilege_replays_the_bundled_sample(tmp_path: Path) -> None:
    if os.geteuid() == 0 and not Path("/usr/sbin/capsh").exists() and not Path("/sbin/capsh").exists():
        pytest.skip("root without capsh: cannot drop CAP_NET_RAW to see the unprivileged default")
    command = [sys.executable, "-m", "netscope", "--headless", "-q"]
    if os.geteuid() == 0:
        command = ["capsh", "--drop=cap_net_raw", "--", "-c", " ".join(command)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "bundled sample" in result.stderr and "3,413" in result.stdout


def test_exported_handshake_rtt_equals_tshark_initial_rtt(sample_pcap: Path, require_tool, tmp_path: Path) -> None:
    require_tool("tshark")
    out = subprocess.run(["tshark", "-r", str(sample_pcap), "-n", "-Y", "tcp.analysis.initial_rtt", "-T", "fields",
                          "-e", "ip.src", "-e", "ipv6.src", "-e", "tcp.srcport", "-e", "ip.dst", "-e", "ipv6.dst",
                          "-e", "tcp.dstport", "-e", "tcp.analysis.initial_rtt"],
                         capture_output=True, text=True, check=True).stdout
    expected = {}
    for line in out.splitlines():
        s4, s6, sp, d4, d6, dp, rtt = line.split("\t")
        ends = sorted([(s4 or s6, int(sp)), (d4 or d6, int(dp))], key=lambda e: (ipaddress.ip_address(e[0]).version,
                                                                          int(ipaddress.ip_address(e[0])), e[1]))
        expected[(ends[0], ends[1])] = round(float(rtt) * 1000, 3)
    records = export_of(sample_pcap, tmp_path)
    got = {((r["endpoint_a"]["ip"], r["endpoint_a"]["port"]), (r["endpoint_b"]["ip"], r["endpoint_b"]["port"])):
           round(r["rtt_handshake_ms"], 3) for r in records if r["rtt_handshake_ms"] is not None}
    assert expected and got == expected


def test_write_pcap_with_rotation_reads_back_in_tshark(sample_pcap: Path, require_tool, tmp_path: Path) -> None:
    require_tool("tshark")
    base = tmp_path / "ring.pcap"
    result = netscope("--headless", "-q", "--read-pcap", str(sample_pcap), "--write-pcap", str(base),
                      "--write-pcap-rotate-mb", "1", "--write-pcap-max-files", "5")
    assert result.returncode == 0, result.stderr
    segments = sorted(tmp_path.glob("ring.*.pcap"))
    assert [s.name for s in segments] == ["ring.000001.pcap", "ring.000002.pcap"] and not base.exists()
    counts = [len(subprocess.run(["tshark", "-r", str(s), "-T", "fields", "-e", "frame.len"], capture_output=True,
                                 text=True, check=True).stdout.split()) for s in segments]
    assert sum(counts) == 3413


def test_rotation_without_a_pcap_path_is_a_named_config_error(sample_pcap: Path) -> None:
    _one_error_line(netscope("--headless", "--read-pcap", str(sample_pcap), "--write-pcap-rotate-mb", "1",
                             "--write-pcap-max-files", "2"), 2, "output.write_pcap")


def test_a_bad_value_names_the_key_and_the_flag_that_set_it(tmp_path: Path) -> None:
    result = netscope("--headless", "--workers", "99999")
    assert result.returncode == 2
    assert result.stderr == "error: pipeline.workers must be between 0 and 64 (0 = auto), got 99999 (--workers)\n"
    config = tmp_path / "netscope.toml"
    config.write_text("[pipeline]\nworkers = 99999\n")
    from_file = netscope("--headless", "--config", str(config))
    assert from_file.stderr == "error: pipeline.workers must be between 0 and 64 (0 = auto), got 99999\n"


def test_flags_a_replay_has_no_use_for_are_named(sample_pcap: Path) -> None:
    result = netscope("--headless", "--read-pcap", str(sample_pcap), "-p", "-s", "100", "--replay-speed", "2",
                      "--no-reverse-dns")
    assert result.returncode == 0
    assert result.stderr.splitlines() == [
        "note: --replay-speed paces the screen; a headless replay runs as fast as it can",
        "note: --promiscuous, --snaplen apply to live capture only",
        "note: --reverse-dns names the addresses on the screen of a live capture only"]
