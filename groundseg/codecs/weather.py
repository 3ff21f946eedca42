"""Sans-I/O codec for WX-1, the weather and pad-environment station protocol.

The byte-level definition is ``docs/protocols/weather.md``; this module follows it.

Theory of operation
-------------------
The station streams NMEA-0183-like ASCII sentences and never listens, so there is
only a decoder (the driver's side) and an encoder (the simulator's side).

    $WX<KIND>,<sensor>,<field>,...,<field>,<A|V>*<CS><CR><LF>

:class:`WeatherDecoder` is fed whatever bytes the link delivered, in chunks of any
size, with :meth:`~WeatherDecoder.receive_data`; :meth:`~WeatherDecoder.next_event`
then returns one :class:`Sentence` at a time, or :data:`NEED_DATA` when the buffer
holds no complete sentence. Each call does one step:

1. Bytes before a ``$`` are garbage: dropped and counted.
2. The candidate sentence runs from ``$`` to the first CR LF. ``$`` is reserved for
   the start of a sentence, so a ``$`` before that CR LF means the sentence was cut
   short (a station restart, a bus collision); it is rejected and decoding resumes
   at the new ``$``. No CR LF within :data:`MAX_SENTENCE_LENGTH` bytes is rejected
   the same way.
3. A framed sentence is checked: checksum first (a mismatch means the bytes were
   damaged, so what they seem to say is irrelevant), then the address, field
   count, sensor id, numbers and status, left to right.

A rejected sentence raises :class:`~groundseg.errors.ProtocolError` whose reason
names what was wrong. Its bytes are already discarded, so the caller logs, counts
and calls ``next_event()`` again. No value is ever produced from a rejected
sentence. Because step 1 drops garbage and step 2 rejects long sentences, at most
``MAX_SENTENCE_LENGTH - 1`` bytes stay buffered once ``next_event()`` has returned
:data:`NEED_DATA`.
"""

from __future__ import annotations

import functools
import math
import operator
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

from groundseg.codecs.need_data import NEED_DATA, NeedData
from groundseg.errors import ProtocolError

__all__ = [
    "MAX_NUMBER_LENGTH",
    "MAX_SENTENCE_LENGTH",
    "NEED_DATA",
    "SENTENCE_FIELDS",
    "NeedData",
    "Sentence",
    "WeatherDecoder",
    "WeatherStatistics",
    "checksum",
    "encode_sentence",
]

SENTENCE_FIELDS: Final[Mapping[str, tuple[str, ...]]] = MappingProxyType(
    {
        "WND": ("mean", "gust", "direction"),
        "ATM": ("temperature", "humidity", "pressure"),
        "LTG": ("distance", "count"),
        "GAS": ("o2", "vapour"),
    }
)
"""Field names of each sentence kind, in the order they appear on the wire."""

MAX_SENTENCE_LENGTH: Final = 82
"""Longest sentence in bytes, ``$`` and CR LF included (the NMEA 0183 limit)."""

MAX_NUMBER_LENGTH: Final = 12
"""Longest number field in characters, sign and decimal point included."""

_TALKER: Final = "WX"
_SENSOR_ID: Final = re.compile(r"[A-Z0-9]{1,8}")
# [0-9], not \d: \d also matches non-ASCII digits, which the wire must not carry.
_NUMBER: Final = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")
_HEX_UPPER: Final = frozenset(b"0123456789ABCDEF")
_HEX_LOWER: Final = frozenset(b"abcdef")
_KINDS: Final = ", ".join(sorted(SENTENCE_FIELDS))


@dataclass(frozen=True, slots=True, kw_only=True)
class Sentence:
    """One sentence from the station: a kind, the sensor and its values.

    ``values`` follows ``SENTENCE_FIELDS[kind]``; ``None`` is an empty field (no
    reading). ``valid`` is False when the station flagged the sentence ``V``: every
    value in it is then invalid, though still reported as parsed.
    """

    kind: str
    sensor: str
    values: tuple[float | None, ...]
    valid: bool

    def __post_init__(self) -> None:
        names = SENTENCE_FIELDS.get(self.kind)
        if names is None:
            raise ValueError(f"unknown sentence kind {self.kind!r}, expected one of {_KINDS}")
        if _SENSOR_ID.fullmatch(self.sensor) is None:
            raise ValueError(f"bad sensor id {self.sensor!r}: expects 1-8 characters of A-Z, 0-9")
        if len(self.values) != len(names):
            raise ValueError(f"{self.kind} expects {len(names)} values, got {len(self.values)}")
        for name, value in zip(names, self.values, strict=True):
            if value is not None and not math.isfinite(value):
                raise ValueError(f"{self.kind} value {name!r} must be finite, got {value!r}")


@dataclass(frozen=True, slots=True, kw_only=True)
class WeatherStatistics:
    """Snapshot of a decoder's counters."""

    sentences: int
    """Sentences decoded and returned."""
    bad_sentences: int
    """Sentences rejected with a ProtocolError."""
    garbage_bytes: int
    """Bytes outside any sentence (before a ``$``), dropped."""
    buffered_bytes: int
    """Bytes received but not yet decoded."""


def checksum(body: bytes) -> int:
    """XOR of every byte of ``body``: the bytes strictly between ``$`` and ``*``."""
    return functools.reduce(operator.xor, body, 0)


def encode_sentence(sentence: Sentence, *, decimals: int | Sequence[int] = 1) -> bytes:
    """Serialise ``sentence`` to the bytes a station sends, CR LF included.

    ``decimals`` is the number of digits after the point, for every field or, as a
    sequence, per field. Raises ValueError when ``decimals`` does not fit the kind
    or a value does not fit in :data:`MAX_NUMBER_LENGTH` characters.
    """
    names = SENTENCE_FIELDS[sentence.kind]
    places = (decimals,) * len(names) if isinstance(decimals, int) else tuple(decimals)
    if len(places) != len(names):
        raise ValueError(f"{sentence.kind} has {len(names)} fields, got {len(places)} decimals")
    fields = [
        _format_number(sentence.kind, name, value, digits)
        for name, value, digits in zip(names, sentence.values, places, strict=True)
    ]
    status = "A" if sentence.valid else "V"
    body = ",".join([_TALKER + sentence.kind, sentence.sensor, *fields, status]).encode("ascii")
    return b"$%b*%02X\r\n" % (body, checksum(body))


def _format_number(kind: str, name: str, value: float | None, digits: int) -> str:
    if value is None:
        return ""
    if digits < 0:
        raise ValueError(f"{kind} field {name!r}: decimals must be >= 0, got {digits}")
    text = f"{value:.{digits}f}"
    # A small negative value rounds to "-0.0"; the station sends zero unsigned.
    if text.startswith("-") and float(text) == 0:
        text = text[1:]
    if len(text) > MAX_NUMBER_LENGTH:
        raise ValueError(
            f"{kind} field {name!r}: {text!r} is longer than {MAX_NUMBER_LENGTH} characters"
        )
    return text


class WeatherDecoder:
    """Turns the station's byte stream into :class:`Sentence` events.

    ``device`` names the station in every ProtocolError raised.
    """

    def __init__(self, *, device: str = "") -> None:
        self._device = device
        self._buffer = bytearray()
        self._sentences = 0
        self._bad_sentences = 0
        self._garbage_bytes = 0

    def receive_data(self, data: bytes) -> None:
        """Append bytes from the link; decode them with :meth:`next_event`."""
        self._buffer += data

    def next_event(self) -> Sentence | NeedData:
        """Return the next sentence, or NEED_DATA; raise ProtocolError for a bad one.

        After a ProtocolError the bad bytes are gone: call again to continue.
        """
        self._drop_garbage()
        if not self._buffer:
            return NEED_DATA
        window = bytes(self._buffer[:MAX_SENTENCE_LENGTH])
        end = window.find(b"\r\n")
        restart = window.find(b"$", 1)
        if restart != -1 and (end == -1 or restart < end):
            del self._buffer[:restart]
            raise self._reject(f"sentence cut short: '$' at byte {restart} before CR LF")
        if end == -1:
            if len(window) < MAX_SENTENCE_LENGTH:
                return NEED_DATA
            del self._buffer[:MAX_SENTENCE_LENGTH]
            raise self._reject(f"no CR LF within {MAX_SENTENCE_LENGTH} bytes")
        del self._buffer[: end + 2]
        try:
            sentence = _decode_body(window[1:end])
        except ProtocolError as exc:
            raise self._reject(exc.reason) from None
        self._sentences += 1
        return sentence

    def statistics(self) -> WeatherStatistics:
        """Snapshot of the counters and the buffer fill."""
        return WeatherStatistics(
            sentences=self._sentences,
            bad_sentences=self._bad_sentences,
            garbage_bytes=self._garbage_bytes,
            buffered_bytes=len(self._buffer),
        )

    def _drop_garbage(self) -> None:
        start = self._buffer.find(b"$")
        skipped = len(self._buffer) if start == -1 else start
        del self._buffer[:skipped]
        self._garbage_bytes += skipped

    def _reject(self, reason: str) -> ProtocolError:
        self._bad_sentences += 1
        return ProtocolError(reason, device=self._device)


def _decode_body(body: bytes) -> Sentence:
    """Check and parse the bytes between ``$`` and CR LF; raise ProtocolError if bad."""
    star = body.find(b"*")
    if star == -1:
        raise ProtocolError("missing '*' before the checksum")
    digits = body[star + 1 :]
    shown = _show(digits)
    if len(digits) != 2:
        raise ProtocolError(f"checksum must be two hex digits after '*', got {shown!r}")
    if not _HEX_UPPER.issuperset(digits):
        if _HEX_UPPER.union(_HEX_LOWER).issuperset(digits):
            raise ProtocolError(f"checksum digits must be uppercase hex, got {shown!r}")
        raise ProtocolError(f"checksum digits are not hex: {shown!r}")
    computed = checksum(body[:star])
    if int(digits, 16) != computed:
        raise ProtocolError(f"bad checksum: got {shown}, computed {computed:02X}")

    address, *rest = _show(body[:star]).split(",")
    if not address.startswith(_TALKER):
        raise ProtocolError(f"talker must be {_TALKER!r}, got {address[:2]!r}")
    kind = address[len(_TALKER) :]
    names = SENTENCE_FIELDS.get(kind)
    if names is None:
        raise ProtocolError(f"unknown sentence kind {kind!r}, expected one of {_KINDS}")
    if len(rest) < 2:
        raise ProtocolError(f"{kind} sentence too short: expects sensor, fields and status")
    sensor, *fields, status = rest
    if len(fields) != len(names):
        raise ProtocolError(f"{kind} expects {len(names)} fields, got {len(fields)}")
    if _SENSOR_ID.fullmatch(sensor) is None:
        raise ProtocolError(f"bad sensor id {sensor!r}: expects 1-8 characters of A-Z, 0-9")
    values = tuple(
        _parse_number(kind, name, text) for name, text in zip(names, fields, strict=True)
    )
    if status not in {"A", "V"}:
        raise ProtocolError(f"bad status {status!r}: expects A or V")
    return Sentence(kind=kind, sensor=sensor, values=values, valid=status == "A")


def _parse_number(kind: str, name: str, text: str) -> float | None:
    if not text:
        return None
    if len(text) > MAX_NUMBER_LENGTH:
        raise ProtocolError(
            f"{kind} field {name!r} is {len(text)} characters long, "
            f"at most {MAX_NUMBER_LENGTH} allowed"
        )
    if _NUMBER.fullmatch(text) is None:
        raise ProtocolError(f"{kind} field {name!r} is not a decimal number: {text!r}")
    return float(text)


def _show(raw: bytes) -> str:
    # Escapes keep a message printable whatever the line delivered; an escaped byte
    # contains a backslash, which no valid field allows, so it is still rejected.
    return raw.decode("ascii", errors="backslashreplace")
