"""Polish "Say" rules: numbers, digits, dates and times as prompt fragments.

Every word is written here with its diacritics (the text espeak-ng speaks);
the fragment *name* returned to callers is the same word lower-cased with the
diacritics stripped (``dwieście`` -> ``dwiescie``), so it can be a file name.

Grammar covered:

* cardinals 0..999 999 999 with the gender of 1 and 2 (jeden/jedna/jedno,
  dwa/dwie) applied to the units of the counted noun.  In compound numerals
  ``jeden`` does not inflect (``dwadzieścia jeden kobiet``, ``sto jeden``),
  while ``dwie`` does (``dwadzieścia dwie``);
* thousands and millions in the three plural forms (tysiąc / tysiące for
  counts ending in 2-4 except 12-14 / tysięcy otherwise), with ``jeden
  tysiąc`` and ``jeden milion`` said just ``tysiąc`` and ``milion``;
* dates as "<day ordinal, masculine nominative> <month, genitive> <year as
  a cardinal>": ``dwudziesty piąty listopada dwa tysiące dwadzieścia sześć``;
* times as "godzina <hour as a feminine ordinal> <minutes>": midnight's hour is
  said ``zero`` (as station announcements do), minutes 01-09 are ``zero`` and
  the digit (``zero pięć``), minutes 10-59 a feminine cardinal (counting
  *minuty*: ``dwadzieścia dwie``) and a full hour has no minutes at all
  (``godzina czternasta``).  Seconds are not said.
"""

from __future__ import annotations

import datetime

_ASCII = str.maketrans("ąćęłńóśźż", "acelnoszz")

MINUS = "minus"
UNITS = ("zero", "jeden", "dwa", "trzy", "cztery", "pięć", "sześć", "siedem", "osiem", "dziewięć")
ONE = {"m": "jeden", "f": "jedna", "n": "jedno"}
TWO = {"m": "dwa", "f": "dwie", "n": "dwa"}
TEENS = (
    "dziesięć",
    "jedenaście",
    "dwanaście",
    "trzynaście",
    "czternaście",
    "piętnaście",
    "szesnaście",
    "siedemnaście",
    "osiemnaście",
    "dziewiętnaście",
)
TENS = (
    "",
    "",
    "dwadzieścia",
    "trzydzieści",
    "czterdzieści",
    "pięćdziesiąt",
    "sześćdziesiąt",
    "siedemdziesiąt",
    "osiemdziesiąt",
    "dziewięćdziesiąt",
)
HUNDREDS = (
    "",
    "sto",
    "dwieście",
    "trzysta",
    "czterysta",
    "pięćset",
    "sześćset",
    "siedemset",
    "osiemset",
    "dziewięćset",
)
# singular, paucal (2-4 but not 12-14), genitive plural
THOUSAND = ("tysiąc", "tysiące", "tysięcy")
MILLION = ("milion", "miliony", "milionów")

ORDINAL_M = (
    "",
    "pierwszy",
    "drugi",
    "trzeci",
    "czwarty",
    "piąty",
    "szósty",
    "siódmy",
    "ósmy",
    "dziewiąty",
    "dziesiąty",
    "jedenasty",
    "dwunasty",
    "trzynasty",
    "czternasty",
    "piętnasty",
    "szesnasty",
    "siedemnasty",
    "osiemnasty",
    "dziewiętnasty",
)
ORDINAL_TENS_M = {2: "dwudziesty", 3: "trzydziesty"}
ORDINAL_F = (
    "",
    "pierwsza",
    "druga",
    "trzecia",
    "czwarta",
    "piąta",
    "szósta",
    "siódma",
    "ósma",
    "dziewiąta",
    "dziesiąta",
    "jedenasta",
    "dwunasta",
    "trzynasta",
    "czternasta",
    "piętnasta",
    "szesnasta",
    "siedemnasta",
    "osiemnasta",
    "dziewiętnasta",
)
ORDINAL_TENS_F = {2: "dwudziesta"}
MONTHS = (
    "",
    "stycznia",
    "lutego",
    "marca",
    "kwietnia",
    "maja",
    "czerwca",
    "lipca",
    "sierpnia",
    "września",
    "października",
    "listopada",
    "grudnia",
)
HOUR = "godzina"
KEYS = {"*": "gwiazdka", "#": "krzyżyk"}


def name(word: str) -> str:
    """The ASCII fragment name of a Polish word (``pięćset`` -> ``piecset``)."""
    return word.lower().translate(_ASCII)


def _all_words() -> list[str]:
    words = [MINUS, HOUR, *UNITS, *ONE.values(), *TWO.values(), *TEENS, *TENS, *HUNDREDS]
    words += [*THOUSAND, *MILLION, *ORDINAL_M, *ORDINAL_TENS_M.values()]
    words += [*ORDINAL_F, *ORDINAL_TENS_F.values(), *MONTHS, *KEYS.values()]
    return [w for w in words if w]


TEXT: dict[str, str] = {name(word): word for word in _all_words()}
"""Fragment name -> the Polish text espeak-ng synthesises for it."""


def plural_form(count: int) -> int:
    """Index into THOUSAND/MILLION for ``count`` of them: 0 one, 1 paucal, 2 many."""
    if count == 1:
        return 0
    if count % 10 in (2, 3, 4) and count % 100 not in (12, 13, 14):
        return 1
    return 2


def _below_thousand(n: int, gender: str, alone: bool) -> list[str]:
    """Words for 1..999; ``alone`` means the whole number is 1 (inflects jeden)."""
    words: list[str] = []
    hundreds, rest = divmod(n, 100)
    if hundreds:
        words.append(HUNDREDS[hundreds])
    if 10 <= rest < 20:
        words.append(TEENS[rest - 10])
        return words
    tens, unit = divmod(rest, 10)
    if tens:
        words.append(TENS[tens])
    if unit == 1:
        words.append(ONE[gender] if alone else "jeden")
    elif unit == 2:
        words.append(TWO[gender])
    elif unit:
        words.append(UNITS[unit])
    return words


def number(n: int, gender: str) -> list[str]:
    """Fragment names of the cardinal ``n`` (range checked by the caller)."""
    if n == 0:
        return [name(UNITS[0])]
    words: list[str] = [MINUS] if n < 0 else []
    magnitude = abs(n)
    millions, below_million = divmod(magnitude, 1_000_000)
    thousands, rest = divmod(below_million, 1000)
    for count, forms in ((millions, MILLION), (thousands, THOUSAND)):
        if count == 1:
            words.append(forms[0])
        elif count:
            # tysiąc and milion are masculine nouns: "dwa tysiące", "dwa miliony"
            words += _below_thousand(count, "m", alone=False)
            words.append(forms[plural_form(count)])
    if rest:
        words += _below_thousand(rest, gender, alone=magnitude == 1)
    return [name(w) for w in words]


def digits(keys: str) -> list[str]:
    """Fragment names reading ``keys`` digit by digit (validated by the caller)."""
    return [name(KEYS[k]) if k in KEYS else name(UNITS[int(k)]) for k in keys]


def _ordinal(n: int, ones: tuple[str, ...], tens: dict[int, str]) -> list[str]:
    if n < 20:
        return [ones[n]]
    ten, unit = divmod(n, 10)
    return [tens[ten], ones[unit]] if unit else [tens[ten]]


def date(d: datetime.date) -> list[str]:
    """Fragment names of a date: day ordinal, month in the genitive, year."""
    words = [*_ordinal(d.day, ORDINAL_M, ORDINAL_TENS_M), MONTHS[d.month]]
    return [name(w) for w in words] + number(d.year, "m")


def time(t: datetime.time) -> list[str]:
    """Fragment names of a 24-hour clock time (seconds are not said)."""
    words = [HOUR]
    words += [UNITS[0]] if t.hour == 0 else _ordinal(t.hour, ORDINAL_F, ORDINAL_TENS_F)
    names = [name(w) for w in words]
    if 0 < t.minute < 10:
        names += [name(UNITS[0]), name(UNITS[t.minute])]
    elif t.minute:
        names += number(t.minute, "f")
    return names
