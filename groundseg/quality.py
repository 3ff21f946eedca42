"""Quality travels with every value.

Only GOOD and SIMULATED data may satisfy a permissive; STALE, INVALID and REPLAYED never do.
The numeric codes are part of the journal and wire formats: never renumber them.
"""

from __future__ import annotations

from enum import IntEnum

import numpy as np
import numpy.typing as npt

__all__ = ["USABLE", "Quality"]


class Quality(IntEnum):
    """How far a value can be trusted."""

    GOOD = 0
    """Read from the device this cycle and within its valid range."""
    STALE = 1
    """Not refreshed within the expected number of poll periods (link lost, late reply)."""
    INVALID = 2
    """The device reported an error, the frame was corrupt, or the reading is out of range."""
    SIMULATED = 3
    """Produced by a simulator standing in for the device."""
    REPLAYED = 4
    """Read back from a recording; never drives live commands."""

    @property
    def is_usable(self) -> bool:
        """True when the value may satisfy an interlock or a verification."""
        return self in (Quality.GOOD, Quality.SIMULATED)


USABLE: npt.NDArray[np.bool_] = np.array(
    [q.is_usable for q in Quality] + [False] * (256 - len(Quality)), dtype=bool
)
"""`USABLE[quality_column]`: which samples may satisfy a permissive (any uint8 code)."""
