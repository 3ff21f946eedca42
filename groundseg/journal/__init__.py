"""The journal: the append-only, crash-safe local record of every batch and event."""
