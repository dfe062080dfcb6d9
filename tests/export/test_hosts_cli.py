"""`--export-hosts` from the command line: refused up front when it cannot be written (Ctrl-C:
tests/test_cli.py's stream test writes it too)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.test_cli import _one_error_line, netscope


@pytest.mark.parametrize(("where", "code", "named"), [
    ("{tmp}/no/dir/hosts.csv", 1, "cannot write host export {tmp}/no/dir/hosts.csv: No such file or directory"),
    ("{capture}", 2, "output.export_hosts_csv {capture} is the capture being read (--export-hosts)"),
    ("{tmp}/flows.csv", 2, "output.export_hosts_csv {tmp}/flows.csv is output.export_csv as well (--export-hosts)"),
])
def test_a_host_export_that_cannot_be_written_is_refused_before_anything_is_read(
        sample_pcap: Path, tmp_path: Path, where: str, code: int, named: str) -> None:
    capture = tmp_path / "in.pcap"
    capture.write_bytes(sample_pcap.read_bytes())
    names = {"tmp": str(tmp_path), "capture": str(capture)}
    result = netscope("--headless", "--read-pcap", str(capture), "--export-csv", str(tmp_path / "flows.csv"),
                      "--export-hosts", where.format(**names))
    _one_error_line(result, code, named.format(**names))
    assert len(result.stderr.splitlines()) == 1 and "Packets captured" not in result.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.pcap"]  # the flow export was not written either
    assert capture.read_bytes() == sample_pcap.read_bytes()


def test_a_host_export_to_a_directory_fails_at_exit_as_a_flow_export_does(sample_pcap: Path, tmp_path: Path) -> None:
    """A directory passes the start-up check (it is no file to try, as a FIFO is not): the run
    goes on, the other exports are written, and the host export is the one error line."""
    directory, flows = tmp_path / "hosts", tmp_path / "flows.csv"
    directory.mkdir()
    result = netscope("--headless", "--read-pcap", str(sample_pcap), "--export-hosts", str(directory),
                      "--export-csv", str(flows))
    _one_error_line(result, 1, f"cannot write host export {directory}: Is a directory")
    assert re.search(r"Packets captured +3,413\b", result.stdout)
    assert len(flows.read_text().splitlines()) == 166
