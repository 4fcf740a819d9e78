"""The login IP allow-list: an account may let its users in only from its own networks.

When an account lists networks (:class:`~callvault.store.access.AccountAccess`),
a panel sign-in, and every request made with one of its API tokens or panel
sessions, must come from an address inside one of them.  Anything else is
refused with 403 ``ip_not_allowed`` and written to the account's audit log
(``access.refused_ip``: who, from where, how).  No list, or an empty one,
means any address.  The address is the one the HTTP server reports (behind a
reverse proxy, run uvicorn with ``--proxy-headers`` and ``--forwarded-allow-ips``).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from sqlalchemy.ext.asyncio import AsyncSession

from callvault.store.access import AccountAccess
from callvault.store.errors import InvalidInputError
from callvault.web import audit
from callvault.web.errors import ApiError

MAX_NETWORKS = 100


def parse_networks(texts: Iterable[str]) -> list[str]:
    """The networks in canonical form (``10.1.2.0/24``), or :class:`InvalidInputError`."""
    out: list[str] = []
    for text in texts:
        try:
            network = ipaddress.ip_network(text.strip(), strict=False)
        except ValueError:
            raise InvalidInputError(
                f"{text!r} is not an IP address or network (e.g. 203.0.113.0/24)"
            ) from None
        if str(network) not in out:
            out.append(str(network))
    if len(out) > MAX_NETWORKS:
        raise InvalidInputError(f"at most {MAX_NETWORKS} networks")
    return out


def inside(address: str, networks: Iterable[str]) -> bool:
    """Whether ``address`` is in one of ``networks`` (an unparsable address is in none)."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return any(ip in ipaddress.ip_network(net, strict=False) for net in networks)


async def login_networks(session: AsyncSession, account_id: int) -> list[str]:
    """The account's allow-list (empty: no restriction)."""
    row = await session.get(AccountAccess, account_id)
    return [str(net) for net in row.login_networks] if row is not None else []


async def enforce(
    session: AsyncSession,
    account_id: int,
    ip: str,
    *,
    actor: str,
    user_id: int | None,
    via: str,
) -> None:
    """Refuse (403, audited, committed) a request from outside the account's allow-list."""
    networks = await login_networks(session, account_id)
    if not networks or inside(ip, networks):
        return
    await audit.record(
        session,
        None,
        "access.refused_ip",
        "user",
        str(user_id or ""),
        ip,
        {"via": via},
        account_id=account_id,
        actor=actor,
    )
    await session.commit()
    raise ApiError(
        403,
        f"this account accepts sign-ins and API calls only from its own networks; "
        f"{ip or 'your address'} is not one of them",
        error="ip_not_allowed",
        details={"ip": ip},
    )
