"""The MQTT topic scheme (docs/mqtt.md), in one place.

groundseg/<pad>/telemetry/<source>        GSF1 frames, QoS 1
groundseg/<pad>/latest/<channel id>       latest value, retained JSON
groundseg/<pad>/events/<kind>             events, JSON, QoS 1
groundseg/<pad>/state/<client id>         birth and death (last will), retained JSON
groundseg/<pad>/ingest/<instance>/ack     what an ingest instance has stored durably
groundseg/<pad>/ingest/<instance>/health  an ingest instance's health and lag
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["Topics", "pad_slug"]

_UNSAFE = re.compile(r"[^a-z0-9_-]+")


def pad_slug(pad_name: str) -> str:
    """A pad name as one topic level: lowercase, no wildcards or separators."""
    slug = _UNSAFE.sub("-", pad_name.lower()).strip("-")
    if not slug:
        raise ValueError(f"pad name {pad_name!r} has nothing usable in a topic")
    return slug


@dataclass(frozen=True, slots=True)
class Topics:
    pad: str
    root: str = "groundseg"

    @property
    def base(self) -> str:
        return f"{self.root}/{self.pad}"

    def telemetry(self, source: str) -> str:
        return f"{self.base}/telemetry/{source}"

    @property
    def all_telemetry(self) -> str:
        return f"{self.base}/telemetry/+"

    def latest(self, channel_id: str) -> str:
        return f"{self.base}/latest/{channel_id}"

    def event(self, kind: str) -> str:
        return f"{self.base}/events/{kind}"

    @property
    def countdown_state(self) -> str:
        return f"{self.base}/countdown/state"

    def state(self, client_id: str) -> str:
        return f"{self.base}/state/{client_id}"

    def ingest_ack(self, instance: str) -> str:
        return f"{self.base}/ingest/{instance}/ack"

    @property
    def all_ingest_acks(self) -> str:
        return f"{self.base}/ingest/+/ack"

    def ingest_health(self, instance: str) -> str:
        return f"{self.base}/ingest/{instance}/health"
