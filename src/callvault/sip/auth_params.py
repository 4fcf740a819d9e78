"""The auth-param parser behind Digest headers (RFC 7235 §2.1, RFC 7230 §3.2.6).

Splits ``WWW-Authenticate``/``Authorization`` values into ``(scheme, params)``
items: tokens, quoted strings with backslash escapes, commas inside quotes,
and several challenges in one value (RFC 7235 §4.1).
"""

from __future__ import annotations

from typing import Final

TOKEN_CHARS: Final = frozenset(
    "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
)
_WS: Final = " \t"


class DigestParseError(ValueError):
    """A challenge or credentials value could not be parsed."""


class _Scanner:
    """Tokenizer for ``scheme name=value, name="value", ...`` lists."""

    def __init__(self, text: str) -> None:
        for ch in text:
            if (ord(ch) < 32 and ch != "\t") or ord(ch) == 127:
                raise DigestParseError(f"control character {ch!r} in {text!r}")
        self.text = text
        self.pos = 0

    def skip_ws(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos] in _WS:
            self.pos += 1

    def at_end(self) -> bool:
        self.skip_ws()
        return self.pos >= len(self.text)

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def token(self) -> str:
        start = self.pos
        while self.pos < len(self.text) and self.text[self.pos] in TOKEN_CHARS:
            self.pos += 1
        return self.text[start : self.pos]

    def quoted(self) -> str:
        self.pos += 1  # opening quote
        out: list[str] = []
        while self.pos < len(self.text):
            ch = self.text[self.pos]
            self.pos += 1
            if ch == '"':
                return "".join(out)
            if ch == "\\":
                if self.pos >= len(self.text):
                    break
                ch = self.text[self.pos]
                self.pos += 1
            out.append(ch)
        raise DigestParseError(f"unterminated quoted string in {self.text!r}")

    def value(self) -> str:
        """A quoted string, or leniently any run up to a comma or whitespace."""
        if self.peek() == '"':
            return self.quoted()
        start = self.pos
        while self.pos < len(self.text) and self.text[self.pos] not in ',"' + _WS:
            self.pos += 1
        if start == self.pos:
            raise DigestParseError(f"missing value at offset {start} of {self.text!r}")
        return self.text[start : self.pos]

    def starts_new_challenge(self) -> bool:
        """After a comma: is the next item ``scheme param=...`` rather than ``param=``?"""
        save = self.pos
        self.skip_ws()
        name = self.token()
        self.skip_ws()
        new = bool(name) and self.peek() != "="
        self.pos = save
        return new


def _parse_params(scanner: _Scanner) -> dict[str, str]:
    """``name=value`` items up to the end or the start of another challenge."""
    params: dict[str, str] = {}
    while not scanner.at_end():
        if scanner.peek() == ",":
            scanner.pos += 1
            if scanner.starts_new_challenge():
                break
            continue
        start = scanner.pos
        name = scanner.token().lower()
        scanner.skip_ws()
        if not name or scanner.peek() != "=":
            raise DigestParseError(f"expected 'name=value' at offset {start} of {scanner.text!r}")
        scanner.pos += 1
        scanner.skip_ws()
        value = scanner.value()
        if name in params:
            raise DigestParseError(f"parameter {name!r} repeated in {scanner.text!r}")
        params[name] = value
        scanner.skip_ws()
        if scanner.peek() not in (",", ""):
            raise DigestParseError(f"expected ',' at offset {scanner.pos} of {scanner.text!r}")
    return params


def parse_auth_values(text: str) -> list[tuple[str, dict[str, str]]]:
    """Split a header value into ``(scheme, params)`` challenges or credentials.

    Parameter names are lower-cased; quoted values are unescaped.  Several
    comma-separated challenges in one value (RFC 7235 §4.1) are accepted.
    """
    scanner = _Scanner(text)
    items: list[tuple[str, dict[str, str]]] = []
    while not scanner.at_end():
        if scanner.peek() == ",":
            scanner.pos += 1
            continue
        scheme = scanner.token()
        if not scheme:
            raise DigestParseError(f"expected an auth scheme at offset {scanner.pos} of {text!r}")
        if scanner.peek() not in (*_WS, ",", ""):
            raise DigestParseError(f"invalid auth scheme at offset {scanner.pos} of {text!r}")
        items.append((scheme, _parse_params(scanner)))
    if not items:
        raise DigestParseError("empty authentication header value")
    return items
