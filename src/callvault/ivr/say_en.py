"""English "Say" rules: numbers, digits, dates and times as prompt fragments.

Fragment names are the lower-case words themselves (``twenty``, ``november``);
the text synthesised for them is the same word (month names capitalised).

Conventions chosen:

* cardinals in the British style with "and" before the last two digits:
  ``one hundred and five``, ``one thousand and one``,
  ``two million five hundred thousand``; ``1000`` is ``one thousand``;
* dates as "<month> <day ordinal> <year>": ``November twenty fifth two
  thousand twenty six``.  Years are read as people say them: 2000-2099 and
  years whose last three digits are below ten as "<n> thousand <rest>" without
  "and" (``two thousand twenty six``, ``three thousand``), other years from
  1000 in pairs (``nineteen ninety nine``, ``nineteen oh five``, ``nineteen
  hundred``), years before 1000 as a cardinal without "and";
* times on the 24-hour clock: ``fourteen thirty``, ``fourteen hundred`` for a
  full hour, ``nine oh five`` for minutes 01-09; midnight's hour is ``zero``
  (``zero hundred``, ``zero fifteen``).  Seconds are not said.
"""

from __future__ import annotations

import datetime

MINUS = "minus"
AND = "and"
OH = "oh"
HUNDRED = "hundred"
SCALES = ((1_000_000, "million"), (1000, "thousand"))
ONES = (
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
)
TENS = ("", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")
ORDINALS = (
    "",
    "first",
    "second",
    "third",
    "fourth",
    "fifth",
    "sixth",
    "seventh",
    "eighth",
    "ninth",
    "tenth",
    "eleventh",
    "twelfth",
    "thirteenth",
    "fourteenth",
    "fifteenth",
    "sixteenth",
    "seventeenth",
    "eighteenth",
    "nineteenth",
)
ORDINAL_TENS = {2: "twentieth", 3: "thirtieth"}
MONTHS = (
    "",
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
KEYS = {"*": "star", "#": "hash"}


def name(word: str) -> str:
    """The fragment name of an English word (lower case)."""
    return word.lower()


def _all_words() -> list[str]:
    words = [MINUS, AND, OH, HUNDRED, *(scale for _, scale in SCALES), *ONES, *TENS]
    words += [*ORDINALS, *ORDINAL_TENS.values(), *MONTHS, *KEYS.values()]
    return [w for w in words if w]


TEXT: dict[str, str] = {name(word): word for word in _all_words()}
"""Fragment name -> the English text espeak-ng synthesises for it."""


def _below_hundred(n: int) -> list[str]:
    if n < 20:
        return [ONES[n]]
    tens, unit = divmod(n, 10)
    return [TENS[tens], ONES[unit]] if unit else [TENS[tens]]


def _below_thousand(n: int, use_and: bool) -> list[str]:
    hundreds, rest = divmod(n, 100)
    words = [ONES[hundreds], HUNDRED] if hundreds else []
    if rest:
        if hundreds and use_and:
            words.append(AND)
        words += _below_hundred(rest)
    return words


def _cardinal(n: int, use_and: bool) -> list[str]:
    if n == 0:
        return [ONES[0]]
    words: list[str] = [MINUS] if n < 0 else []
    rest = abs(n)
    for size, scale in SCALES:
        count, rest = divmod(rest, size)
        if count:
            words += [*_below_thousand(count, use_and), scale]
    if rest:
        if use_and and rest < 100 and abs(n) >= 1000:
            words.append(AND)
        words += _below_thousand(rest, use_and)
    return words


def number(n: int, gender: str) -> list[str]:
    """Fragment names of the cardinal ``n``; English has no gender to apply."""
    del gender
    return _cardinal(n, use_and=True)


def digits(keys: str) -> list[str]:
    """Fragment names reading ``keys`` digit by digit (validated by the caller)."""
    return [KEYS[k] if k in KEYS else ONES[int(k)] for k in keys]


def _ordinal(n: int) -> list[str]:
    if n < 20:
        return [ORDINALS[n]]
    tens, unit = divmod(n, 10)
    return [TENS[tens], ORDINALS[unit]] if unit else [ORDINAL_TENS[tens]]


def year(y: int) -> list[str]:
    """Fragment names of a year as spoken (see the module docstring)."""
    if y < 1000 or 2000 <= y < 2100 or y % 1000 < 10:
        return _cardinal(y, use_and=False)
    century, rest = divmod(y, 100)
    words = _below_hundred(century)
    if rest == 0:
        return [*words, HUNDRED]
    if rest < 10:
        return [*words, OH, ONES[rest]]
    return words + _below_hundred(rest)


def date(d: datetime.date) -> list[str]:
    """Fragment names of a date: month, day ordinal, year."""
    return [name(MONTHS[d.month]), *_ordinal(d.day), *year(d.year)]


def time(t: datetime.time) -> list[str]:
    """Fragment names of a 24-hour clock time (seconds are not said)."""
    words = _below_hundred(t.hour)
    if t.minute == 0:
        return [*words, HUNDRED]
    if t.minute < 10:
        return [*words, OH, ONES[t.minute]]
    return words + _below_hundred(t.minute)
