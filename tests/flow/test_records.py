"""Address text: the column formatter against the standard library's ipaddress, for both versions."""

import ipaddress

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from netscope.flow.records import format_ip, format_ips

address = st.one_of(st.tuples(st.just(4), st.integers(0, 2**32 - 1)), st.tuples(st.just(6), st.integers(0, 2**128 - 1)))


@given(st.lists(address, max_size=20))
def test_format_ips_equals_ipaddress(addresses):
    version = np.array([v for v, _ in addresses], np.uint8)
    hi = np.array([value >> 64 for _, value in addresses], np.uint64)
    lo = np.array([value & (2**64 - 1) for _, value in addresses], np.uint64)
    expected = [str(ipaddress.ip_address(value) if v == 4 else ipaddress.IPv6Address(value)) for v, value in addresses]
    assert format_ips(version, hi, lo) == expected
    assert [format_ip(v, int(h), int(low)) for v, h, low in zip(version.tolist(), hi, lo, strict=True)] == expected
