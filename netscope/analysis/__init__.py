"""Per-capture analysis on parsed batches: anomaly detectors and their alerts."""
