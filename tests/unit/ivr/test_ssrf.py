"""SSRF guard of IVR API object URLs (shared/spec/ivr-api.md, "Object settings": ``url``)."""

from __future__ import annotations

import ipaddress

import pytest

from callvault.ivr.ssrf import AllowList, UrlNotAllowed, blocked_reason, check_url


class _Resolver:
    """A fake DNS: fixed answers, and a record of what was asked."""

    def __init__(self, table: dict[str, list[str]]) -> None:
        self.table = table
        self.calls: list[tuple[str, int]] = []

    async def __call__(self, host: str, port: int) -> list[str]:
        self.calls.append((host, port))
        if host not in self.table:
            raise OSError(-2, "Name or service not known")
        return self.table[host]


async def _reason(url: str, allow: list[str] | None = None, **table: list[str]) -> str:
    with pytest.raises(UrlNotAllowed) as info:
        await check_url(url, allow or [], resolver=_Resolver(table))
    return info.value.reason


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "loopback"),
        ("127.8.9.10", "loopback"),
        ("::1", "loopback"),
        ("169.254.169.254", "link-local"),
        ("fe80::1", "link-local"),
        ("10.0.0.1", "private"),
        ("172.16.0.1", "private"),
        ("172.31.255.255", "private"),
        ("192.168.1.1", "private"),
        ("fc00::1", "unique-local"),
        ("fd12:3456::1", "unique-local"),
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("224.0.0.1", "multicast"),
        ("ff02::1", "multicast"),
        ("100.64.0.1", "shared (CGNAT)"),
        ("100.127.255.254", "shared (CGNAT)"),
        ("255.255.255.255", "reserved"),
        ("::ffff:127.0.0.1", "loopback"),
        ("::ffff:10.1.2.3", "private"),
        ("64:ff9b::a9fe:a9fe", "link-local"),
        ("2002:c0a8:0101::1", "private"),
    ],
)
def test_internal_addresses_are_classified(address: str, reason: str) -> None:
    assert blocked_reason(ipaddress.ip_address(address)) == reason


@pytest.mark.parametrize(
    "address", ["8.8.8.8", "1.1.1.1", "172.32.0.1", "100.128.0.1", "2001:4860:4860::8888"]
)
def test_public_addresses_pass(address: str) -> None:
    assert blocked_reason(ipaddress.ip_address(address)) is None


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://127.0.0.1:8080/ivr", "127.0.0.1 resolves to 127.0.0.1 (loopback address)"),
        ("https://[::1]/ivr", "::1 resolves to ::1 (loopback address)"),
        ("http://169.254.169.254/latest/meta-data/", "(link-local address)"),
        ("http://[fe80::1%25eth0]/", "(link-local address)"),
        ("http://100.64.1.1/", "(shared (CGNAT) address)"),
        ("http://[fd00::5]/", "(unique-local address)"),
        ("http://0.0.0.0:80/", "(unspecified address)"),
    ],
)
async def test_address_literals_need_no_resolution(url: str, reason: str) -> None:
    resolve = _Resolver({})
    with pytest.raises(UrlNotAllowed) as info:
        await check_url(url, [], resolver=resolve)
    assert info.value.reason.endswith(reason)
    assert resolve.calls == []


async def test_public_literal_passes() -> None:
    await check_url("https://8.8.8.8/ivr", [], resolver=_Resolver({}))


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("ftp://example.com/x", "scheme 'ftp' is not allowed (only http, https)"),
        ("file:///etc/passwd", "scheme 'file' is not allowed (only http, https)"),
        ("gopher://127.0.0.1:25/", "scheme 'gopher' is not allowed (only http, https)"),
        ("example.com/ivr", "scheme '(none)' is not allowed (only http, https)"),
        ("http:///ivr", "URL has no host"),
        ("http://example.com:99999/", "malformed URL: Port out of range 0-65535"),
    ],
)
async def test_only_http_and_https_urls(url: str, reason: str) -> None:
    assert await _reason(url) == reason


async def test_names_are_resolved_with_the_scheme_port() -> None:
    resolve = _Resolver({"app.example.com": ["93.184.216.34"]})
    await check_url("https://app.example.com/ivr", [], resolver=resolve)
    await check_url("http://app.example.com:8080/ivr", [], resolver=resolve)
    assert resolve.calls == [("app.example.com", 443), ("app.example.com", 8080)]


async def test_name_resolving_to_an_internal_address_is_refused() -> None:
    reason = await _reason("https://evil.example/", **{"evil.example": ["10.0.0.7"]})
    assert reason == "evil.example resolves to 10.0.0.7 (private address)"


async def test_any_internal_address_among_several_is_refused() -> None:
    table = {"mixed.example": ["93.184.216.34", "192.168.0.10"]}
    reason = await _reason("https://mixed.example/", **table)
    assert reason == "mixed.example resolves to 192.168.0.10 (private address)"


async def test_unresolvable_name_is_refused() -> None:
    reason = await _reason("https://nowhere.invalid/")
    assert reason.startswith("cannot resolve nowhere.invalid:")


async def test_allow_list_cidr_permits_an_internal_network() -> None:
    table = {"crm.corp": ["10.1.2.3"]}
    await check_url("https://crm.corp/ivr", ["10.1.0.0/16"], resolver=_Resolver(table))
    await check_url("http://127.0.0.1:8000/", ["127.0.0.1"], resolver=_Resolver({}))
    await check_url("http://[::ffff:10.1.9.9]/", ["10.1.0.0/16"], resolver=_Resolver({}))
    reason = await _reason("https://crm.corp/ivr", ["10.2.0.0/16"], **table)
    assert reason.endswith("(private address)")


async def test_allow_list_host_names_and_wildcards() -> None:
    resolve = _Resolver({})  # an allowed name is not even resolved
    await check_url("https://crm.corp./ivr", ["CRM.corp"], resolver=resolve)
    await check_url("https://a.b.internal.example/ivr", ["*.internal.example"], resolver=resolve)
    assert resolve.calls == []
    reason = await _reason("https://internal.example/", ["*.internal.example"])
    assert reason.startswith("cannot resolve")


def test_bad_allow_list_entry_is_an_error() -> None:
    with pytest.raises(ValueError, match="not a CIDR or host"):
        AllowList(["10.0.0.0/33"])


async def test_system_resolver_is_used_by_default() -> None:
    with pytest.raises(UrlNotAllowed, match="loopback address"):
        await check_url("http://localhost:8080/ivr")
    with pytest.raises(UrlNotAllowed, match=r"2130706433 resolves to 127\.0\.0\.1 "):
        await check_url("http://2130706433/")  # decimal form of 127.0.0.1
