"""Config: defaults <- TOML <- flags, validated once, errors naming the key."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from netscope.cli import load_config, merge_flags
from netscope.config import Config, ConfigError, from_dict, iter_keys, live_snaplen, load_file, validate

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

EXAMPLE = Path(__file__).resolve().parent.parent / "config.example.toml"


def test_example_lists_every_key_with_its_default() -> None:
    text = EXAMPLE.read_text()
    active = tomllib.loads(text)
    section = ""
    mentioned = set()
    for line in text.splitlines():
        if m := re.match(r"^\[(.+)\]", line):
            section = m.group(1)
        elif m := re.match(r"^#?\s*([a-z_]+)\s*=", line):
            mentioned.add(f"{section}.{m.group(1)}")
    for key, default in iter_keys():
        assert key in mentioned, f"{key} missing from config.example.toml"
        node = active
        for part in key.split("."):
            node = node.get(part, {}) if isinstance(node, dict) else {}
        if default is None:
            assert node == {}, f"{key} has no default, so it must be commented out"
        else:
            assert node == default, f"{key}: example says {node!r}, default is {default!r}"
    assert validate(from_dict(active)) == Config()


def test_unknown_key_is_named(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text("[flow]\ntimeout_sec = 5\n")
    with pytest.raises(ConfigError, match=r"unknown config key 'flow\.timeout_sec'"):
        load_file(path)


def test_unknown_section_is_named() -> None:
    with pytest.raises(ConfigError, match="unknown config key 'flws'"):
        from_dict({"flws": {}})


@pytest.mark.parametrize(("data", "message"), [
    # the value as the file spells it: true, not Python's True
    ({"flow": {"max_flows": "many"}}, r'^flow\.max_flows: expected an integer, got "many"$'),
    ({"capture": {"promiscuous": 1}}, r"^capture\.promiscuous: expected a boolean, got 1$"),
    ({"stats": {"enabled": "yes"}}, r'^stats\.enabled: expected a boolean, got "yes"$'),
    ({"flow": {"timeout_secs": True}}, r"^flow\.timeout_secs: expected a number, got true$"),
    ({"flow": {"max_flows": [1, "x"]}}, r'^flow\.max_flows: expected an integer, got \[1, "x"\]$'),
    ({"flow": {"max_flows": {"a": 1}}}, r"^flow\.max_flows: expected an integer, got a table$"),
    ({"capture": "eth0"}, r'^capture: expected a table \[capture\], got "eth0"$'),
])
def test_wrong_type_is_named(data: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        from_dict(data)


@pytest.mark.parametrize(("data", "message"), [
    ({"capture": {"snaplen": 0}}, r"capture\.snaplen must be > 0"),
    ({"flow": {"timeout_secs": -1}}, r"flow\.timeout_secs must be between 0 and 3153600000 seconds"),
    ({"flow": {"timeout_secs": float("inf")}}, r"flow\.timeout_secs must be between 0 .*, got inf$"),
    ({"flow": {"timeout_secs": 1e308}}, r"flow\.timeout_secs must be between 0 .*, got 1e\+308$"),
    ({"flow": {"timeout_secs": float("nan")}}, r"flow\.timeout_secs must be between 0 .*, got nan$"),
    ({"flow": {"max_flows": 2**30 + 1}}, r"flow\.max_flows must be between 0 and 1073741824"),
    ({"analysis": {"anomalies": {"syn_flood": {"syn_threshold": -5}}}},
     r"analysis\.anomalies\.syn_flood\.syn_threshold must be between 0 and 4294967295, got -5"),
    ({"analysis": {"anomalies": {"port_scan": {"unique_hosts_threshold": 2**32}}}},
     r"analysis\.anomalies\.port_scan\.unique_hosts_threshold must be between 0 and 4294967295"),
    ({"tui": {"tick_ms": 5}}, r"tui\.tick_ms must be >= 16"),
    ({"capture": {"interface": "lo", "read_pcap": "x.pcap"}}, "mutually exclusive"),
    # Past what libpcap's int arguments hold: an overflow deep in the capture, before these checks.
    ({"capture": {"timeout_ms": 2**31}}, r"capture\.timeout_ms must be between 0 and 2147483647"),
    ({"capture": {"buffer_size_mb": 2048}}, r"capture\.buffer_size_mb must be between 0 and 2047"),
    ({"pipeline": {"channel_capacity": 2**20 + 1}}, r"pipeline\.channel_capacity must be between 1 and 1048576"),
    ({"pipeline": {"workers": 65}}, r"pipeline\.workers must be between 0 and 64 \(0 = auto\), got 65"),
])
def test_bad_values_are_named(data: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        validate(from_dict(data))


def test_ints_are_accepted_for_floats_and_empty_path_means_unset() -> None:
    config = from_dict({"flow": {"timeout_secs": 5}, "output": {"export_json": ""}})
    assert config.flow.timeout_secs == 5.0 and isinstance(config.flow.timeout_secs, float)
    assert config.output.export_json is None


def test_unreadable_and_invalid_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read config file"):
        load_file(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[flow\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_file(bad)
    bad.write_bytes(b"\xff\xfe[flow]\n")  # UTF-16 or Latin-1, say
    with pytest.raises(ConfigError, match="not valid TOML: not UTF-8 \\(byte 0xff at offset 0\\)"):
        load_file(bad)


def test_flags_override_file_and_sources_clear_each_other(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[capture]\ninterface = "lo"\n[flow]\nmax_flows = 10\ntimeout_secs = 3.0\n')
    config = load_config({"config": str(path), "read_pcap": "x.pcap", "max_flows": 20})
    assert config.capture.read_pcap == "x.pcap" and config.capture.interface is None
    assert config.flow.max_flows == 20 and config.flow.timeout_secs == 3.0


def test_flag_pairs_only_apply_when_given() -> None:
    base = Config().replace("capture", promiscuous=False)
    assert merge_flags(base, {}).capture.promiscuous is False
    assert merge_flags(base, {"promiscuous": True}).capture.promiscuous is True


def test_zero_buffer_size_means_unset() -> None:
    assert validate(from_dict({"capture": {"buffer_size_mb": 0}})).capture.buffer_size_mb is None


@pytest.mark.parametrize(("outputs", "message"), [
    ({"output": {"write_pcap": "{capture}"}}, "output.write_pcap {capture} is the capture being read"),
    ({"analysis": {"alerts_jsonl": "{dir}/./in.pcap"}},
     "analysis.alerts_jsonl {dir}/./in.pcap is the capture being read"),
    ({"output": {"export_json": "{link}"}}, "output.export_json {link} is the capture being read"),
    ({"output": {"export_json": "{dir}/flows", "export_csv": "{dir}/flows"}},
     "output.export_csv {dir}/flows is output.export_json as well"),
    ({"output": {"export_hosts_csv": "{capture}"}}, "output.export_hosts_csv {capture} is the capture being read"),
    ({"output": {"export_csv": "{dir}/out.csv", "export_hosts_csv": "{dir}/out.csv"}},
     "output.export_hosts_csv {dir}/out.csv is output.export_csv as well"),
])
def test_an_output_may_not_clobber_the_capture_or_another_output(tmp_path: Path, outputs: dict, message: str) -> None:
    capture = tmp_path / "in.pcap"
    capture.write_bytes(b"\xd4\xc3\xb2\xa1")
    link = tmp_path / "link.pcap"
    link.symlink_to(capture)
    names = {"capture": str(capture), "dir": str(tmp_path), "link": str(link)}
    filled = {section: {key: value.format(**names) for key, value in keys.items()} for section, keys in outputs.items()}
    data = {"capture": {"read_pcap": str(capture)}, **filled}
    with pytest.raises(ConfigError) as err:
        validate(from_dict(data))
    assert str(err.value) == message.format(**names)
    assert capture.read_bytes() == b"\xd4\xc3\xb2\xa1"


def test_a_rotating_capture_may_not_reach_the_capture_being_read(tmp_path: Path) -> None:
    """Rotation deletes the oldest segments, earlier runs' included: one of them, or a hard link
    to one, must not be what the run reads (nor any other output)."""
    ring = tmp_path / "w.pcap"
    segment = tmp_path / "w.000001.pcap"
    segment.write_bytes(b"\xd4\xc3\xb2\xa1")
    (tmp_path / "copy.pcap").hardlink_to(segment)
    rotation = {"write_pcap": str(ring), "write_pcap_rotate_mb": 1, "write_pcap_max_files": 1}
    for read, output in ((segment, {}), (tmp_path / "copy.pcap", {}), (tmp_path / "other.pcap",
                                                                     {"export_json": str(tmp_path / "w.7.pcap")})):
        data = {"capture": {"read_pcap": str(read)}, "output": {**rotation, **output}}
        with pytest.raises(ConfigError, match=r"is a segment of the output\.write_pcap ring .*w\.pcap"):
            validate(from_dict(data))
    unrotated = {"capture": {"read_pcap": str(segment)}, "output": {"write_pcap": str(ring)}}
    assert validate(from_dict(unrotated)).output.write_pcap == str(ring)  # one file, w.pcap: no ring


def test_devices_may_take_several_outputs() -> None:
    validate(from_dict({"output": {"export_json": "/dev/stdout", "export_csv": "/dev/stdout"}}))
    validate(from_dict({"output": {"export_csv": "/dev/stdout", "export_hosts_csv": "/dev/stdout"}}))


def test_the_host_export_is_a_path_key_like_the_flow_exports() -> None:
    assert from_dict({"output": {"export_hosts_csv": ""}}).output.export_hosts_csv is None
    assert merge_flags(Config(), {"export_hosts": "h.csv"}).output.export_hosts_csv == "h.csv"
    assert merge_flags(Config().replace("output", export_hosts_csv="h.csv"),
                       {"export_hosts": ""}).output.export_hosts_csv is None
    with pytest.raises(ConfigError, match=r"^output\.export_hosts_csv: expected a string, got 3$"):
        from_dict({"output": {"export_hosts_csv": 3}})


def test_pcap_rotation_needs_a_file_to_number() -> None:
    data = {"output": {"write_pcap": "/dev/stdout", "write_pcap_rotate_mb": 1, "write_pcap_max_files": 2}}
    with pytest.raises(ConfigError, match=r"output\.write_pcap_rotate_mb needs output\.write_pcap to be a file"):
        validate(from_dict(data))


def test_live_capture_keeps_whole_packets_only_when_they_are_written() -> None:
    config = Config()
    assert live_snaplen(config) == 4096
    assert live_snaplen(config.replace("output", write_pcap="out.pcap")) == 65535
    assert live_snaplen(config.replace("capture", snaplen=200).replace("output", write_pcap="out.pcap")) == 200
