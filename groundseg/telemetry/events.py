"""Events: what happened, when, and where: link lost, a fault, a hold, an operator action.

Events travel on the bus beside sample batches and are journaled with them. They are
frozen, keyword-only and validated on construction: if an Event exists, it is well-formed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType

__all__ = ["Event", "Severity"]

_KIND = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)*$")
FieldValue = str | int | float | bool


class Severity(StrEnum):
    INFO = "info"
    WARNING = "warning"
    ALARM = "alarm"


@dataclass(frozen=True, slots=True, kw_only=True)
class Event:
    kind: str
    """Dotted lowercase: `link.lost`, `journal.disk_full`, `fault.injected`."""
    source: str
    time_ns: int
    severity: Severity = Severity.INFO
    message: str = ""
    fields: Mapping[str, FieldValue] = field(default_factory=lambda: MappingProxyType({}))

    def __post_init__(self) -> None:
        if not _KIND.match(self.kind):
            raise ValueError(f"event kind {self.kind!r} is not dotted lowercase")
        if not self.source:
            raise ValueError(f"event {self.kind}: a source is required")
        if self.time_ns <= 0:
            raise ValueError(f"event {self.kind}: time_ns must be positive, got {self.time_ns}")
        for key, value in self.fields.items():
            if not isinstance(value, str | int | float | bool):
                raise TypeError(
                    f"event {self.kind}: field {key!r} has unsupported type {type(value).__name__}"
                )
        object.__setattr__(self, "fields", MappingProxyType(dict(self.fields)))
