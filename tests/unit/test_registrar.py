"""The registrar's rules (RFC 3261 §10.3) with an injected clock and a fake directory."""

from __future__ import annotations

from callvault.engine.registrar import MIN_EXPIRES, Registrar, SipAccountRef
from callvault.sip.digest import DigestClient
from callvault.sip.message import Headers, Request, Response
from callvault.sip.uri import SipUri

SOURCE = ("127.0.0.1", 40000)


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


async def _lookup(domain: str, login: str) -> SipAccountRef | None:
    if (domain, login) == ("acme.test", "jan"):
        return SipAccountRef(account_id=1, domain=domain, login=login, password="s3cret")
    return None


def _register(
    cseq: int, contacts: list[str], expires: str | None = "300", call_id: str = "c1"
) -> Request:
    headers = Headers()
    headers.add("Via", f"SIP/2.0/UDP 127.0.0.1:40000;branch=z9hG4bK{cseq}{call_id}")
    headers.add("From", "<sip:jan@acme.test>;tag=1")
    headers.add("To", "<sip:jan@acme.test>")
    headers.add("Call-ID", call_id)
    headers.add("CSeq", f"{cseq} REGISTER")
    for contact in contacts:
        headers.add("Contact", contact)
    if expires is not None:
        headers.add("Expires", expires)
    return Request(headers=headers, method="REGISTER", uri=SipUri.parse("sip:acme.test"))


async def _authorized(registrar: Registrar, request: Request, password: str = "s3cret") -> Response:
    challenge = await registrar.register(request, SOURCE, "udp")
    assert challenge.status == 401
    answer = DigestClient("jan", password).answer(
        challenge.headers.get_all("WWW-Authenticate"), "REGISTER", str(request.uri)
    )
    request.headers.set("Authorization", answer)
    return await registrar.register(request, SOURCE, "udp")


async def test_contacts_bind_expire_and_unregister() -> None:
    clock = Clock()
    registrar = Registrar(_lookup, clock=clock)
    ok = await _authorized(
        registrar, _register(1, ["<sip:jan@127.0.0.1:5001>", "<sip:jan@127.0.0.1:5002>;expires=60"])
    )
    assert ok.status == 200
    assert len(ok.headers.get_all("Contact")) == 2
    assert {b.contact.port for b in registrar.lookup(1, "jan")} == {5001, 5002}
    assert registrar.binding_count() == 2
    clock.now += 61
    assert registrar.binding_count() == 1, "an expired binding is not counted"
    assert [b.contact.port for b in registrar.lookup(1, "jan")] == [5001], "the 60 s one expired"
    removed = await _authorized(registrar, _register(2, ["<sip:jan@127.0.0.1:5001>"], expires="0"))
    assert removed.status == 200 and registrar.lookup(1, "jan") == []


async def test_wildcard_unregister_and_interval_too_brief() -> None:
    registrar = Registrar(_lookup, clock=Clock())
    await _authorized(registrar, _register(1, ["<sip:jan@127.0.0.1:5001>"]))
    brief = await _authorized(registrar, _register(2, ["<sip:jan@127.0.0.1:5003>"], expires="10"))
    assert brief.status == 423 and brief.headers.get("Min-Expires") == str(MIN_EXPIRES)
    wildcard = await _authorized(registrar, _register(3, ["*"], expires="0"))
    assert wildcard.status == 200 and registrar.lookup(1, "jan") == []
    bad_wildcard = await _authorized(registrar, _register(4, ["*"], expires="300"))
    assert bad_wildcard.status == 400


async def test_out_of_order_cseq_is_refused() -> None:
    registrar = Registrar(_lookup, clock=Clock())
    assert (await _authorized(registrar, _register(5, ["<sip:jan@127.0.0.1:5001>"]))).status == 200
    stale = await _authorized(registrar, _register(4, ["<sip:jan@127.0.0.1:5001>"]))
    assert stale.status == 500


async def test_unknown_login_and_wrong_password_look_the_same_and_count_as_failures() -> None:
    failures: list[str] = []
    registrar = Registrar(_lookup, clock=Clock(), on_auth_failure=failures.append)
    wrong = await _authorized(
        registrar, _register(1, ["<sip:jan@127.0.0.1:5001>"]), password="nope"
    )
    assert wrong.status == 403
    ghost = _register(1, ["<sip:ghost@127.0.0.1:5001>"])
    ghost.headers.set("To", "<sip:ghost@acme.test>")
    first = await registrar.register(ghost, SOURCE, "udp")
    assert first.status == 401, "unknown logins are challenged like known ones"
    ghost.headers.set(
        "Authorization",
        DigestClient("ghost", "x").answer(
            first.headers.get_all("WWW-Authenticate"), "REGISTER", "sip:acme.test"
        ),
    )
    assert (await registrar.register(ghost, SOURCE, "udp")).status == 403
    assert failures == ["127.0.0.1", "127.0.0.1"]


async def test_nat_contact_is_reached_through_the_source() -> None:
    registrar = Registrar(_lookup, clock=Clock())
    await _authorized(registrar, _register(1, ["<sip:jan@192.168.1.20:5060>"]))
    [binding] = registrar.lookup(1, "jan")
    assert binding.route() == (SOURCE, "udp")
    await _authorized(registrar, _register(2, ["<sip:jan@192.168.1.20:5060>"], expires="0"))
    await _authorized(registrar, _register(3, ["<sip:jan@127.0.0.1:5004>"]))
    [direct] = registrar.lookup(1, "jan")
    assert direct.route() == (("127.0.0.1", 5004), "udp")
