"""Sans-I/O protocol codecs shared by the drivers and the simulator."""
