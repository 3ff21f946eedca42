"""WX-1 weather station codec: golden vectors from docs/protocols/weather.md, and fuzzing.

The checksums below were computed outside the codec, with a shell XOR over each body
(the loop is in the protocol document), checked against the NMEA GPGGA example.
"""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from groundseg.codecs.weather import (
    MAX_SENTENCE_LENGTH,
    NEED_DATA,
    SENTENCE_FIELDS,
    Sentence,
    WeatherDecoder,
    checksum,
    encode_sentence,
)
from groundseg.errors import ProtocolError

# (wire bytes, event, decimals used by the station) -- the worked examples of the doc.
GOLDEN: list[tuple[bytes, Sentence, int | tuple[int, ...]]] = [
    (
        b"$WXWND,M10,4.2,6.8,271.0,A*51\r\n",
        Sentence(kind="WND", sensor="M10", values=(4.2, 6.8, 271.0), valid=True),
        1,
    ),
    (
        b"$WXWND,M100,12.5,,45.0,A*44\r\n",
        Sentence(kind="WND", sensor="M100", values=(12.5, None, 45.0), valid=True),
        1,
    ),
    (
        b"$WXATM,PAD1,-3.5,81.0,1013.2,A*53\r\n",
        Sentence(kind="ATM", sensor="PAD1", values=(-3.5, 81.0, 1013.2), valid=True),
        1,
    ),
    (
        b"$WXLTG,L1,,0,A*5C\r\n",
        Sentence(kind="LTG", sensor="L1", values=(None, 0.0), valid=True),
        (1, 0),
    ),
    (
        b"$WXLTG,L1,12.4,3,A*46\r\n",
        Sentence(kind="LTG", sensor="L1", values=(12.4, 3.0), valid=True),
        (1, 0),
    ),
    (
        b"$WXGAS,G2,20.9,0.0,V*42\r\n",
        Sentence(kind="GAS", sensor="G2", values=(20.9, 0.0), valid=False),
        1,
    ),
]
GOLDEN_IDS = [wire.decode()[1:6] + "-" + str(i) for i, (wire, _, _) in enumerate(GOLDEN)]

GOOD_WIRE, GOOD_EVENT, _ = GOLDEN[0]

# (bad sentence, the reason the decoder must give) -- the doc's table of bad sentences.
BAD: list[tuple[bytes, str]] = [
    (b"$WXWND,M10,4.2,6.8,271.0,A*4F\r\n", "bad checksum: got 4F, computed 51"),
    (b"$WXWND,M10,4.2,6.8,271.0,A\r\n", "missing '*' before the checksum"),
    (b"$WXLTG,L1,,0,A*5c\r\n", "checksum digits must be uppercase hex, got '5c'"),
    (b"$WXLTG,L1,,0,A*5G\r\n", "checksum digits are not hex: '5G'"),
    (b"$WXLTG,L1,,0,A*5\r\n", "checksum must be two hex digits after '*', got '5'"),
    (b"$WXLTG,L1,,0,A*5C0\r\n", "checksum must be two hex digits after '*', got '5C0'"),
    (
        b"$GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,*47\r\n",
        "talker must be 'WX', got 'GP'",
    ),
    (
        b"$WXRAN,M10,4.2,6.8,271.0,A*51\r\n",
        "unknown sentence kind 'RAN', expected one of ATM, GAS, LTG, WND",
    ),
    (b"$WXWND,M10,4.2,6.8,A*57\r\n", "WND expects 3 fields, got 2"),
    (b"$WXWND,M10,4.2,6.8,271.0,,A*7D\r\n", "WND expects 3 fields, got 4"),
    (b"$WXLTG,L1,12.4,3,A,*6A\r\n", "LTG expects 2 fields, got 3"),
    (
        b"$WXWND,M10*32\r\n",
        "WND sentence too short: expects sensor, fields and status",
    ),
    (
        b"$WXWND,m10,4.2,6.8,271.0,A*71\r\n",
        "bad sensor id 'm10': expects 1-8 characters of A-Z, 0-9",
    ),
    (
        b"$WXWND,M123456789,4.2,6.8,271.0,A*61\r\n",
        "bad sensor id 'M123456789': expects 1-8 characters of A-Z, 0-9",
    ),
    (b"$WXLTG,,12.4,3,A*3B\r\n", "bad sensor id '': expects 1-8 characters of A-Z, 0-9"),
    (
        b"$WXWND,M10,4.2,1e1,271.0,A*14\r\n",
        "WND field 'gust' is not a decimal number: '1e1'",
    ),
    (
        b"$WXWND,M10,4.2,6.8,+271.0,A*7A\r\n",
        "WND field 'direction' is not a decimal number: '+271.0'",
    ),
    (b"$WXWND,M10,5.,6.8,271.0,A*62\r\n", "WND field 'mean' is not a decimal number: '5.'"),
    (b"$WXWND,M10,.5,6.8,271.0,A*62\r\n", "WND field 'mean' is not a decimal number: '.5'"),
    (b"$WXLTG,L1,12.4, 3,A*66\r\n", "LTG field 'count' is not a decimal number: ' 3'"),
    (
        b"$WXWND,M10,1234567890.12,6.8,271.0,A*55\r\n",
        "WND field 'mean' is 13 characters long, at most 12 allowed",
    ),
    (b"$WXWND,M10,4.2,6.8,271.0,X*48\r\n", "bad status 'X': expects A or V"),
    (b"$WXATM,PAD1,-3.5,81.0,1013.2,a*73\r\n", "bad status 'a': expects A or V"),
    (b"$WXGAS,G2,20.9,0.0,*14\r\n", "bad status '': expects A or V"),
    (b"$WXWND,M10,4.2", "sentence cut short: '$' at byte 14 before CR LF"),
    (b"$WXWND,M10," + b"1" * 80, "no CR LF within 82 bytes"),
]


def drain(decoder: WeatherDecoder) -> tuple[list[Sentence], list[ProtocolError]]:
    """Call next_event() until NEED_DATA, keeping sentences and ProtocolErrors apart."""
    events: list[Sentence] = []
    errors: list[ProtocolError] = []
    # Every event or error consumes at least one byte, so this many calls must suffice.
    for _ in range(decoder.statistics().buffered_bytes + 1):
        try:
            event = decoder.next_event()
        except ProtocolError as exc:
            errors.append(exc)
            continue
        if event is NEED_DATA:
            assert decoder.statistics().buffered_bytes < MAX_SENTENCE_LENGTH
            return events, errors
        events.append(event)
    raise AssertionError("decoder stopped consuming bytes")


def decode_all(*chunks: bytes) -> tuple[list[Sentence], list[ProtocolError]]:
    decoder = WeatherDecoder()
    events: list[Sentence] = []
    errors: list[ProtocolError] = []
    for chunk in chunks:
        decoder.receive_data(chunk)
        more_events, more_errors = drain(decoder)
        events += more_events
        errors += more_errors
    return events, errors


# --- golden vectors ------------------------------------------------------------------


def test_checksum_matches_the_nmea_reference_example() -> None:
    """The XOR checksum gives 47 for the well-known GPGGA sentence."""
    body = b"GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,"
    assert checksum(body) == 0x47


@pytest.mark.parametrize(("wire", "event", "decimals"), GOLDEN, ids=GOLDEN_IDS)
def test_encode_gives_golden_bytes(
    wire: bytes, event: Sentence, decimals: int | tuple[int, ...]
) -> None:
    assert encode_sentence(event, decimals=decimals) == wire


@pytest.mark.parametrize(("wire", "event", "decimals"), GOLDEN, ids=GOLDEN_IDS)
def test_decode_gives_golden_event(
    wire: bytes, event: Sentence, decimals: int | tuple[int, ...]
) -> None:
    decoder = WeatherDecoder()
    decoder.receive_data(wire)
    assert decoder.next_event() == event
    assert decoder.next_event() is NEED_DATA
    assert decoder.statistics().sentences == 1


def test_byte_by_byte_feeding_gives_the_same_events() -> None:
    stream = b"".join(wire for wire, _, _ in GOLDEN)
    events, errors = decode_all(*(stream[i : i + 1] for i in range(len(stream))))
    assert events == [event for _, event, _ in GOLDEN]
    assert errors == []


def test_status_v_marks_the_sentence_invalid_but_keeps_its_values() -> None:
    events, _ = decode_all(b"$WXGAS,G2,20.9,0.0,V*42\r\n")
    assert events == [Sentence(kind="GAS", sensor="G2", values=(20.9, 0.0), valid=False)]


def test_empty_field_decodes_as_none_and_leaves_the_others() -> None:
    events, _ = decode_all(b"$WXWND,M100,12.5,,45.0,A*44\r\n")
    assert events[0].values == (12.5, None, 45.0)
    assert events[0].valid


# --- receiver rules ----------------------------------------------------------------------


def test_garbage_before_dollar_is_skipped_and_counted() -> None:
    decoder = WeatherDecoder()
    decoder.receive_data(b"\x00\xffnoise\r\n" + GOOD_WIRE + b"tail")
    assert decoder.next_event() == GOOD_EVENT
    assert decoder.next_event() is NEED_DATA
    stats = decoder.statistics()
    assert (stats.garbage_bytes, stats.sentences, stats.bad_sentences) == (13, 1, 0)


@pytest.mark.parametrize(("bad", "reason"), BAD, ids=[reason for _, reason in BAD])
def test_bad_sentence_raises_with_its_reason_and_decoding_resumes(bad: bytes, reason: str) -> None:
    decoder = WeatherDecoder(device="wx1")
    decoder.receive_data(bad + GOOD_WIRE)
    with pytest.raises(ProtocolError) as caught:
        decoder.next_event()
    assert caught.value.reason == reason
    assert caught.value.device == "wx1"
    assert decoder.next_event() == GOOD_EVENT
    assert decoder.next_event() is NEED_DATA
    assert decoder.statistics().bad_sentences == 1


def test_sentence_of_82_bytes_is_framed_and_83_is_too_long() -> None:
    """The length limit counts `$` and CR LF: 82 bytes are parsed, 83 are rejected unread."""
    at_limit = b"$" + b"W" * 79 + b"\r\n"
    over_limit = b"$" + b"W" * 80 + b"\r\n"
    assert len(at_limit) == MAX_SENTENCE_LENGTH
    _, errors = decode_all(at_limit)
    assert [e.reason for e in errors] == ["missing '*' before the checksum"]
    _, errors = decode_all(over_limit)
    assert [e.reason for e in errors] == ["no CR LF within 82 bytes"]


def test_decoder_waits_for_a_partial_sentence() -> None:
    decoder = WeatherDecoder()
    decoder.receive_data(GOOD_WIRE[:-1])
    assert decoder.next_event() is NEED_DATA
    assert decoder.statistics().buffered_bytes == len(GOOD_WIRE) - 1
    decoder.receive_data(GOOD_WIRE[-1:])
    assert decoder.next_event() == GOOD_EVENT


def test_endless_garbage_keeps_nothing_buffered() -> None:
    decoder = WeatherDecoder()
    for _ in range(100):
        decoder.receive_data(b"\x55" * 1000)
        assert decoder.next_event() is NEED_DATA
        assert decoder.statistics().buffered_bytes == 0
    assert decoder.statistics().garbage_bytes == 100_000


def test_endless_sentence_is_cut_at_the_length_limit() -> None:
    decoder = WeatherDecoder()
    decoder.receive_data(b"$" + b"1" * 10_000)
    _, errors = drain(decoder)
    assert [e.reason for e in errors] == ["no CR LF within 82 bytes"]
    assert decoder.statistics().buffered_bytes == 0


def test_dollar_inside_a_wx_sensor_id_can_expose_a_tail_sentence() -> None:
    """The residual risk of rule R2 that the doc's 'no WX in sensor ids' advice avoids."""
    damaged = b"$WXWND,F$WXGAS,12,20.9,0.0,A*23\r\n"  # from $WXWND,F8WXGAS,12,20.9,0.0,A*23
    events, errors = decode_all(damaged)
    assert [e.reason for e in errors] == ["sentence cut short: '$' at byte 8 before CR LF"]
    assert events == [Sentence(kind="GAS", sensor="12", values=(20.9, 0.0), valid=True)]


# --- encoder and event validation ----------------------------------------------------


def test_encode_rounds_tiny_negative_values_to_unsigned_zero() -> None:
    sentence = Sentence(kind="ATM", sensor="PAD1", values=(-0.01, 50.0, 1000.0), valid=True)
    assert encode_sentence(sentence).startswith(b"$WXATM,PAD1,0.0,50.0,1000.0,A*")


@pytest.mark.parametrize(
    ("decimals", "message"),
    [
        ((1, 1), "WND has 3 fields, got 2 decimals"),
        (-1, "WND field 'mean': decimals must be >= 0, got -1"),
        (9, "WND field 'direction': '271.000000000' is longer than 12 characters"),
    ],
)
def test_encode_rejects_decimals_that_do_not_fit(
    decimals: int | tuple[int, ...], message: str
) -> None:
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        encode_sentence(GOOD_EVENT, decimals=decimals)


@pytest.mark.parametrize(
    ("kind", "sensor", "values", "message"),
    [
        ("RAN", "M10", (1.0,), "unknown sentence kind 'RAN'"),
        ("WND", "m10", (1.0, 2.0, 3.0), "bad sensor id 'm10'"),
        ("WND", "", (1.0, 2.0, 3.0), "bad sensor id ''"),
        ("WND", "M10", (1.0, 2.0), "WND expects 3 values, got 2"),
        ("LTG", "L1", (float("nan"), 0.0), "LTG value 'distance' must be finite"),
    ],
)
def test_sentence_validates_on_construction(
    kind: str, sensor: str, values: tuple[float | None, ...], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        Sentence(kind=kind, sensor=sensor, values=values, valid=True)


# --- exhaustive single-byte mutation of the golden sentences -------------------------


def single_byte_mutations(wire: bytes) -> list[bytes]:
    """Every substitution, insertion and deletion of one byte in ``wire``."""
    mutants = [wire[:i] + wire[i + 1 :] for i in range(len(wire))]
    for i in range(len(wire) + 1):
        mutants += [wire[:i] + bytes([b]) + wire[i:] for b in range(256)]
    for i in range(len(wire)):
        mutants += [wire[:i] + bytes([b]) + wire[i + 1 :] for b in range(256) if b != wire[i]]
    return mutants


@pytest.mark.parametrize("index", range(len(GOLDEN)), ids=GOLDEN_IDS)
def test_no_single_byte_mutation_yields_a_changed_sentence(index: int) -> None:
    """Body, checksum digits or delimiters: one damaged byte never changes a value."""
    wire, event, _ = GOLDEN[index]
    follower_wire, follower, _ = GOLDEN[(index + 1) % len(GOLDEN)]
    for mutant in single_byte_mutations(wire):
        events, _ = decode_all(mutant + follower_wire)
        assert events in ([follower], [event, follower]), mutant


# --- hypothesis fuzzing -------------------------------------------------------------------

numbers = st.tuples(st.integers(-(10**7), 10**7), st.integers(0, 3))
any_sensor = st.from_regex(r"[A-Z0-9]{1,8}", fullmatch=True)


@st.composite
def sentences(draw: st.DrawFn, *, sensors: st.SearchStrategy[str] | None = None) -> bytes:
    """A valid sentence as the station would send it (encoded by the codec)."""
    kind = draw(st.sampled_from(sorted(SENTENCE_FIELDS)))
    sensor = draw(any_sensor if sensors is None else sensors)
    drawn = [draw(st.none() | numbers) for _ in SENTENCE_FIELDS[kind]]
    values = tuple(None if n is None else n[0] / 10 ** n[1] for n in drawn)
    decimals = [0 if n is None else n[1] for n in drawn]
    sentence = Sentence(kind=kind, sensor=sensor, values=values, valid=draw(st.booleans()))
    return encode_sentence(sentence, decimals=decimals)


def decode_one(wire: bytes) -> Sentence:
    events, errors = decode_all(wire)
    assert errors == []
    return events[0]


protocol_bytes = st.lists(
    st.sampled_from([b"$", b"*", b",", b"\r", b"\n", b"\r\n", b"WX", b"WND", b"LTG", b"A", b"V"])
    | st.binary(min_size=1, max_size=4)
    | sentences(),
    max_size=40,
).map(b"".join)


@settings(max_examples=300, deadline=None)
@given(stream=st.binary(max_size=600) | protocol_bytes, data=st.data())
def test_fuzz_arbitrary_bytes_raise_only_protocol_errors(
    stream: bytes, data: st.DataObject
) -> None:
    """Whatever arrives, the decoder raises only ProtocolError and keeps its buffer bounded."""
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=6)))
    decode_all(*(stream[a:b] for a, b in zip([0, *cuts], [*cuts, len(stream)], strict=True)))


@settings(max_examples=200, deadline=None)
@given(wires=st.lists(sentences(), min_size=1, max_size=6), data=st.data())
def test_fuzz_split_points_do_not_change_the_events(
    wires: list[bytes], data: st.DataObject
) -> None:
    stream = b"".join(wires)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=10)))
    events, errors = decode_all(
        *(stream[a:b] for a, b in zip([0, *cuts], [*cuts, len(stream)], strict=True))
    )
    assert errors == []
    assert events == [decode_one(wire) for wire in wires]


# A sensor id containing "WX" could, after a byte turned into '$', expose a tail that is
# itself a well-formed sentence; the protocol document asks stations not to use such ids.
sensors_without_wx = st.from_regex(r"[A-Z0-9]{1,8}", fullmatch=True).filter(
    lambda sensor: "WX" not in sensor
)


@settings(max_examples=300, deadline=None)
@given(
    wires=st.lists(sentences(sensors=sensors_without_wx), min_size=1, max_size=4),
    data=st.data(),
)
def test_fuzz_one_mutated_byte_loses_at_most_its_own_sentence(
    wires: list[bytes], data: st.DataObject
) -> None:
    """A flipped, inserted or deleted byte costs its sentence; it never alters a value."""
    stream = b"".join(wires)
    position = data.draw(st.integers(0, len(stream) - 1))
    mutation = data.draw(st.sampled_from(["flip", "insert", "delete"]))
    if mutation == "flip":
        flipped = data.draw(st.integers(0, 255).filter(lambda b: b != stream[position]))
        mutant = stream[:position] + bytes([flipped]) + stream[position + 1 :]
    elif mutation == "insert":
        inserted = data.draw(st.integers(0, 255))
        mutant = stream[:position] + bytes([inserted]) + stream[position:]
    else:
        mutant = stream[:position] + stream[position + 1 :]
    starts = [sum(len(w) for w in wires[:i]) for i in range(len(wires))]
    hit = max(i for i, start in enumerate(starts) if start <= position)
    originals = [decode_one(wire) for wire in wires]

    events, _ = decode_all(mutant)

    assert events in (originals, originals[:hit] + originals[hit + 1 :])
