"""The simulated devices, each on a real transport."""
