from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from netscope.ui import formatting
from netscope.ui.formatting import Units


def test_si_scaling_keeps_three_significant_digits():
    assert formatting.size(0) == "0 B"
    assert formatting.size(999) == "999 B"
    assert formatting.size(1_000) == "1.00 kB"
    assert formatting.size(12_345) == "12.3 kB"
    assert formatting.size(1_532_296) == "1.53 MB"
    assert formatting.size(999_600) == "1.00 MB"  # rounding up crosses the prefix boundary


def test_rates_in_bits_or_bytes():
    assert formatting.rate(1_250_000, Units.BITS) == "10.0 Mb/s"
    assert formatting.rate(1_250_000, Units.BYTES) == "1.25 MB/s"
    assert Units.BITS.toggled() is Units.BYTES and Units.BYTES.toggled() is Units.BITS


@given(st.floats(min_value=0, max_value=1e15, allow_nan=False))
def test_rates_fit_their_column(value):
    assert len(formatting.rate(value, Units.BITS)) <= 10
    assert len(formatting.size(value)) <= 8


def test_counts_are_exact_until_they_would_not_fit():
    assert formatting.count(99_999) == "99,999"
    assert formatting.count(123_456) == "123k"
    assert formatting.count(4_500_000) == "4.50M"


@given(st.floats(min_value=0, max_value=10 * 365 * 86400))
def test_ages_fit_six_cells(seconds):
    assert len(formatting.age(seconds)) <= 6


def test_age_keeps_two_leading_units():
    assert [formatting.age(s) for s in (0, 59, 60, 187, 3600, 18_720, 183_600)] == [
        "0s", "59s", "1m00s", "3m07s", "1h00m", "5h12m", "2d03h"]


def test_flow_durations_keep_what_happens_within_a_second():
    assert [formatting.duration(s) for s in (0, 0.000042, 0.0152, 0.997445, 5.2149, 187)] == [
        "0s", "42µs", "15.2ms", "997ms", "5.21s", "3m07s"]


def test_clock_is_utc_with_microseconds():
    assert formatting.clock(1795408193.126096) == "04:29:53"
    assert formatting.clock(1795408193.126096, micros=True) == "04:29:53.126096"
    assert formatting.date_time(1795408193.5) == "2026-11-23 04:29:53.500000 UTC"


def test_speed_endpoint_and_squeeze():
    assert formatting.speed(0) == "max" and formatting.speed(10) == "10×"
    assert formatting.endpoint("10.0.0.1", 80) == "10.0.0.1:80"
    assert formatting.endpoint("2001:db8::1", 443) == "[2001:db8::1]:443"
    squeezed = formatting.squeeze("[2001:db8:1234:5678::abcd]:443", 15)
    assert len(squeezed) == 15 and squeezed.startswith("[2001:") and squeezed.endswith("]:443")
    assert formatting.squeeze("short", 10) == "short"


def test_round_trip_times_keep_three_digits_and_fit_the_column():
    assert formatting.millis(None) == formatting.MISSING
    assert formatting.millis(0.42) == "0.42ms"
    assert formatting.millis(12.34) == "12.3ms"
    assert formatting.millis(250) == "250ms"
    assert formatting.millis(999.6) == "1.00s"  # rounding up crosses to seconds
    assert formatting.millis(12_000) == "12.0s"
    assert formatting.millis(0.042) == "42µs"  # loopback: 0.04ms would hide the digits
    assert formatting.millis(0.0042) == "4.2µs"
    assert formatting.millis(0.0995) == "0.10ms" and formatting.millis(0.0994) == "99µs"
    assert formatting.millis(0.0) == "<1µs"
    assert formatting.optional_count(None) == formatting.MISSING and formatting.optional_count(3) == "3"


@given(st.floats(min_value=0, max_value=99_999_000))
def test_round_trip_time_is_at_most_six_cells(ms):
    assert len(formatting.millis(ms)) <= 6
