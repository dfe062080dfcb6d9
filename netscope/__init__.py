"""netscope: a terminal network monitor.

Data flows one way through four packages:
capture (libpcap batches) -> parse (numpy header columns) -> flow/analysis (tables, detectors)
-> engine snapshots, which the presentation layers (ui, export, headless cli) only read.
"""

__version__ = "0.1.0"
