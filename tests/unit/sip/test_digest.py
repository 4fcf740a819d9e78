"""Digest authentication (RFC 7616, RFC 8760, RFC 3261 §22.4)."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from callvault.sip.digest import (
    AuthOutcome,
    DigestChallenge,
    DigestClient,
    DigestCredentials,
    DigestError,
    DigestParseError,
    DigestServer,
    compute_ha1,
    compute_response,
    parse_auth_values,
)

# RFC 7616 §3.9.1
RFC_REALM = "http-auth@example.org"
RFC_NONCE = "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v"
RFC_CNONCE = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ"
RFC_OPAQUE = "FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"
RFC_RESPONSES = {
    "SHA-256": "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1",
    "MD5": "8ca523f5e9506fed4657c9700eebdbec",
}
RFC_CHALLENGES = [
    f'Digest realm="{RFC_REALM}", qop="auth, auth-int", algorithm={alg}, '
    f'nonce="{RFC_NONCE}", opaque="{RFC_OPAQUE}"'
    for alg in ("SHA-256", "MD5")
]

KEY = bytes(range(32))
USERS = {"alice": "wonderland", "bob": "builder"}
URI = "sip:pbx.example.com"


def lookup(username: str) -> str | None:
    return USERS.get(username)


class Clock:
    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def rfc_client() -> DigestClient:
    return DigestClient("Mufasa", "Circle of Life", cnonce_factory=lambda: RFC_CNONCE)


@pytest.mark.parametrize("algorithm", ["SHA-256", "MD5"])
def test_rfc7616_example_vectors(algorithm: str) -> None:
    challenge = next(c for c in RFC_CHALLENGES if f"algorithm={algorithm}," in c)
    value = rfc_client().answer(challenge, "GET", "/dir/index.html")
    creds = DigestCredentials.parse(value)
    assert creds.response == RFC_RESPONSES[algorithm]
    assert (creds.username, creds.realm, creds.nonce) == ("Mufasa", RFC_REALM, RFC_NONCE)
    assert (creds.uri, creds.qop, creds.nc, creds.cnonce) == (
        "/dir/index.html",
        "auth",
        1,
        RFC_CNONCE,
    )
    assert creds.opaque == RFC_OPAQUE
    assert creds.algorithm == algorithm
    assert "nc=00000001" in value
    assert "qop=auth," in value


def test_rfc7616_vector_via_compute_functions() -> None:
    ha1 = compute_ha1("SHA-256", "Mufasa", RFC_REALM, "Circle of Life")
    response = compute_response(
        algorithm="SHA-256",
        ha1=ha1,
        nonce=RFC_NONCE,
        method="GET",
        uri="/dir/index.html",
        qop="auth",
        nc=1,
        cnonce=RFC_CNONCE,
    )
    assert response == RFC_RESPONSES["SHA-256"]


def test_client_picks_strongest_of_several_challenges() -> None:
    # MD5 listed first; SHA-256 must still win (RFC 8760 §2.4).
    value = rfc_client().answer(list(reversed(RFC_CHALLENGES)), "GET", "/dir/index.html")
    assert DigestCredentials.parse(value).response == RFC_RESPONSES["SHA-256"]
    combined = ", ".join(reversed(RFC_CHALLENGES))
    value = rfc_client().answer(combined, "GET", "/dir/index.html")
    assert DigestCredentials.parse(value).algorithm == "SHA-256"


def test_client_skips_unknown_algorithms_and_schemes() -> None:
    value = rfc_client().answer(
        [
            'Basic realm="x"',
            'Digest realm="r", nonce="n", algorithm=SHA-512-256, qop="auth"',
            'Digest realm="r", nonce="n2", algorithm=MD5-sess, qop="auth"',
        ],
        "INVITE",
        "sip:a@b",
    )
    creds = DigestCredentials.parse(value)
    assert (creds.algorithm, creds.nonce) == ("MD5-sess", "n2")
    with pytest.raises(DigestError):
        rfc_client().answer('Digest realm="r", nonce="n", algorithm=SHA-512-256', "GET", "/")
    with pytest.raises(DigestError):
        rfc_client().answer('Digest realm="r", nonce="n", qop="auth-conf"', "GET", "/")


def test_client_counts_nc_per_nonce() -> None:
    client = rfc_client()
    counts = [
        DigestCredentials.parse(client.answer(RFC_CHALLENGES[0], "GET", "/")).nc for _ in range(3)
    ]
    assert counts == [1, 2, 3]
    other = RFC_CHALLENGES[0].replace(RFC_NONCE, "fresh")
    assert DigestCredentials.parse(client.answer(other, "GET", "/")).nc == 1
    assert DigestCredentials.parse(client.answer(RFC_CHALLENGES[0], "GET", "/")).nc == 4


def test_client_legacy_rfc2617_without_qop() -> None:
    # RFC 2617 §3.5 example: response = H(HA1:nonce:HA2), no cnonce or nc.
    client = DigestClient("Mufasa", "Circle Of Life")
    challenge = 'Digest realm="testrealm@host.com", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093"'
    value = client.answer(challenge, "GET", "/dir/index.html")
    creds = DigestCredentials.parse(value)
    assert creds.qop is None and creds.nc is None and creds.cnonce is None
    assert creds.algorithm is None
    ha1 = compute_ha1("MD5", "Mufasa", "testrealm@host.com", "Circle Of Life")
    expected = compute_response(
        algorithm="MD5",
        ha1=ha1,
        nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093",
        method="GET",
        uri="/dir/index.html",
    )
    assert creds.response == expected


def test_client_auth_int_when_only_offered() -> None:
    client = DigestClient("u", "p", cnonce_factory=lambda: "c")
    value = client.answer('Digest realm="r", nonce="n", qop="auth-int"', "INVITE", "sip:x", b"v=0")
    creds = DigestCredentials.parse(value)
    assert creds.qop == "auth-int"
    expected = compute_response(
        algorithm="MD5",
        ha1=compute_ha1("MD5", "u", "r", "p"),
        nonce="n",
        method="INVITE",
        uri="sip:x",
        qop="auth-int",
        nc=1,
        cnonce="c",
        body=b"v=0",
    )
    assert creds.response == expected
    assert expected != compute_response(
        algorithm="MD5",
        ha1=compute_ha1("MD5", "u", "r", "p"),
        nonce="n",
        method="INVITE",
        uri="sip:x",
        qop="auth-int",
        nc=1,
        cnonce="c",
        body=b"v=1",
    )


# --- parsing ----------------------------------------------------------------------


def test_parse_challenge_with_escapes_commas_and_whitespace() -> None:
    value = (
        'Digest  realm = "a \\"quoted\\" realm, with comma" ,nonce="n\\\\1",'
        ' algorithm=SHA-256 ,  qop="auth,auth-int", stale=TRUE, opaque="o", foo=bar,'
    )
    challenge = DigestChallenge.parse(value)
    assert challenge.realm == 'a "quoted" realm, with comma'
    assert challenge.nonce == "n\\1"
    assert challenge.algorithm == "SHA-256"
    assert challenge.qop == ("auth", "auth-int")
    assert challenge.stale is True
    assert challenge.opaque == "o"
    assert challenge.extra == (("foo", "bar"),)
    assert DigestChallenge.parse(challenge.serialize()) == challenge


def test_challenge_serialization() -> None:
    challenge = DigestChallenge("r", "n", "SHA-256", ("auth",), opaque="o", stale=True)
    assert challenge.serialize() == (
        'Digest realm="r", nonce="n", opaque="o", stale=TRUE, algorithm=SHA-256, qop="auth"'
    )


def test_odd_token_values_are_quoted_when_serialised() -> None:
    challenge = DigestChallenge.parse('Digest realm=r, nonce=n, algorithm="", qop=""')
    assert challenge.algorithm == ""
    assert 'algorithm=""' in challenge.serialize()
    assert DigestChallenge.parse(challenge.serialize()) == challenge
    creds = DigestCredentials(
        "u", "r", "n", "x", "00", algorithm="a b", qop="au,th", cnonce="c", nc=1
    )
    assert DigestCredentials.parse(creds.serialize()) == creds


def test_parse_credentials_case_insensitive_names() -> None:
    creds = DigestCredentials.parse(
        'digest USERNAME="bob", Realm="r", nonce="n", uri="sip:r", response="ab", '
        'cnonce="c", qop=auth, NC=0000000a, algorithm=MD5'
    )
    assert (creds.username, creds.nc, creds.qop) == ("bob", 10, "auth")
    assert DigestCredentials.parse(creds.serialize()) == creds


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ('Basic realm="x"', "unsupported auth scheme"),
        ('Digest realm="x', "unterminated quoted string"),
        ('Digest realm="x", realm="y", nonce="n"', "repeated"),
        ('Digest nonce="n"', "missing 'realm'"),
        ('Digest realm="x" nonce="n"', "expected ','"),
        ("Digest realm=, nonce=n", "missing value"),
        ('Digest ="x"', "expected 'name=value'"),
        ('Digest realm="x\x00", nonce="n"', "control character"),
        ('Digest realm="r", nonce="n", Digest realm="s", nonce="m"', "expected one Digest"),
        ("/Digest", "expected an auth scheme"),
        ("Dig\x7fest", "control character"),
    ],
)
def test_malformed_challenges(value: str, words: str) -> None:
    with pytest.raises(DigestParseError, match=words):
        DigestChallenge.parse(value)


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ('Digest username="u", realm="r", nonce="n", uri="x"', "missing 'response'"),
        (
            'Digest username="u", realm="r", nonce="n", uri="x", response="1", '
            'qop=auth, nc=1, cnonce="c"',
            "8 hex digits",
        ),
        (
            'Digest username="u", realm="r", nonce="n", uri="x", response="1", qop=auth',
            "needs cnonce and nc",
        ),
    ],
)
def test_malformed_credentials(value: str, words: str) -> None:
    with pytest.raises(DigestParseError, match=words):
        DigestCredentials.parse(value)


def test_parse_auth_values_splits_several_challenges() -> None:
    items = parse_auth_values('Basic realm="b", Digest realm="d", nonce="n", , Other')
    assert items == [
        ("Basic", {"realm": "b"}),
        ("Digest", {"realm": "d", "nonce": "n"}),
        ("Other", {}),
    ]


# --- server -----------------------------------------------------------------------


def make_server(clock: Clock, **kwargs: object) -> DigestServer:
    return DigestServer("pbx.example.com", KEY, clock, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "order", [("MD5", "SHA-256"), ("SHA-256", "MD5"), ("sha-256", "md5", "SHA-256")]
)
def test_server_challenges_in_the_configured_order(order: tuple[str, ...]) -> None:
    server = make_server(Clock(), algorithms=order)
    values = server.challenge()
    challenges = [DigestChallenge.parse(v) for v in values]
    expected = list(dict.fromkeys(a.upper() for a in order))
    assert [(c.algorithm or "").upper() for c in challenges] == expected
    assert all(c.qop == ("auth",) and c.realm == "pbx.example.com" for c in challenges)
    assert not any(c.stale for c in challenges)
    assert all(DigestChallenge.parse(v).stale for v in server.challenge(stale=True))
    assert server.challenge()[0] != values[0]  # fresh nonce each time


def test_client_picks_sha256_even_when_md5_is_listed_first() -> None:
    server = make_server(Clock(), algorithms=("MD5", "SHA-256"))
    answer = DigestClient("alice", "pw").answer(server.challenge(), "INVITE", "sip:100@h")
    assert "algorithm=SHA-256" in answer


@pytest.mark.parametrize("algorithm", ["SHA-256", "MD5", "SHA-256-sess", "MD5-sess"])
def test_round_trip_client_server(algorithm: str) -> None:
    clock = Clock()
    server = make_server(clock, algorithms=(algorithm,))
    client = DigestClient("alice", "wonderland")
    challenge = server.challenge()
    value = client.answer(challenge, "REGISTER", URI)
    assert DigestCredentials.parse(value).algorithm == algorithm
    result = server.verify(value, "REGISTER", lookup, URI)
    assert result.outcome is AuthOutcome.OK
    assert result.ok
    assert result.username == "alice"
    # The same nonce keeps working with a growing nc.
    clock.now += 10
    again = client.answer(challenge, "INVITE", URI)
    assert DigestCredentials.parse(again).nc == 2
    assert server.verify(again, "INVITE", lookup, URI).ok


def test_client_picks_sha256_from_default_server_challenge() -> None:
    server = make_server(Clock())
    value = DigestClient("bob", "builder").answer(server.challenge(), "INVITE", URI)
    assert DigestCredentials.parse(value).algorithm == "SHA-256"
    assert server.verify(value, "INVITE", lookup, URI).ok


def test_ha1_lookup() -> None:
    server = make_server(Clock())
    stored = {
        ("alice", alg): compute_ha1(alg, "alice", "pbx.example.com", "wonderland")
        for alg in ("MD5", "SHA-256")
    }
    for index in (0, 1):
        value = DigestClient("alice", "wonderland").answer(server.challenge()[index], "BYE", URI)
        result = server.verify(value, "BYE", ha1_lookup=lambda u, a: stored.get((u, a)))
        assert result.ok
    with pytest.raises(TypeError):
        server.verify(value, "BYE")


def test_wrong_password_and_unknown_user() -> None:
    server = make_server(Clock())
    wrong = DigestClient("alice", "looking-glass").answer(server.challenge(), "REGISTER", URI)
    result = server.verify(wrong, "REGISTER", lookup, URI)
    assert result.outcome is AuthOutcome.BAD_CREDENTIALS
    assert "password" in result.reason
    unknown = DigestClient("mallory", "x").answer(server.challenge(), "REGISTER", URI)
    result = server.verify(unknown, "REGISTER", lookup, URI)
    assert result.outcome is AuthOutcome.BAD_CREDENTIALS
    assert "unknown user" in result.reason


def test_method_is_covered_by_response() -> None:
    server = make_server(Clock())
    value = DigestClient("alice", "wonderland").answer(server.challenge(), "REGISTER", URI)
    assert server.verify(value, "INVITE", lookup, URI).outcome is AuthOutcome.BAD_CREDENTIALS


def test_stale_nonce_after_ttl() -> None:
    clock = Clock()
    server = make_server(clock, nonce_ttl=300)
    client = DigestClient("alice", "wonderland")
    challenge = server.challenge()
    clock.now += 301
    value = client.answer(challenge, "REGISTER", URI)
    result = server.verify(value, "REGISTER", lookup, URI)
    assert result.outcome is AuthOutcome.STALE
    # A wrong password with an expired nonce is still just wrong.
    bad = DigestClient("alice", "nope").answer(challenge, "REGISTER", URI)
    assert server.verify(bad, "REGISTER", lookup, URI).outcome is AuthOutcome.BAD_CREDENTIALS
    # Re-challenged with stale=true, the client succeeds without new input.
    fresh = server.challenge(stale=True)
    assert DigestChallenge.parse(fresh[0]).stale
    assert server.verify(client.answer(fresh, "REGISTER", URI), "REGISTER", lookup, URI).ok


def test_nonce_within_ttl_is_fine() -> None:
    clock = Clock()
    server = make_server(clock, nonce_ttl=300)
    challenge = server.challenge()
    clock.now += 299
    value = DigestClient("alice", "wonderland").answer(challenge, "REGISTER", URI)
    assert server.verify(value, "REGISTER", lookup, URI).ok


def test_forged_nonce() -> None:
    clock = Clock()
    server = make_server(clock)
    other = DigestServer("pbx.example.com", b"another secret key!!", clock)
    client = DigestClient("alice", "wonderland")
    for challenge in (
        other.challenge(),
        ['Digest realm="pbx.example.com", nonce="made-up", algorithm=MD5, qop="auth"'],
    ):
        value = client.answer(challenge, "REGISTER", URI)
        result = server.verify(value, "REGISTER", lookup, URI)
        assert result.outcome is AuthOutcome.BAD_CREDENTIALS
        assert "not issued by us" in result.reason


def test_tampered_timestamp_is_forged() -> None:
    clock = Clock()
    server = make_server(clock)
    nonce = DigestChallenge.parse(server.challenge()[0]).nonce
    raw = bytearray(base64.urlsafe_b64decode(nonce))
    raw[7] ^= 1  # move the timestamp
    tampered = base64.urlsafe_b64encode(bytes(raw)).decode()
    challenge = f'Digest realm="pbx.example.com", nonce="{tampered}", algorithm=SHA-256, qop="auth"'
    value = DigestClient("alice", "wonderland").answer(challenge, "REGISTER", URI)
    assert server.verify(value, "REGISTER", lookup, URI).outcome is AuthOutcome.BAD_CREDENTIALS


def test_nonce_of_other_realm_is_forged() -> None:
    clock = Clock()
    server = make_server(clock)
    other = DigestServer("other.example.com", KEY, clock)
    nonce = DigestChallenge.parse(other.challenge()[0]).nonce
    challenge = f'Digest realm="pbx.example.com", nonce="{nonce}", algorithm=SHA-256, qop="auth"'
    value = DigestClient("alice", "wonderland").answer(challenge, "REGISTER", URI)
    assert server.verify(value, "REGISTER", lookup, URI).outcome is AuthOutcome.BAD_CREDENTIALS


def test_realm_mismatch() -> None:
    server = make_server(Clock())
    nonce = DigestChallenge.parse(server.challenge()[0]).nonce
    challenge = f'Digest realm="elsewhere", nonce="{nonce}", algorithm=SHA-256, qop="auth"'
    value = DigestClient("alice", "wonderland").answer(challenge, "REGISTER", URI)
    result = server.verify(value, "REGISTER", lookup, URI)
    assert result.outcome is AuthOutcome.BAD_CREDENTIALS
    assert "realm" in result.reason


def test_algorithm_not_offered() -> None:
    server = make_server(Clock(), algorithms=("SHA-256",))
    nonce = DigestChallenge.parse(server.challenge()[0]).nonce
    challenge = f'Digest realm="pbx.example.com", nonce="{nonce}", algorithm=MD5, qop="auth"'
    value = DigestClient("alice", "wonderland").answer(challenge, "REGISTER", URI)
    result = server.verify(value, "REGISTER", lookup, URI)
    assert result.outcome is AuthOutcome.BAD_CREDENTIALS
    assert "not offered" in result.reason


def test_replayed_nc() -> None:
    server = make_server(Clock())
    client = DigestClient("alice", "wonderland")
    challenge = server.challenge()
    first = client.answer(challenge, "REGISTER", URI)
    second = client.answer(challenge, "REGISTER", URI)
    assert server.verify(first, "REGISTER", lookup, URI).ok
    replay = server.verify(first, "REGISTER", lookup, URI)
    assert replay.outcome is AuthOutcome.STALE
    assert "replayed" in replay.reason
    assert server.verify(second, "REGISTER", lookup, URI).ok
    # An older count after a newer one is a replay too.
    assert not server.verify(first, "REGISTER", lookup, URI).ok


def test_nc_memory_is_bounded() -> None:
    server = make_server(Clock(), max_tracked_nonces=2)
    client = DigestClient("alice", "wonderland")
    values = [client.answer(server.challenge(), "REGISTER", URI) for _ in range(3)]
    assert all(server.verify(v, "REGISTER", lookup, URI).ok for v in values)
    # The first nonce was evicted; the two newest still refuse replays.
    assert not server.verify(values[1], "REGISTER", lookup, URI).ok
    assert not server.verify(values[2], "REGISTER", lookup, URI).ok
    assert len(server._nc) == 2


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("Digest garbage", "expected 'name=value'"),
        ('Digest username="u"', "missing"),
    ],
)
def test_malformed_credentials_are_400(value: str, words: str) -> None:
    result = make_server(Clock()).verify(value, "REGISTER", lookup, URI)
    assert result.outcome is AuthOutcome.MALFORMED
    assert words in result.reason
    assert result.username is None


def test_missing_qop_and_uri_mismatch_are_malformed() -> None:
    server = make_server(Clock())
    challenge = DigestChallenge.parse(server.challenge()[0])
    legacy = DigestChallenge(challenge.realm, challenge.nonce, "SHA-256").serialize()
    value = DigestClient("alice", "wonderland").answer(legacy, "REGISTER", URI)
    result = server.verify(value, "REGISTER", lookup, URI)
    assert result.outcome is AuthOutcome.MALFORMED
    assert "qop" in result.reason
    value = DigestClient("alice", "wonderland").answer(server.challenge(), "REGISTER", "sip:x")
    result = server.verify(value, "REGISTER", lookup, URI)
    assert result.outcome is AuthOutcome.MALFORMED
    assert "request URI" in result.reason
    assert server.verify(value, "REGISTER", lookup).ok  # no URI check asked for


def test_server_rejects_bad_configuration() -> None:
    with pytest.raises(ValueError):
        DigestServer("r", b"short", Clock())
    with pytest.raises(ValueError):
        DigestServer("r", KEY, Clock(), algorithms=())
    with pytest.raises(DigestError):
        DigestServer("r", KEY, Clock(), algorithms=("SHA-1",))


# --- fuzzing ----------------------------------------------------------------------

auth_alphabet = st.sampled_from([*'Digest realm=nonce"\\, \tabcq=uri:/', "\x00", "é"])
_REQUIRED = ["realm", "nonce", "username", "uri", "response"]
_OPTIONAL = ["qop", "nc", "cnonce", "algorithm", "stale", "opaque", "Realm", "x"]
_param_values = st.one_of(
    st.sampled_from(["auth", "00000001", "SHA-256", "MD5", "TRUE", "0000000g", "", '"']),
    st.text(alphabet='ab,= "\\\t', max_size=8).map(lambda v: '"' + v + '"'),
    st.text(alphabet='ab,= "\\\t', max_size=8),
)
# Digest-looking values: a scheme and name=value items with varied separators;
# the required parameters are usually all there so that some values parse.
auth_fragments = st.builds(
    lambda scheme, names, values, sep: (
        scheme + sep.join(f"{n}={v}" for n, v in zip(names, values, strict=False))
    ),
    st.sampled_from(["Digest ", "digest  ", "Digest ", "Basic ", ""]),
    st.builds(
        lambda required, optional: [*required, *optional],
        st.lists(st.sampled_from(_REQUIRED), min_size=4, max_size=5, unique=True),
        st.lists(st.sampled_from(_OPTIONAL), max_size=5, unique=True),
    ),
    st.lists(_param_values, min_size=13, max_size=13),
    st.sampled_from([", ", ",", " , ", " ", ",,"]),
)


@settings(max_examples=500)
@given(st.one_of(st.text(), st.text(alphabet=auth_alphabet, max_size=60), auth_fragments))
def test_parser_returns_value_or_digest_parse_error(text: str) -> None:
    try:
        challenge = DigestChallenge.parse(text)
    except DigestParseError:
        pass
    else:
        assert DigestChallenge.parse(challenge.serialize()) == challenge
    try:
        credentials = DigestCredentials.parse(text)
    except DigestParseError:
        pass
    else:
        assert DigestCredentials.parse(credentials.serialize()) == credentials
    try:
        items = parse_auth_values(text)
    except DigestParseError:
        return
    assert items


@settings(max_examples=300)
@given(st.one_of(st.text(alphabet=auth_alphabet, max_size=60), auth_fragments))
def test_verify_never_crashes(text: str) -> None:
    result = make_server(Clock()).verify(text, "REGISTER", lookup)
    assert not result.ok


printable = st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), max_size=20)
token = st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCXYZ0123456789-._", min_size=1, max_size=10)


@settings(max_examples=300)
@given(
    st.builds(
        DigestChallenge,
        printable,
        printable,
        st.one_of(st.none(), st.sampled_from(["MD5", "SHA-256", "MD5-sess", "SHA-256-sess"])),
        st.lists(st.sampled_from(["auth", "auth-int"]), max_size=2, unique=True).map(tuple),
        st.one_of(st.none(), printable),
        st.booleans(),
        st.one_of(st.none(), printable),
        st.lists(st.tuples(token.map(lambda t: "x-" + t.lower()), printable), max_size=2)
        .filter(lambda items: len({k for k, _ in items}) == len(items))
        .map(tuple),
    )
)
def test_challenge_round_trip(challenge: DigestChallenge) -> None:
    assert DigestChallenge.parse(challenge.serialize()) == challenge


@settings(max_examples=300)
@given(
    st.builds(
        DigestCredentials,
        printable,
        printable,
        printable,
        printable,
        st.text(alphabet="0123456789abcdef", max_size=64),
        st.one_of(st.none(), st.sampled_from(["MD5", "SHA-256"])),
        printable,
        st.just("auth"),
        st.integers(min_value=0, max_value=2**32 - 1),
        st.one_of(st.none(), printable),
    )
)
def test_credentials_round_trip(creds: DigestCredentials) -> None:
    assert DigestCredentials.parse(creds.serialize()) == creds
