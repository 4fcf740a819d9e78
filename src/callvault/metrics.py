"""Prometheus metrics of one node, read from its live state when scraped.

:func:`node_registry` builds a :class:`~prometheus_client.CollectorRegistry`
of its own (never the process-global default one, so one process can hold
several nodes' apps, as the tests do) with:

* :class:`NodeCollector`, which reads the engine, registrar, guard and
  recorder at scrape time -- live calls, registrations, bans, recordings in
  progress, the recording spool and outbox on disk, the SIP stack's own
  counters -- so nothing is added to the call path for gauges;
* the standard process and platform collectors.

Two things are counted rather than read, because nothing keeps them: calls
that ended (an engine ``call_ended_hooks`` entry) and SIP messages in and
out (an entry of the SIP stack's ``wire_hooks``, one dictionary increment per
message).  Those hooks are installed once per engine (:func:`counters_for`)
however many apps are built over it.

Collectors run in the node's event loop (``/metrics`` is an async endpoint),
so they read the engine's dictionaries without locks, like the rest of the
HTTP side.
"""

from __future__ import annotations

import os
import weakref
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path

from prometheus_client import CollectorRegistry, PlatformCollector, ProcessCollector
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    InfoMetricFamily,
    Metric,
)

from callvault import __version__
from callvault.engine.call import Call
from callvault.engine.engine import Engine
from callvault.recording.manager import SPOOL_SUFFIX, RecordingManager
from callvault.routing.history import disposition
from callvault.sip.message import Request, Response
from callvault.transport.sip_transport import Address

DEFAULT_DIRECTION = "inbound"
"""A call's direction until routing says otherwise (as in the call history)."""
DIRECTIONS = ("inbound", "internal", "outbound")
"""The directions routing gives calls: their series exist (at zero) before the first call."""
DISPOSITIONS = ("answered", "no answer", "busy", "failed", "cancelled")
"""What :func:`callvault.routing.history.disposition` answers."""


class CallCounters:
    """What the node counts as it goes: ended calls and SIP messages (one per engine)."""

    def __init__(self) -> None:
        self.ended: Counter[tuple[str, str]] = Counter()
        """(disposition, direction) -> calls ended."""
        self.sip_messages: Counter[tuple[str, str]] = Counter()
        """(direction in/out, kind request/response) -> SIP messages."""

    async def on_call_ended(self, call: Call) -> None:
        """Engine call-ended hook: count the call by disposition and direction.

        Like the call history, calls without legs and calls that ended in a
        digest challenge (401/407: the phone retries as a new call) are not
        counted.
        """
        if not call.legs or call.caller.final_status in (401, 407):
            return
        direction = str(call.data.get("direction", DEFAULT_DIRECTION))
        self.ended[(disposition(call), direction)] += 1

    def on_wire(
        self, direction: str, message: Request | Response, _peer: Address, _transport: str
    ) -> None:
        """SIP stack wire hook: one increment per parsed message in or message sent."""
        kind = "request" if isinstance(message, Request) else "response"
        self.sip_messages[(direction, kind)] += 1


_COUNTERS: weakref.WeakKeyDictionary[Engine, CallCounters] = weakref.WeakKeyDictionary()


def counters_for(engine: Engine) -> CallCounters:
    """The engine's counters, hooked into it on first use (later calls reuse them)."""
    counters = _COUNTERS.get(engine)
    if counters is None:
        counters = CallCounters()
        # First, so a slow hook after it (the database write) does not delay the count.
        engine.call_ended_hooks.insert(0, counters.on_call_ended)
        engine.stack.wire_hooks.append(counters.on_wire)
        _COUNTERS[engine] = counters
    return counters


def _directory_usage(path: Path, suffix: str) -> tuple[int, int]:
    """(files, bytes) of the regular files in ``path`` whose name ends with ``suffix``."""
    files = size = 0
    try:
        with os.scandir(path) as entries:
            for entry in entries:
                if not entry.name.endswith(suffix):
                    continue
                try:
                    if entry.is_file(follow_symlinks=False):
                        size += entry.stat(follow_symlinks=False).st_size
                        files += 1
                except OSError:  # gone between listing and stat (uploaded, finished)
                    continue
    except FileNotFoundError:
        pass
    return files, size


class NodeCollector:
    """Reads a node's state at scrape time (a ``prometheus_client`` custom collector)."""

    def __init__(
        self,
        engine: Engine,
        recordings: RecordingManager | None = None,
        counters: CallCounters | None = None,
    ) -> None:
        self.engine = engine
        self.recordings = recordings
        self.counters = counters or counters_for(engine)

    def collect(self) -> Iterator[Metric]:
        """Every family of the node; those of absent parts (no registrar, guard, recorder)
        are left out rather than reported as zero."""
        info = InfoMetricFamily("callvault", "The callvault version this node runs.")
        info.add_metric([], {"version": __version__})
        yield info
        yield from self._calls()
        yield from self._sip()
        yield from self._registrations()
        yield from self._guard()
        if self.recordings is not None:
            yield from self._recordings(self.recordings)

    def _calls(self) -> Iterable[Metric]:
        engine = self.engine
        by_direction: Counter[str] = Counter()
        for call in list(engine.calls.values()):
            by_direction[str(call.data.get("direction", DEFAULT_DIRECTION))] += 1
        active = GaugeMetricFamily(
            "callvault_calls_active",
            "Calls in progress, by direction (inbound until routing says outbound or internal).",
            labels=["direction"],
        )
        for direction in sorted(by_direction.keys() | set(DIRECTIONS)):
            active.add_metric([direction], by_direction[direction])
        yield active
        total = CounterMetricFamily(
            "callvault_calls",
            "Calls ended since the node started, by disposition (answered, no answer, busy, "
            "failed, cancelled) and direction; digest challenges are not counted.",
            labels=["disposition", "direction"],
        )
        known = {(outcome, direction) for outcome in DISPOSITIONS for direction in DIRECTIONS}
        for outcome, direction in sorted(known | self.counters.ended.keys()):
            total.add_metric([outcome, direction], self.counters.ended[(outcome, direction)])
        yield total
        yield GaugeMetricFamily(
            "callvault_accepting_calls",
            "1 while the node accepts new calls, 0 once it is shutting down.",
            value=1 if engine.accepting else 0,
        )
        yield GaugeMetricFamily(
            "callvault_rtp_ports_free",
            "RTP ports of the configured range not in use by a call leg.",
            value=len(engine.ports),
        )

    def _sip(self) -> Iterable[Metric]:
        messages = CounterMetricFamily(
            "callvault_sip_messages",
            "SIP messages received (parsed, admitted by the guard) and sent, "
            "retransmissions included.",
            labels=["direction", "kind"],
        )
        for direction in ("in", "out"):
            for kind in ("request", "response"):
                messages.add_metric(
                    [direction, kind], self.counters.sip_messages[(direction, kind)]
                )
        yield messages
        yield CounterMetricFamily(
            "callvault_sip_parse_errors",
            "SIP datagrams or stream frames that could not be parsed.",
            value=self.engine.stack.parse_errors,
        )

    def _registrations(self) -> Iterable[Metric]:
        registrar = self.engine.registrar
        if registrar is None:
            return
        yield GaugeMetricFamily(
            "callvault_registered_sources",
            "Distinct source addresses of phones with a registrar binding (the registrar's "
            "purge drops expired bindings within a minute).",
            value=len(registrar.registered_sources()),
        )
        yield GaugeMetricFamily(
            "callvault_registrations",
            "Live contact bindings of registered phones (RFC 3261 section 10.3).",
            value=registrar.binding_count(),
        )

    def _guard(self) -> Iterable[Metric]:
        guard = self.engine.guard
        if guard is None:
            return
        yield GaugeMetricFamily(
            "callvault_source_bans",
            "Source addresses banned now for failed authentications.",
            value=len(guard.bans()),
        )
        yield CounterMetricFamily(
            "callvault_sip_dropped",
            "SIP messages dropped unanswered by the source guard (banned or over the rate limit).",
            value=guard.dropped,
        )

    def _recordings(self, recordings: RecordingManager) -> Iterable[Metric]:
        yield GaugeMetricFamily(
            "callvault_recordings_active",
            "Recordings in progress (captures of live calls, paused ones included).",
            value=len(recordings.active),
        )
        spool_files, spool_bytes = _directory_usage(recordings.spool_dir, SPOOL_SUFFIX)
        yield GaugeMetricFamily(
            "callvault_recording_spool_files",
            "Spool files on disk: recordings being captured, or left by a crash until recovery.",
            value=spool_files,
        )
        yield GaugeMetricFamily(
            "callvault_recording_spool_bytes",
            "Bytes of the spool files on disk.",
            value=spool_bytes,
        )
        outbox_files, outbox_bytes = _directory_usage(recordings.outbox.dir, ".data")
        yield GaugeMetricFamily(
            "callvault_recording_outbox_files",
            "Finished recordings waiting in the outbox for the storage to take them.",
            value=outbox_files,
        )
        yield GaugeMetricFamily(
            "callvault_recording_outbox_bytes",
            "Bytes of the recordings waiting in the outbox.",
            value=outbox_bytes,
        )


def node_registry(engine: Engine, recordings: RecordingManager | None = None) -> CollectorRegistry:
    """A registry of its own for one node: its state, the process, the platform."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(NodeCollector(engine, recordings))
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    return registry
