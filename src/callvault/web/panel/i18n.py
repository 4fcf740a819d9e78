"""The panel's languages: message catalogs (Polish and English), the language choice, formats.

The catalogs are ``locales/pl.json`` and ``locales/en.json`` beside this
module, plus one pair per panel section in ``locales/<section>/pl.json`` and
``locales/<section>/en.json`` (the admin screens'): flat ``{"key": "text"}``
maps with the same keys -- a key defined twice is an error --, the Polish words
taken from the project's glossary (``nagranie``, ``historia połączeń``,
``trwające połączenia``...).  Texts may hold ``{name}`` placeholders.

The language of a page is, first to last: a ``?lang=`` switch (which is then
kept in the :data:`LANG_COOKIE` cookie), that cookie, the signed-in user's
own setting (``users.language``), and Polish.
"""

from __future__ import annotations

import json
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Request

from callvault.web.context import as_utc

LANGUAGES = ("pl", "en")
DEFAULT_LANGUAGE = "pl"
LANG_COOKIE = "cv_lang"
DASH = "\u2013"
"""What a page shows for an empty value (an en dash)."""
LOCALES = Path(__file__).parent / "locales"
_DATE_FORMATS = {"pl": "%d.%m.%Y", "en": "%Y-%m-%d"}


@cache
def catalog(lang: str) -> dict[str, str]:
    """The messages of ``lang`` (read once)."""
    merged: dict[str, str] = {}
    for path in [LOCALES / f"{lang}.json", *sorted(LOCALES.glob(f"*/{lang}.json"))]:
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict):
            raise ValueError(f"{path}: a message catalog is a JSON object of key to text")
        twice = sorted(set(data) & set(merged))
        if twice:
            raise ValueError(f"{path}: keys already defined in another catalog: {twice}")
        merged.update({str(key): str(value) for key, value in data.items()})
    return merged


def choose_language(request: Request, user_language: str | None = None) -> tuple[str, bool]:
    """The page's language, and whether it came from ``?lang=`` (so the cookie must be set)."""
    asked = request.query_params.get("lang", "")
    if asked in LANGUAGES:
        return asked, True
    kept = request.cookies.get(LANG_COOKIE, "")
    if kept in LANGUAGES:
        return kept, False
    if user_language in LANGUAGES:
        return str(user_language), False
    return DEFAULT_LANGUAGE, False


class Translator:
    """Messages, times, durations and sizes in one language and time zone."""

    def __init__(self, lang: str, tz: ZoneInfo) -> None:
        self.lang = lang if lang in LANGUAGES else DEFAULT_LANGUAGE
        self.tz = tz
        self.messages = catalog(self.lang)

    def __call__(self, key: str, **params: Any) -> str:
        """The message ``key`` (the key itself when missing: visible, never a crash)."""
        text = self.messages.get(key)
        if text is None:
            return key
        return text.format(**params) if params else text

    def label(self, group: str, value: object) -> str:
        """``direction.inbound``-style labels of stored values; unknown values as they are."""
        if value is None or value == "":
            return DASH
        key = f"{group}.{value}"
        return self.messages.get(key, str(value))

    def local(self, value: datetime | str | None) -> datetime | None:
        """A stored time (datetime or ISO text, UTC) in the account's time zone."""
        if value is None or value == "":
            return None
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        return as_utc(value).astimezone(self.tz)

    def when(self, value: datetime | str | None, seconds: bool = False) -> str:
        """A date and time for people: ``25.11.2026 10:00`` / ``2026-11-25 10:00``."""
        local = self.local(value)
        if local is None:
            return DASH
        clock = "%H:%M:%S" if seconds else "%H:%M"
        return local.strftime(f"{_DATE_FORMATS[self.lang]} {clock}")

    def iso_local(self, value: datetime | str | None) -> str:
        """The machine-readable local time (for ``<time datetime=...>``)."""
        local = self.local(value)
        return local.isoformat(timespec="seconds") if local else ""

    @staticmethod
    def duration(seconds: float | None) -> str:
        """``1:35`` or ``1:02:03``; a dash when unknown."""
        if seconds is None:
            return DASH
        total = max(0, round(float(seconds)))
        hours, rest = divmod(total, 3600)
        minutes, secs = divmod(rest, 60)
        return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"

    def count(self, value: int) -> str:
        """A count with the language's thousands separator: ``10 000`` / ``10,000``."""
        text = f"{value:,}"
        return text.replace(",", "\u00a0") if self.lang == "pl" else text

    def size(self, value: int | None) -> str:
        """A byte count as kB / MB with the language's decimal sign."""
        if not value:
            return DASH
        number, unit = (value / 1_048_576, "MB") if value >= 1_048_576 else (value / 1024, "kB")
        text = f"{number:.1f}"
        return f"{text.replace('.', ',') if self.lang == 'pl' else text} {unit}"

    def script_messages(self) -> dict[str, str]:
        """The ``js.*`` messages, for the page's scripts."""
        return {key[3:]: text for key, text in self.messages.items() if key.startswith("js.")}
