"""The sentinel every sans-I/O decoder returns when no complete frame is buffered."""

from __future__ import annotations

import enum
from typing import Final

__all__ = ["NEED_DATA", "NeedData"]


class NeedData(enum.Enum):
    """Type of `NEED_DATA`; a one-member enum so that `event is NEED_DATA` narrows."""

    NEED_DATA = enum.auto()

    def __repr__(self) -> str:
        return "NEED_DATA"


NEED_DATA: Final = NeedData.NEED_DATA
