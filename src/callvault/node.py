"""Assembles a node from settings: store, registrar, guard, router, engine, history."""

from __future__ import annotations

from dataclasses import dataclass

from callvault.config import Settings
from callvault.demo import sounds
from callvault.demo.apps import demo_router
from callvault.engine.auth import InboundAuth
from callvault.engine.engine import Engine
from callvault.engine.guard import SourceGuard
from callvault.engine.registrar import Registrar
from callvault.events import CallEvents, EventBus
from callvault.recording.manager import RecordingManager
from callvault.routing.directory import Directory
from callvault.routing.history import CallHistory
from callvault.routing.router import DataRouter
from callvault.store.bans import SourceBanStore
from callvault.store.db import Database
from callvault.store.registrations import RegistrationStore
from callvault.webhooks import WebhookSender


@dataclass
class Node:
    """Everything one ``callvault serve`` runs."""

    settings: Settings
    db: Database
    engine: Engine
    registrar: Registrar
    guard: SourceGuard
    recordings: RecordingManager
    events: CallEvents | None = None
    """Publishes the calls' milestones (webhooks and the API's live event stream)."""


def build_node(settings: Settings) -> Node:
    """Wire the parts together (the database must be migrated before calls)."""
    db = Database(settings.database_url or Database.default_url(settings.data_dir))
    directory = Directory(db)
    guard = SourceGuard(
        rate_per_s=settings.unknown_source_rate,
        burst=max(10, int(settings.unknown_source_rate * 2)),
        max_auth_failures=settings.ban_after_failures,
        ban_s=settings.ban_seconds,
        store=SourceBanStore(db),  # bans survive restarts and reach other nodes; start() loads
    )
    registrar = Registrar(
        directory.sip_account,
        algorithms=settings.sip_auth_algorithms,
        on_auth_failure=guard.auth_failed,
        store=RegistrationStore(db),  # bindings survive restarts; start() loads them
    )
    guard.trusted = registrar.registered_sources
    auth = None
    if settings.demo_auth:
        user, _, password = settings.demo_auth.partition(":")
        auth = InboundAuth(
            settings.sip_realm,
            lambda name: password if name == user else None,
            algorithms=settings.sip_auth_algorithms,
        )
    engine = Engine(
        settings,
        prompt_resolver=lambda name: sounds.path(name, settings.language),
        auth=auth,
        registrar=registrar,
        guard=guard,
    )
    router = DataRouter(engine, directory, registrar, fallback=demo_router(engine))
    engine.router = router
    engine.call_ended_hooks.append(CallHistory(db).record)
    webhooks = WebhookSender(db, allow_networks=settings.ivr_allow_networks, bus=EventBus())
    recordings = RecordingManager(engine, db, router.logic.prompts, webhooks)
    router.logic.before_bridge.append(recordings.announce_to_party)
    # Integration events: call milestones to webhooks and the live stream (callvault.events).
    events = CallEvents(webhooks.emit)
    router.logic.observers.append(events.on_logic)
    engine.call_ended_hooks.append(events.on_ended)
    return Node(settings, db, engine, registrar, guard, recordings, events)
