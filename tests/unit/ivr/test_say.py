"""The "Say" building blocks: Polish and English numbers, digits, dates and times."""

from __future__ import annotations

import datetime
import random
import re
import wave
from collections.abc import Iterator

import pytest

from callvault.ivr.say import (
    LANGUAGES,
    MAX_NUMBER,
    fragment_names,
    fragment_path,
    fragment_text,
    say_date,
    say_digits,
    say_number,
    say_time,
)

D = datetime.date
T = datetime.time


@pytest.mark.parametrize(
    ("n", "gender", "spoken"),
    [
        (0, "m", "zero"),
        (1, "m", "jeden"),
        (1, "f", "jedna"),
        (1, "n", "jedno"),
        (2, "m", "dwa"),
        (2, "f", "dwie"),
        (2, "n", "dwa"),
        (5, "m", "piec"),
        (10, "m", "dziesiec"),
        (12, "m", "dwanascie"),
        (12, "f", "dwanascie"),
        (15, "m", "pietnascie"),
        (20, "m", "dwadziescia"),
        (21, "m", "dwadziescia jeden"),
        (21, "f", "dwadziescia jeden"),  # jeden does not inflect in compounds
        (22, "m", "dwadziescia dwa"),
        (22, "f", "dwadziescia dwie"),
        (22, "n", "dwadziescia dwa"),
        (99, "m", "dziewiecdziesiat dziewiec"),
        (100, "m", "sto"),
        (101, "m", "sto jeden"),
        (101, "f", "sto jeden"),
        (112, "m", "sto dwanascie"),
        (200, "m", "dwiescie"),
        (300, "m", "trzysta"),
        (400, "m", "czterysta"),
        (500, "m", "piecset"),
        (666, "m", "szescset szescdziesiat szesc"),
        (999, "m", "dziewiecset dziewiecdziesiat dziewiec"),
        (1000, "m", "tysiac"),
        (1001, "m", "tysiac jeden"),
        (1002, "f", "tysiac dwie"),
        (1100, "m", "tysiac sto"),
        (2000, "m", "dwa tysiace"),
        (2000, "f", "dwa tysiace"),  # tysiąc is masculine whatever is counted
        (3000, "m", "trzy tysiace"),
        (4000, "m", "cztery tysiace"),
        (5000, "m", "piec tysiecy"),
        (11000, "m", "jedenascie tysiecy"),
        (12000, "m", "dwanascie tysiecy"),
        (14000, "m", "czternascie tysiecy"),
        (21000, "m", "dwadziescia jeden tysiecy"),
        (22000, "m", "dwadziescia dwa tysiace"),
        (22000, "f", "dwadziescia dwa tysiace"),
        (25000, "m", "dwadziescia piec tysiecy"),
        (101000, "m", "sto jeden tysiecy"),
        (112000, "m", "sto dwanascie tysiecy"),
        (124000, "m", "sto dwadziescia cztery tysiace"),
        (1_000_000, "m", "milion"),
        (1_000_001, "m", "milion jeden"),
        (2_000_000, "m", "dwa miliony"),
        (2_500_000, "m", "dwa miliony piecset tysiecy"),
        (5_000_000, "m", "piec milionow"),
        (12_000_000, "m", "dwanascie milionow"),
        (22_000_000, "m", "dwadziescia dwa miliony"),
        (1_001_000, "m", "milion tysiac"),
        (
            123_456_789,
            "m",
            "sto dwadziescia trzy miliony czterysta piecdziesiat szesc tysiecy "
            "siedemset osiemdziesiat dziewiec",
        ),
        (
            MAX_NUMBER,
            "m",
            "dziewiecset dziewiecdziesiat dziewiec milionow "
            "dziewiecset dziewiecdziesiat dziewiec tysiecy "
            "dziewiecset dziewiecdziesiat dziewiec",
        ),
        (-1, "f", "minus jedna"),
        (-22, "m", "minus dwadziescia dwa"),
        (-2000, "m", "minus dwa tysiace"),
    ],
)
def test_polish_numbers(n: int, gender: str, spoken: str) -> None:
    assert say_number(n, "pl", gender) == spoken.split()


def test_polish_is_the_default_language_and_masculine_the_default_gender() -> None:
    assert say_number(21) == ["dwadziescia", "jeden"]
    assert say_number(2) == ["dwa"]


@pytest.mark.parametrize(
    ("n", "spoken"),
    [
        (0, "zero"),
        (1, "one"),
        (2, "two"),
        (12, "twelve"),
        (13, "thirteen"),
        (20, "twenty"),
        (21, "twenty one"),
        (22, "twenty two"),
        (40, "forty"),
        (100, "one hundred"),
        (101, "one hundred and one"),
        (105, "one hundred and five"),
        (112, "one hundred and twelve"),
        (200, "two hundred"),
        (999, "nine hundred and ninety nine"),
        (1000, "one thousand"),
        (1001, "one thousand and one"),
        (1105, "one thousand one hundred and five"),
        (2000, "two thousand"),
        (5000, "five thousand"),
        (12000, "twelve thousand"),
        (22000, "twenty two thousand"),
        (1_000_000, "one million"),
        (2_500_000, "two million five hundred thousand"),
        (3_000_042, "three million and forty two"),
        (-7, "minus seven"),
    ],
)
def test_english_numbers(n: int, spoken: str) -> None:
    assert say_number(n, "en") == spoken.split()
    assert say_number(n, "en", "f") == spoken.split(), "English ignores gender"


def test_number_errors() -> None:
    with pytest.raises(ValueError, match="outside"):
        say_number(MAX_NUMBER + 1)
    with pytest.raises(ValueError, match="outside"):
        say_number(-MAX_NUMBER - 1, "en")
    with pytest.raises(ValueError, match="gender"):
        say_number(1, "pl", "x")
    with pytest.raises(ValueError, match="language"):
        say_number(1, "de")
    with pytest.raises(TypeError):
        say_number(True)
    with pytest.raises(TypeError):
        say_number(1.0)  # type: ignore[arg-type]


def test_digits() -> None:
    polish = "zero jeden dwa trzy cztery piec szesc siedem osiem dziewiec gwiazdka krzyzyk"
    english = "zero one two three four five six seven eight nine star hash"
    assert say_digits("0123456789*#") == polish.split()
    assert say_digits("0123456789*#", "en") == english.split()
    assert say_digits("", "en") == []
    assert say_digits("007") == ["zero", "zero", "siedem"]


@pytest.mark.parametrize("bad", ["12a", " 1", "1-2", "+48", "٣", "A"])
def test_digits_reject_non_keys(bad: str) -> None:
    with pytest.raises(ValueError, match="only 0-9"):
        say_digits(bad)
    with pytest.raises(ValueError, match="only 0-9"):
        say_digits(bad, "en")


@pytest.mark.parametrize(
    ("day", "spoken"),
    [
        (D(2026, 11, 25), "dwudziesty piaty listopada dwa tysiace dwadziescia szesc"),
        (D(2000, 1, 1), "pierwszy stycznia dwa tysiace"),
        (
            D(1999, 12, 31),
            "trzydziesty pierwszy grudnia tysiac dziewiecset dziewiecdziesiat dziewiec",
        ),
        (D(2024, 2, 29), "dwudziesty dziewiaty lutego dwa tysiace dwadziescia cztery"),
        (D(2026, 3, 2), "drugi marca dwa tysiace dwadziescia szesc"),
        (D(2026, 9, 12), "dwunasty wrzesnia dwa tysiace dwadziescia szesc"),
        (D(2026, 10, 20), "dwudziesty pazdziernika dwa tysiace dwadziescia szesc"),
        (D(2026, 4, 30), "trzydziesty kwietnia dwa tysiace dwadziescia szesc"),
        (D(2021, 5, 3), "trzeci maja dwa tysiace dwadziescia jeden"),
    ],
)
def test_polish_dates(day: datetime.date, spoken: str) -> None:
    assert say_date(day) == spoken.split()
    assert say_date(day, "pl") == spoken.split()


@pytest.mark.parametrize(
    ("day", "spoken"),
    [
        (D(2026, 11, 25), "november twenty fifth two thousand twenty six"),
        (D(2000, 1, 1), "january first two thousand"),
        (D(2009, 7, 4), "july fourth two thousand nine"),
        (D(1999, 12, 31), "december thirty first nineteen ninety nine"),
        (D(1905, 3, 30), "march thirtieth nineteen oh five"),
        (D(1900, 6, 20), "june twentieth nineteen hundred"),
        (D(2100, 8, 12), "august twelfth twenty one hundred"),
        (D(1066, 10, 14), "october fourteenth ten sixty six"),
        (D(1001, 2, 2), "february second one thousand one"),
        (D(476, 9, 4), "september fourth four hundred seventy six"),
    ],
)
def test_english_dates(day: datetime.date, spoken: str) -> None:
    assert say_date(day, "en") == spoken.split()


@pytest.mark.parametrize(
    ("clock", "spoken"),
    [
        (T(0, 0), "godzina zero"),
        (T(0, 30), "godzina zero trzydziesci"),
        (T(1, 0), "godzina pierwsza"),
        (T(9, 5), "godzina dziewiata zero piec"),
        (T(12, 22), "godzina dwunasta dwadziescia dwie"),
        (T(14, 0), "godzina czternasta"),
        (T(14, 30), "godzina czternasta trzydziesci"),
        (T(20, 1), "godzina dwudziesta zero jeden"),
        (T(21, 21), "godzina dwudziesta pierwsza dwadziescia jeden"),
        (T(23, 59), "godzina dwudziesta trzecia piecdziesiat dziewiec"),
        (T(23, 59, 59), "godzina dwudziesta trzecia piecdziesiat dziewiec"),
    ],
)
def test_polish_times(clock: datetime.time, spoken: str) -> None:
    assert say_time(clock) == spoken.split()


@pytest.mark.parametrize(
    ("clock", "spoken"),
    [
        (T(0, 0), "zero hundred"),
        (T(0, 15), "zero fifteen"),
        (T(9, 5), "nine oh five"),
        (T(12, 22), "twelve twenty two"),
        (T(14, 0), "fourteen hundred"),
        (T(14, 30), "fourteen thirty"),
        (T(23, 59), "twenty three fifty nine"),
    ],
)
def test_english_times(clock: datetime.time, spoken: str) -> None:
    assert say_time(clock, "en") == spoken.split()


def test_unknown_language_is_refused_everywhere() -> None:
    for call in (
        lambda: say_digits("1", "xx"),
        lambda: say_date(D(2026, 1, 1), "xx"),
        lambda: say_time(T(1, 2), "xx"),
        lambda: fragment_names("xx"),
        lambda: fragment_text("xx"),
        lambda: fragment_path("xx", "zero"),
    ):
        with pytest.raises(ValueError, match="unknown language"):
            call()


def _every_output(language: str) -> Iterator[list[str]]:
    """Outputs over a wide range: numbers, random large ones, all dates, all minutes."""
    rng = random.Random(20261125)
    for gender in ("m", "f", "n"):
        for n in range(-20, 2001):
            yield say_number(n, language, gender)
        for _ in range(3000):
            yield say_number(rng.randint(-MAX_NUMBER, MAX_NUMBER), language, gender)
    for n in (MAX_NUMBER, -MAX_NUMBER, 1_000_000, 2_000_000, 5_000_000, 100_000_000):
        yield say_number(n, language)
    yield say_digits("0123456789*#", language)
    for year in (2024, 2026):  # a leap year and a common one
        day = D(year, 1, 1)
        while day.year == year:
            yield say_date(day, language)
            day += datetime.timedelta(days=1)
    for year in range(1, 10000, 7):
        yield say_date(D(year, 6, 15), language)
    for minute in range(24 * 60):
        yield say_time(T(minute // 60, minute % 60), language)


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_output_is_a_known_fragment_and_every_fragment_is_used(language: str) -> None:
    names = fragment_names(language)
    seen: set[str] = set()
    for output in _every_output(language):
        assert output, "every value says something"
        unknown = set(output) - names
        assert not unknown, f"{output} uses unknown fragments {unknown}"
        seen.update(output)
    assert seen == names, f"fragments never produced: {names - seen}"


@pytest.mark.parametrize("language", LANGUAGES)
def test_fragment_names_are_file_name_safe_and_have_text(language: str) -> None:
    texts = fragment_text(language)
    assert set(texts) == fragment_names(language)
    for name, text in texts.items():
        assert re.fullmatch(r"[a-z]+", name), name
        assert text.strip() == text and text, name
    assert fragment_text(language) is not fragment_text(language), "callers get a copy"


def test_polish_text_keeps_diacritics() -> None:
    texts = fragment_text("pl")
    assert texts["dwiescie"] == "dwieście"
    assert texts["piecset"] == "pięćset"
    assert texts["tysiecy"] == "tysięcy"
    assert texts["pazdziernika"] == "października"
    assert texts["krzyzyk"] == "krzyżyk"
    assert texts["milionow"] == "milionów"
    assert fragment_text("en")["november"] == "November"


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_fragment_has_an_8khz_mono_16bit_recording(language: str) -> None:
    for name in sorted(fragment_names(language)):
        path = fragment_path(language, name)
        assert path.name == f"{name}.wav"
        assert path.is_file(), f"missing {path}: run scripts/generate_say_fragments.py"
        with wave.open(str(path), "rb") as recording:
            assert recording.getframerate() == 8000, path
            assert recording.getnchannels() == 1, path
            assert recording.getsampwidth() == 2, path
            assert recording.getcomptype() == "NONE", path
            frames = recording.getnframes()
            assert 0.1 * 8000 < frames < 2.5 * 8000, f"{path}: {frames} frames"
            assert any(recording.readframes(frames)), f"{path} is silent"


def test_fragment_path_refuses_unknown_names() -> None:
    with pytest.raises(ValueError, match="no fragment"):
        fragment_path("pl", "../../etc/passwd")
    with pytest.raises(ValueError, match="no fragment"):
        fragment_path("en", "dwiescie")
