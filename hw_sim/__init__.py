"""hw_sim: the simulated Baiterek pad hardware, on real sockets and ptys."""

__all__: list[str] = []
