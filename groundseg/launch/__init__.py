"""The launch runner: the monitor, the sequencer and the gate, on the bus and one timer."""
