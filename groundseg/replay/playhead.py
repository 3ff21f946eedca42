"""Where a replay is in recorded time, and how fast it moves: the console's time controls.

Recorded time runs at `speed` recorded seconds per second of the player's clock from an
anchor (the last control), or stands still while paused. A seek moves the position and
starts a new *generation*: whatever was playing from the old position is dropped and the
displays start afresh. Positions stay inside the record.

Pure: the clock's reading is passed in.
"""

from __future__ import annotations

from dataclasses import dataclass

from groundseg.errors import ConfigError, ConfigProblem

__all__ = ["MAX_SPEED", "Playhead", "PlayheadView"]

MAX_SPEED = 10_000.0


@dataclass(frozen=True, slots=True, kw_only=True)
class PlayheadView:
    position_ns: int
    first_ns: int
    last_ns: int
    speed: float
    paused: bool
    ended: bool
    generation: int

    def as_json(self) -> dict[str, object]:
        return {
            "position": self.position_ns / 1e9,
            "first": self.first_ns / 1e9,
            "last": self.last_ns / 1e9,
            "speed": self.speed,
            "paused": self.paused,
            "ended": self.ended,
            "generation": self.generation,
        }


class Playhead:
    def __init__(
        self, first_ns: int, last_ns: int, *, now_s: float, speed: float = 1.0, paused: bool = False
    ) -> None:
        if last_ns < first_ns:
            raise ValueError(f"a record ends before it starts: {first_ns} > {last_ns}")
        self.first_ns = first_ns
        self.last_ns = last_ns
        self.speed = _checked(speed)
        self.paused = paused
        self.generation = 0
        self._anchor_ns = first_ns
        self._anchor_s = now_s

    def position(self, now_s: float) -> int:
        if self.paused:
            return self._anchor_ns
        moved = self._anchor_ns + round((now_s - self._anchor_s) * self.speed * 1e9)
        return min(moved, self.last_ns)

    def view(self, now_s: float) -> PlayheadView:
        at = self.position(now_s)
        return PlayheadView(
            position_ns=at,
            first_ns=self.first_ns,
            last_ns=self.last_ns,
            speed=self.speed,
            paused=self.paused,
            ended=at >= self.last_ns,
            generation=self.generation,
        )

    def wait_s(self, time_ns: int, now_s: float) -> float | None:
        """Seconds of the clock until the position reaches `time_ns`; None while paused."""
        if self.paused:
            return None
        return max(0.0, (time_ns - self.position(now_s)) / 1e9 / self.speed)

    # -- the controls ----------------------------------------------------------------------

    def pause(self, now_s: float) -> None:
        self._anchor(now_s)
        self.paused = True

    def play(self, now_s: float) -> None:
        self._anchor(now_s)
        self.paused = False

    def set_speed(self, speed: float, now_s: float) -> None:
        checked = _checked(speed)
        self._anchor(now_s)
        self.speed = checked

    def seek(self, time_ns: int, now_s: float) -> None:
        if not self.first_ns <= time_ns <= self.last_ns:
            raise ConfigError(
                "seek",
                [
                    ConfigProblem(
                        key=str(time_ns),
                        expected=f"a time inside the record ({self.first_ns}..{self.last_ns} ns)",
                    )
                ],
            )
        self._anchor_ns = time_ns
        self._anchor_s = now_s
        self.generation += 1

    def stepped_to(self, time_ns: int, now_s: float) -> None:
        """A step while paused released a batch recorded at `time_ns`: stand there."""
        self._anchor_ns = max(self._anchor_ns, min(time_ns, self.last_ns))
        self._anchor_s = now_s

    def _anchor(self, now_s: float) -> None:
        self._anchor_ns = self.position(now_s)
        self._anchor_s = now_s


def _checked(speed: float) -> float:
    if not 0 < speed <= MAX_SPEED:
        raise ConfigError(
            "speed", [ConfigProblem(key=str(speed), expected=f"a speed in (0, {MAX_SPEED:g}]")]
        )
    return float(speed)
