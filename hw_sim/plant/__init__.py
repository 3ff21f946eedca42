"""The simulated pad plant: physics, pure and stepped with time passed in."""
