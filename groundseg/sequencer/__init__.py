"""The launch sequence: countdown clocks and holds, steps, safing; pure, time passed in."""
