"""``X-Signature`` signing and verification (shared/spec/ivr-api.md, "Request", v2 headers)."""

from __future__ import annotations

import pytest

from callvault.ivr.signing import sign, verify

BODY = b'{"request":{}}'
NOW = 1_700_000_000
# Reference values computed independently: printf '1700000000.{"request":{}}' |
# openssl dgst -sha256 -hmac whsec_a (and whsec_b)
MAC_A = "7552678021b8665f2dc999b76178d48fd9bf8eb23708d3d89c224ca66a55b822"
MAC_B = "891e0bae9e778fdb3f258eea11a3fd1e5f2ee53f547916a33d81344ec1f96011"


def test_sign_matches_reference_vector() -> None:
    assert sign(BODY, ["whsec_a"], NOW) == f"t={NOW},v1={MAC_A}"


def test_one_v1_per_active_secret() -> None:
    assert sign(BODY, ["whsec_a", "whsec_b"], NOW) == f"t={NOW},v1={MAC_A},v1={MAC_B}"


def test_sign_needs_a_secret() -> None:
    with pytest.raises(ValueError, match="at least one"):
        sign(BODY, [], NOW)
    with pytest.raises(ValueError, match="empty"):
        sign(BODY, [""], NOW)


def test_verify_accepts_own_signature() -> None:
    header = sign(BODY, ["whsec_a"], NOW)
    assert verify(header, BODY, ["whsec_a"], NOW)
    assert verify(header, BODY, ["whsec_a"], NOW + 300)
    assert verify(header, BODY, ["whsec_a"], NOW - 300)


@pytest.mark.parametrize("known", [["whsec_a"], ["whsec_b"], ["other", "whsec_b"]])
def test_rotation_either_secret_verifies(known: list[str]) -> None:
    header = sign(BODY, ["whsec_a", "whsec_b"], NOW)
    assert verify(header, BODY, known, NOW)


def test_wrong_secret_or_tampered_body_fails() -> None:
    header = sign(BODY, ["whsec_a"], NOW)
    assert not verify(header, BODY, ["whsec_x"], NOW)
    assert not verify(header, BODY + b" ", ["whsec_a"], NOW)
    assert not verify(header, BODY, [], NOW)
    assert not verify(header, BODY, [""], NOW)


def test_timestamp_is_part_of_the_mac() -> None:
    forged = f"t={NOW + 1},v1={MAC_A}"
    assert not verify(forged, BODY, ["whsec_a"], NOW)


@pytest.mark.parametrize("now", [NOW + 301, NOW - 301, NOW + 86_400])
def test_stale_or_future_timestamp_is_rejected(now: int) -> None:
    assert not verify(sign(BODY, ["whsec_a"], NOW), BODY, ["whsec_a"], now)


def test_tolerance_is_configurable() -> None:
    header = sign(BODY, ["whsec_a"], NOW)
    assert not verify(header, BODY, ["whsec_a"], NOW + 10, tolerance_s=5)
    assert verify(header, BODY, ["whsec_a"], NOW + 10, tolerance_s=10)


@pytest.mark.parametrize(
    "header",
    [
        "",
        f"v1={MAC_A}",
        f"t={NOW}",
        f"t=abc,v1={MAC_A}",
        f"t=-{NOW},v1={MAC_A}",
        f"t={NOW},t={NOW},v1={MAC_A}",
        f"t={NOW};v1={MAC_A}",
        f"t={NOW},v1",
        f"t=१७,v1={MAC_A}",
    ],
)
def test_malformed_headers_are_rejected(header: str) -> None:
    assert not verify(header, BODY, ["whsec_a"], NOW)


def test_parsing_is_lenient_about_spaces_case_and_unknown_schemes() -> None:
    header = f" t={NOW} , v0=deadbeef, v1={MAC_A.upper()} "
    assert verify(header, BODY, ["whsec_a"], NOW)
