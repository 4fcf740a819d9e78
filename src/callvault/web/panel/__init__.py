"""The panel (panel nagrań): server-rendered pages in Polish and English over the REST API's logic.

Pages: ``/login`` and ``/logout``, ``/calls`` (historia połączeń),
``/recordings`` and ``/recordings/{id}`` (nagrania, with the waveform player),
``/live`` (trwające połączenia), ``/reports`` (raporty), ``/jobs`` (zadania w tle), ``/audit``
(dziennik audytu) and the admin
screens under ``/admin`` (ustawienia, :mod:`callvault.web.panel.admin`).
Every page authenticates with the panel session and calls the API's own
query functions, so the access checks and data scopes are the API's; what a
page's script changes goes through the REST API with the session's CSRF
token.  Templates are in ``templates/``,
styles, scripts and the vendored wavesurfer.js in ``static/`` (served at
``/static``), messages in ``locales/`` (:mod:`callvault.web.panel.i18n`).
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Iterable

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from callvault.engine.call import Call
from callvault.web.panel import (
    admin,
    audit_log,
    auth_pages,
    lists,
    live,
    recording_view,
    reports,
    screens,
)
from callvault.web.panel.render import STATIC, PanelState, install_handlers

__all__ = ["install_panel"]


def install_panel(app: FastAPI, live_calls: Callable[[], Iterable[Call]] = tuple) -> None:
    """Mount the panel's pages and static files on ``app`` (after :func:`install_api`).

    ``live_calls`` gives the engine's calls in progress (``engine.calls.values``).
    """
    app.state.callvault_panel = PanelState(live_calls)
    install_handlers(app)
    app.mount("/static", StaticFiles(directory=STATIC), name="panel-static")
    for module in (auth_pages, lists, recording_view, live, reports, audit_log, admin):
        app.include_router(module.router)
    for found in sorted(pkgutil.iter_modules(screens.__path__), key=lambda m: m.name):
        screen = importlib.import_module(f"{screens.__name__}.{found.name}")
        app.include_router(screen.router)
