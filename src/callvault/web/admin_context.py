"""What the admin, live-event and report endpoints need from the node beyond the API core.

:func:`callvault.web.api_admin.install_admin_api` puts one :class:`AdminContext`
on ``app.state``; endpoints reach it through :data:`Admin`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Request

from callvault.config import Settings
from callvault.events import EventBus
from callvault.webhooks import WebhookSender


@dataclass
class AdminContext:
    """The node's settings (the operator's SSRF allow-list), its webhook sender and event bus."""

    settings: Settings
    webhooks: WebhookSender | None = None
    _own_bus: EventBus = field(default_factory=EventBus)

    @property
    def bus(self) -> EventBus:
        """The bus the node's events are published on (a silent one without a sender)."""
        return self.webhooks.bus if self.webhooks is not None else self._own_bus

    @property
    def allow_networks(self) -> list[str]:
        """Private networks and hosts the operator lets IVR apps and webhooks reach."""
        return list(self.settings.ivr_allow_networks)


def admin_context(request: Request) -> AdminContext:
    """The app's :class:`AdminContext`."""
    ctx = request.app.state.callvault_admin
    assert isinstance(ctx, AdminContext)
    return ctx


Admin = Annotated[AdminContext, Depends(admin_context)]
