"""Phone numbers to E.164 and back (ITU-T E.164; Polish numbering plan by default).

Stored numbers are E.164 digits without ``+`` (``48221234567``).  Input is
what people type: ``+48 22 123 45 67``, ``0048 22 123 45 67``,
``(22) 123-45-67``, ``221234567``.  Numbers of other countries keep their
country code.  :func:`to_national` formats for a trunk that wants national
numbers.
"""

from __future__ import annotations

import re

_SEPARATORS = re.compile(r"[\s\-./()]")


class InvalidNumberError(ValueError):
    """The text is not a phone number we can store; the message says why."""


def normalize(text: str, *, country_code: str = "48", national_length: int = 9) -> str:
    """E.164 digits (no ``+``) for ``text``; raise :class:`InvalidNumberError` if it is none."""
    raw = text.strip()
    if not raw:
        raise InvalidNumberError("empty number")
    cleaned = _SEPARATORS.sub("", raw)
    if cleaned.startswith("+"):
        digits = cleaned[1:]
        international = True
    elif cleaned.startswith("00"):
        digits = cleaned[2:]
        international = True
    else:
        digits = cleaned
        international = False
    if not (digits.isascii() and digits.isdigit()):
        bad = next((c for c in digits if not (c.isascii() and c.isdigit())), "?")
        raise InvalidNumberError(f"{text!r} contains {bad!r}; use digits, spaces, dashes, +")
    if not international:
        if digits.startswith("0") and len(digits) == national_length + 1:
            digits = digits[1:]  # old trunk prefix, e.g. "022 123 45 67"
        if len(digits) == national_length:
            digits = country_code + digits
        elif not (
            digits.startswith(country_code) and len(digits) == len(country_code) + national_length
        ):
            raise InvalidNumberError(
                f"{text!r} is not a national number ({national_length} digits) "
                f"nor an international one (start it with + or 00)"
            )
    if not 8 <= len(digits) <= 15:
        raise InvalidNumberError(f"{text!r} has {len(digits)} digits; E.164 allows 8 to 15")
    if digits.startswith("0"):
        raise InvalidNumberError(f"{text!r}: a country code cannot start with 0")
    return digits


def normalize_or_raw(text: str) -> str:
    """E.164 digits when ``text`` is a phone number, else ``text`` unchanged (an extension,
    a login, ``anonymous``): how callers are shown and matched."""
    try:
        return normalize(text)
    except InvalidNumberError:
        return text


def to_national(e164: str, *, country_code: str = "48") -> str:
    """National form for a domestic number, ``00``-prefixed international otherwise."""
    if e164.startswith(country_code):
        return e164[len(country_code) :]
    return "00" + e164


def display(e164: str) -> str:
    """``+48 22 123 45 67`` style for Polish numbers, ``+<digits>`` otherwise."""
    if e164.startswith("48") and len(e164) == 11:
        n = e164[2:]
        return f"+48 {n[0:2]} {n[2:5]} {n[5:7]} {n[7:9]}"
    return "+" + e164
