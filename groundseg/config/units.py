"""The engineering units a pad definition may use.

A closed list catches typos ("Bar", "kelvin") at load time instead of on a display during a
count; add a unit here when a new sensor needs one.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

__all__ = ["UNITS"]

UNITS: Mapping[str, str] = MappingProxyType(
    {
        "": "dimensionless (states, flags, counters)",
        "%": "percent (level, position, state of charge)",
        "%RH": "relative humidity",
        "%LEL": "percent of the lower explosive limit",
        "%vol": "percent by volume (gas concentration)",
        "bar": "pressure, bar absolute",
        "hPa": "atmospheric pressure",
        "K": "temperature, kelvin",
        "degC": "temperature, degrees Celsius",
        "kg": "mass",
        "t": "mass, tonnes",
        "kg/s": "mass flow",
        "Nm3/h": "gas flow at normal conditions",
        "rpm": "rotational speed",
        "V": "voltage",
        "A": "current",
        "m/s": "speed (wind)",
        "deg": "angle or direction",
        "km": "distance",
        "s": "time",
        "ms": "time",
        "count": "event count",
    }
)
