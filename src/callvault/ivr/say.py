"""The "Say" building blocks: numbers, digits, dates and times as prompt fragments.

An IVR application speaks "your position in the queue is *twenty two*" by
playing pre-recorded fragments one after another.  The functions here are
pure: they turn a value into the list of fragment names to play (for example
``say_number(21) == ["dwadziescia", "jeden"]``) and do no I/O.  The language
rules live in :mod:`callvault.ivr.say_pl` and :mod:`callvault.ivr.say_en`;
the recordings themselves are 8 kHz mono 16-bit WAVs under
``ivr/sounds/<language>/<name>.wav`` (made by
``scripts/generate_say_fragments.py``), found with :func:`fragment_path`.

Fragment names are ASCII and file-name safe (Polish diacritics stripped:
``dwiescie``, ``piecset``); :func:`fragment_text` maps each name to the text
with diacritics that was synthesised for it.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from callvault.ivr import say_en, say_pl

LANGUAGES = ("pl", "en")
GENDERS = ("m", "f", "n")
MAX_NUMBER = 999_999_999
KEYS = frozenset("0123456789*#")
SOUNDS = Path(__file__).resolve().parent / "sounds"


@dataclass(frozen=True)
class _Language:
    """The rules of one language, as the language module provides them."""

    number: Callable[[int, str], list[str]]
    digits: Callable[[str], list[str]]
    date: Callable[[datetime.date], list[str]]
    time: Callable[[datetime.time], list[str]]
    text: dict[str, str]


_RULES = {
    "pl": _Language(say_pl.number, say_pl.digits, say_pl.date, say_pl.time, say_pl.TEXT),
    "en": _Language(say_en.number, say_en.digits, say_en.date, say_en.time, say_en.TEXT),
}


def _rules(language: str) -> _Language:
    try:
        return _RULES[language]
    except KeyError:
        raise ValueError(f"unknown language {language!r} (have {', '.join(LANGUAGES)})") from None


def say_number(n: int, language: str = "pl", gender: str = "m") -> list[str]:
    """Fragments speaking the whole number ``n`` (-999 999 999..999 999 999).

    ``gender`` (m, f or n) is the gender of the counted noun; it matters only in
    Polish, for the units 1 and 2 (``jedna``, ``dwie``, ``jedno``).
    """
    rules = _rules(language)
    if isinstance(n, bool) or not isinstance(n, int):
        raise TypeError(f"say_number needs an int, not {type(n).__name__}")
    if gender not in GENDERS:
        raise ValueError(f"unknown gender {gender!r} (have {', '.join(GENDERS)})")
    if abs(n) > MAX_NUMBER:
        raise ValueError(f"{n} is outside -{MAX_NUMBER}..{MAX_NUMBER}")
    return rules.number(n, gender)


def say_digits(digits: str, language: str = "pl") -> list[str]:
    """Fragments reading ``digits`` one key at a time (0-9, ``*`` and ``#``)."""
    rules = _rules(language)
    bad = sorted(set(digits) - KEYS)
    if bad:
        raise ValueError(f"cannot say {', '.join(map(repr, bad))}: only 0-9, * and # are keys")
    return rules.digits(digits)


def say_date(d: datetime.date, language: str = "pl") -> list[str]:
    """Fragments speaking a calendar date (day, month and year)."""
    return _rules(language).date(d)


def say_time(t: datetime.time, language: str = "pl") -> list[str]:
    """Fragments speaking a 24-hour clock time (hours and minutes)."""
    return _rules(language).time(t)


def fragment_text(language: str) -> dict[str, str]:
    """Fragment name -> the text synthesised for it (with Polish diacritics)."""
    return dict(_rules(language).text)


def fragment_names(language: str) -> set[str]:
    """Every fragment name any ``say_*`` function can return in ``language``."""
    return set(_rules(language).text)


def fragment_path(language: str, name: str) -> Path:
    """The WAV recording of fragment ``name`` in ``language``."""
    if name not in _rules(language).text:
        raise ValueError(f"no fragment {name!r} in {language}")
    return SOUNDS / language / f"{name}.wav"
