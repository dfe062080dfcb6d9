#!/usr/bin/env bash
# Install everything the test suite needs (Debian tools + Python packages), lint, run all tests.
# Needs root for apt-get and for the live-capture / network-namespace tests (CI runs as root).
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(tcpdump tshark tcpreplay iperf3 nmap hping3 tmux curl iproute2 ethtool libpcap0.8 libcap2-bin procps zstd lz4)
missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "note: not root, so not installing ${missing[*]}; tests that need them are skipped" >&2
  fi
fi

python3 -m pip install -q --disable-pip-version-check -e ".[test]"
python3 -m ruff check netscope tests benches scripts
python3 -m pytest -q "$@"
