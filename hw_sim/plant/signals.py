"""Named signals over numpy arrays: how the plant's state is read and commanded by name.

Each plant component keeps its state in numpy arrays and publishes named views of them.
The sensor layer resolves names to positions once and then gathers every channel's value
in one indexing operation per step.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = ["Component", "InputSetter", "SignalTable", "UnknownSignalError"]

InputSetter = Callable[[float], None]


class UnknownSignalError(KeyError):
    """A channel names a signal the simulated plant does not have."""


@dataclass(frozen=True, slots=True)
class _Output:
    name: str
    array: Callable[[], npt.NDArray[np.float64]]
    position: int


class Component:
    """A part of the plant: named outputs over its arrays, named inputs that command it."""

    def __init__(self) -> None:
        self._outputs: list[tuple[str, Callable[[], npt.NDArray[np.float64]], int]] = []
        self._inputs: dict[str, InputSetter] = {}

    def output(self, names: Iterable[str], array: Callable[[], npt.NDArray[np.float64]]) -> None:
        """Publish `array()[i]` under the i-th name; the array is re-read every step."""
        for position, name in enumerate(names):
            self._outputs.append((name, array, position))

    def input(self, name: str, setter: InputSetter) -> None:
        self._inputs[name] = setter

    def step(self, dt: float) -> None:
        """Advance the component by `dt` seconds of simulated time."""
        raise NotImplementedError

    @property
    def outputs(self) -> Sequence[tuple[str, Callable[[], npt.NDArray[np.float64]], int]]:
        return self._outputs

    @property
    def inputs(self) -> dict[str, InputSetter]:
        return self._inputs


class SignalTable:
    """Every output of every component in one flat vector, refreshed by `gather()`."""

    def __init__(self, components: Sequence[Component]) -> None:
        self.names: list[str] = []
        self._sources: list[
            tuple[Callable[[], npt.NDArray[np.float64]], npt.NDArray[np.intp], npt.NDArray[np.intp]]
        ] = []
        self._inputs: dict[str, InputSetter] = {}
        seen: set[str] = set()
        grouped: dict[int, tuple[Callable[[], npt.NDArray[np.float64]], list[int], list[int]]] = {}
        for component in components:
            for name, array, position in component.outputs:
                if name in seen:
                    raise ValueError(f"signal {name!r} is published twice")
                seen.add(name)
                slot = len(self.names)
                self.names.append(name)
                entry = grouped.setdefault(id(array), (array, [], []))
                entry[1].append(slot)
                entry[2].append(position)
            for name, setter in component.inputs.items():
                if name in self._inputs:
                    raise ValueError(f"input {name!r} is accepted twice")
                self._inputs[name] = setter
        for array, slots, positions in grouped.values():
            self._sources.append(
                (array, np.array(slots, dtype=np.intp), np.array(positions, dtype=np.intp))
            )
        self._index = {name: i for i, name in enumerate(self.names)}
        self.values = np.zeros(len(self.names), dtype=np.float64)

    def index(self, name: str) -> int:
        try:
            return self._index[name]
        except KeyError:
            raise UnknownSignalError(name) from None

    def gather(self) -> npt.NDArray[np.float64]:
        for array, slots, positions in self._sources:
            self.values[slots] = array()[positions]
        return self.values

    def is_input(self, name: str) -> bool:
        return name in self._inputs

    def set_input(self, name: str, value: float) -> None:
        try:
            setter = self._inputs[name]
        except KeyError:
            raise UnknownSignalError(name) from None
        setter(value)
