"""SIP over UDP and TCP as thin asyncio protocols (RFC 3261 §18).

They move bytes and nothing else: datagrams and framed stream messages go to
one ``on_message(data, source, transport)`` callback; ``send()`` picks the
UDP socket or a TCP connection (reusing the one a request came in on, or
opening one, §18.2.2).  Parsing and all protocol logic live in the sans-I/O
core.
"""

from __future__ import annotations

import asyncio
import errno
import logging
from collections.abc import Callable
from typing import cast

from callvault.sip.errors import SipParseError
from callvault.sip.message import StreamFramer

log = logging.getLogger("callvault.transport.sip")

Address = tuple[str, int]
MessageCallback = Callable[[bytes, Address, str], None]
_TCP_IDLE_S = 600.0
ANY_PORT_ATTEMPTS = 20
"""Tries at a UDP+TCP port pair when the system picks the port (``sip_port = 0``)."""


class _UdpProtocol(asyncio.DatagramProtocol):
    def __init__(self, on_message: MessageCallback) -> None:
        self._on_message = on_message
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's and asyncio's UDP transports do not all subclass DatagramTransport
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str | object, ...]) -> None:
        host, port = str(addr[0]), int(str(addr[1]))
        if data.strip(b"\r\n\x00 ") == b"":
            return  # keep-alive (RFC 5626 §4.4.1 CRLF) or padding
        self._on_message(data, (host, port), "udp")

    def error_received(self, exc: Exception) -> None:
        log.debug("UDP error: %s", exc)


class _TcpConnection(asyncio.Protocol):
    def __init__(self, owner: SipTransports) -> None:
        self._owner = owner
        self._framer = StreamFramer()
        self.transport: asyncio.Transport | None = None
        self.peer: Address = ("", 0)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        peer = transport.get_extra_info("peername")
        self.peer = (str(peer[0]), int(peer[1]))
        self._owner._connections[self.peer] = self

    def data_received(self, data: bytes) -> None:
        try:
            messages = self._framer.feed(data)
        except SipParseError as exc:
            log.warning("closing TCP connection from %s:%d: %s", *self.peer, exc)
            assert self.transport is not None
            self.transport.close()
            return
        if self._framer.keepalives and self.transport is not None:
            self._framer.keepalives = 0
            self.transport.write(b"\r\n")  # RFC 5626 §3.5.1 pong
        for message in messages:
            self._owner._on_message(message, self.peer, "tcp")

    def connection_lost(self, exc: Exception | None) -> None:
        if self._owner._connections.get(self.peer) is self:
            del self._owner._connections[self.peer]


class SipTransports:
    """The UDP socket and TCP listener/connections of one SIP endpoint."""

    def __init__(self, on_message: MessageCallback) -> None:
        self._on_message = on_message
        self._udp: _UdpProtocol | None = None
        self._tcp_server: asyncio.Server | None = None
        self._connections: dict[Address, _TcpConnection] = {}
        self.local: Address = ("0.0.0.0", 0)

    async def start(self, host: str, port: int, *, tcp: bool = True) -> Address:
        """Bind UDP (and TCP on the same port); return the bound address.

        With ``port`` 0 the system picks the UDP port; when TCP cannot have the
        same number (another socket holds it), another pair is tried.
        """
        for attempt in range(ANY_PORT_ATTEMPTS if port == 0 else 1):
            address = await self._bind_udp(host, port)
            if not tcp:
                return address
            loop = asyncio.get_running_loop()
            try:
                self._tcp_server = await loop.create_server(
                    lambda: _TcpConnection(self), host=host, port=address[1], reuse_address=True
                )
                return address
            except OSError as exc:
                if port != 0 or exc.errno != errno.EADDRINUSE or attempt == ANY_PORT_ATTEMPTS - 1:
                    raise
                assert self._udp is not None and self._udp.transport is not None
                self._udp.transport.close()
        raise AssertionError("unreachable")

    async def _bind_udp(self, host: str, port: int) -> Address:
        loop = asyncio.get_running_loop()
        _, protocol = await loop.create_datagram_endpoint(
            lambda: _UdpProtocol(self._on_message), local_addr=(host, port)
        )
        self._udp = protocol
        assert protocol.transport is not None
        bound = protocol.transport.get_extra_info("sockname")
        self.local = (str(bound[0]), int(bound[1]))
        return self.local

    async def close(self) -> None:
        """Close every socket."""
        if self._udp is not None and self._udp.transport is not None:
            self._udp.transport.close()
        for conn in list(self._connections.values()):
            if conn.transport is not None:
                conn.transport.close()
        if self._tcp_server is not None:
            self._tcp_server.close()
            await self._tcp_server.wait_closed()

    def send(self, data: bytes, destination: Address, transport: str) -> None:
        """Send bytes; for TCP without a connection, connect in the background."""
        if transport == "tcp":
            conn = self._connections.get(destination)
            if conn is not None and conn.transport is not None and not conn.transport.is_closing():
                conn.transport.write(data)
                return
            asyncio.get_running_loop().create_task(self._connect_and_send(data, destination))
            return
        if self._udp is None or self._udp.transport is None:
            raise RuntimeError("UDP transport not started")
        self._udp.transport.sendto(data, destination)

    async def _connect_and_send(self, data: bytes, destination: Address) -> None:
        loop = asyncio.get_running_loop()
        try:
            _, conn = await loop.create_connection(lambda: _TcpConnection(self), *destination)
        except OSError as exc:
            log.warning("TCP connect to %s:%d failed: %s", *destination, exc)
            return
        assert conn.transport is not None
        conn.transport.write(data)
