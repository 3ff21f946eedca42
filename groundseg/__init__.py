"""groundseg: ground-segment telemetry and pad control for the Baiterek launch complex."""

__version__ = "0.1.0"

__all__ = ["__version__"]
