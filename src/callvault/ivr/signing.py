"""HMAC request signatures of the IVR API (shared/spec/ivr-api.md, "Request", v2 headers).

``X-Signature: t=<unix seconds>,v1=<hex>[,v1=<hex>]`` where each ``v1`` is
HMAC-SHA256(secret, ``f"{t}."`` + raw body) for one active secret, so an
application keeps verifying while the object's secrets rotate. The time is
always an argument: these functions read no clock. ``verify`` is what an
application (or the simulator, or a test server) runs on its side.
"""

from __future__ import annotations

import hashlib
import hmac

SCHEME = "v1"
DEFAULT_TOLERANCE_S = 300


def _mac(secret: str, timestamp: int, body: bytes) -> str:
    message = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def sign(body: bytes, secrets: list[str], now: int) -> str:
    """The ``X-Signature`` value of ``body`` at unix time ``now``, one ``v1`` per secret."""
    if not secrets:
        raise ValueError("at least one signing secret is needed")
    if any(not secret for secret in secrets):
        raise ValueError("signing secrets must not be empty")
    return ",".join([f"t={int(now)}", *(f"{SCHEME}={_mac(s, int(now), body)}" for s in secrets)])


def _parse(header: str) -> tuple[int, list[str]] | None:
    timestamp: int | None = None
    signatures: list[str] = []
    for part in header.split(","):
        key, sep, value = part.strip().partition("=")
        if not sep:
            return None
        if key == "t":
            if timestamp is not None or not value.isascii() or not value.isdigit():
                return None
            timestamp = int(value)
        elif key == SCHEME:
            signatures.append(value.strip().lower())
        # other schemes are skipped, so a later one can be added beside v1
    if timestamp is None or not signatures:
        return None
    return timestamp, signatures


def verify(
    header: str,
    body: bytes,
    secrets: list[str],
    now: int,
    tolerance_s: int = DEFAULT_TOLERANCE_S,
) -> bool:
    """Whether ``header`` signs ``body`` with one of ``secrets`` within ``tolerance_s`` of ``now``.

    Malformed headers, timestamps further than ``tolerance_s`` from ``now`` (either
    way: replayed or from a skewed clock) and unknown secrets are all ``False``.
    Every candidate is compared in constant time.
    """
    parsed = _parse(header)
    if parsed is None:
        return False
    timestamp, signatures = parsed
    if abs(int(now) - timestamp) > tolerance_s:
        return False
    matched = False
    for secret in secrets:
        if not secret:
            continue
        expected = _mac(secret, timestamp, body).encode()
        for candidate in signatures:
            matched |= hmac.compare_digest(expected, candidate.encode("ascii", "replace"))
    return matched
