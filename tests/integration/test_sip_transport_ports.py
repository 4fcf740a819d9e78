"""Binding SIP on a system-picked port: UDP and TCP get the same number even when TCP's is taken."""

from __future__ import annotations

import socket

import pytest

from callvault.transport.sip_transport import Address, SipTransports


async def test_port_zero_tries_another_pair_when_the_tcp_twin_is_taken(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    blocker = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    blocker.bind(("127.0.0.1", 0))
    blocker.listen()
    taken = blocker.getsockname()[1]
    transports = SipTransports(lambda data, source, transport: None)
    real_bind = transports._bind_udp
    asked: list[int] = []

    async def udp_first_on_the_taken_number(host: str, port: int) -> Address:
        asked.append(port)
        return await real_bind(host, taken if len(asked) == 1 else port)

    monkeypatch.setattr(transports, "_bind_udp", udp_first_on_the_taken_number)
    try:
        host, port = await transports.start("127.0.0.1", 0)
        assert len(asked) == 2 and port != taken, "a second pair was bound"
        with socket.create_connection((host, port), timeout=2):
            pass  # TCP listens on the UDP port's number
    finally:
        await transports.close()
        blocker.close()


async def test_a_fixed_port_whose_tcp_is_taken_is_an_error() -> None:
    blocker = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    blocker.bind(("127.0.0.1", 0))
    blocker.listen()
    transports = SipTransports(lambda data, source, transport: None)
    try:
        with pytest.raises(OSError, match="address already in use"):
            await transports.start("127.0.0.1", blocker.getsockname()[1])
    finally:
        await transports.close()
        blocker.close()
