"""How fast the flow-table exports write a big table, against the standard library's json.

    python benches/bench_export.py [--flows N] [--repeat R]

The table is `--synthetic-flows`'s: N distinct IPv4 TCP flows through the tracker's batch path.
Timed, best of R each, writing to a temporary directory:

* export_json, export_csv: netscope's exporters (column at a time, orjson for JSON);
* json_stdlib: the baseline, `json.dump(records, indent=2)` of the same records, built the
  same way: what the JSON export cost before orjson, less the building.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from common import best_time

from netscope.export.flows import flow_records, write_csv, write_json
from netscope.export.hosts import write_hosts_csv
from netscope.flow.tracker import FlowSettings, FlowTracker
from netscope.synthetic import BATCH_FLOWS, synthetic_batch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--flows", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    tracker = FlowTracker(FlowSettings(timeout_s=0.0, max_flows=args.flows + 1))
    for start in range(0, args.flows, BATCH_FLOWS):
        tracker.observe(synthetic_batch(start, min(start + BATCH_FLOWS, args.flows)))
    flows = tracker.snapshot()
    with tempfile.TemporaryDirectory() as directory:
        out = Path(directory)

        def stdlib_json() -> None:
            with (out / "stdlib.json").open("w") as fh:
                json.dump(list(flow_records(flows)), fh, indent=2)

        times = {
            "json_stdlib": best_time(stdlib_json, args.repeat),
            "export_json": best_time(lambda: write_json(flows, out / "flows.json"), args.repeat),
            "export_csv": best_time(lambda: write_csv(flows, out / "flows.csv"), args.repeat),
            "export_hosts": best_time(lambda: write_hosts_csv(flows, out / "hosts.csv"), args.repeat),
        }
    baseline = args.flows / times["json_stdlib"]
    print(f"{args.flows:,} flows, best of {args.repeat} (export_hosts: flows/s of the flow table it sums)")
    print(f"{'benchmark':<14}{'seconds':>10}{'flows/s':>14}{'x json_stdlib':>15}")
    for name, seconds in times.items():
        rate = args.flows / seconds
        print(f"{name:<14}{seconds:>10.2f}{rate:>14,.0f}{rate / baseline:>15.2f}")


if __name__ == "__main__":
    main()
