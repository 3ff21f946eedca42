"""Rules over telemetry: conditions (interlocks, redlines, step waits), pure and time-free."""
