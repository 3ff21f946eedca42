"""Telemetry in memory: sample batches, the latest-value table, staleness."""
