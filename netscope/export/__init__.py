"""Writers for what a run leaves behind: flow tables (JSON, CSV) and streams (JSONL)."""
