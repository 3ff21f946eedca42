"""The command gate: the one door to the hardware.

Every actuation passes here: role check, interlocks on fresh data, write, verification by
readback (`groundseg.drivers.actuation`), audit. The import contract in pyproject.toml
lets only this package import the write path; the gate itself arrives with the sequencer.
"""
