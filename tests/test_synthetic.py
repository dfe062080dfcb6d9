"""`--synthetic-flows N`: the flow table's memory check, run as a user runs it."""

from __future__ import annotations

import re

import pytest

from tests.test_cli import netscope


def test_synthetic_flows_pass_and_fail_budget() -> None:
    ok = netscope("--synthetic-flows", "20000")
    assert ok.returncode == 0 and "Flows inserted:     20,000" in ok.stdout and "PASS" in ok.stdout
    over = netscope("--synthetic-flows", "20000", "--memory-budget-mb", "1")
    assert over.returncode == 2 and "FAIL" in over.stdout


def test_synthetic_flows_zero_reports_no_per_flow_figure() -> None:
    result = netscope("--synthetic-flows", "0")
    assert result.returncode == 0 and "Flows inserted:     0" in result.stdout
    assert "Bytes per flow" not in result.stdout


@pytest.mark.parametrize(("args", "message"), [
    (("--synthetic-flows", "-5"), "error: --synthetic-flows must be >= 0, got -5"),
    (("--synthetic-flows", "10", "--memory-budget-mb", "0"), "error: --memory-budget-mb must be > 0, got 0"),
])
def test_synthetic_flows_rejects_bad_numbers_in_one_line(args: tuple[str, ...], message: str) -> None:
    result = netscope(*args)
    assert result.returncode == 2 and result.stderr.strip() == message and not result.stdout


def test_a_count_far_over_the_budget_stops_once_past_it_and_fails() -> None:
    """50M flows take about 4 GiB; against 200 MiB the check stops after the first batches."""
    result = netscope("--synthetic-flows", "50000000", "--memory-budget-mb", "200")
    assert result.returncode == 2 and "FAIL" in result.stdout
    inserted = int(re.search(r"stopped after ([\d,]+) of 50,000,000 flows", result.stdout)[1].replace(",", ""))
    assert 0 < inserted < 5_000_000
    peak = float(re.search(r"RSS now / peak: +[\d.]+ MiB / ([\d.]+) MiB", result.stdout)[1])
    assert peak < 1024


# 10**11 is ENOMEM, but only where memory is not overcommitted; 2**63 is past numpy's array sizes
@pytest.mark.parametrize("flows", [str(2**63), str(10**22)])
def test_a_table_the_machine_cannot_reserve_is_one_line(flows: str) -> None:
    result = netscope("--synthetic-flows", flows)
    assert result.returncode == 1 and not result.stdout
    assert re.fullmatch(r"error: --synthetic-flows [\d,]+: this machine cannot reserve a flow table that size\n",
                        result.stderr)


def test_flags_the_check_does_not_use_are_named() -> None:
    result = netscope("--synthetic-flows", "1000", "--read-pcap", "x.pcap", "--workers", "2")
    assert result.returncode == 0 and "PASS" in result.stdout
    assert result.stderr == "note: --synthetic-flows ignores --read-pcap, --workers\n"
