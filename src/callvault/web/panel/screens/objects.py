"""``/admin/objects``: the account's call objects by kind -- list, create, edit settings, delete,
and test an IVR API object's connection.

Objects are SIP accounts, queues, IVR menus and IVR API objects; their
settings are JSON checked by :mod:`callvault.store.object_settings` on every
write.  The page reads through :func:`callvault.web.api_admin.list_objects`
(secrets only named as set, never shown), groups the objects by kind (or
shows one kind: ``?kind=queue``) and offers, per kind, the names of its
settings and an example (:data:`EXAMPLES`) for the JSON field.  Creating,
changing and deleting go through ``/api/v1/objects``; "Test connection"
POSTs ``/api/v1/objects/{login}/test-connection`` and
``static/admin-objects.js`` shows the report in the page.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request, Response

from callvault.store.object_settings import OBJECT_SETTINGS
from callvault.store.repository import Plan
from callvault.web.api_admin import SECRET_SETTINGS, list_objects
from callvault.web.context import Session
from callvault.web.panel.admin import admin_page, render_admin
from callvault.web.panel.i18n import Translator

router = APIRouter(include_in_schema=False)

KINDS = ("sip_account", "queue", "ivr_menu", "ivr_api")
"""The kinds of objects, in the page's order."""
EXAMPLES: dict[str, dict[str, Any]] = {
    "sip_account": {
        "password": "a-long-random-password",
        "caller_id": "+48 22 123 45 67",
        "ring_timeout_s": 30,
        "outbound": True,
    },
    "queue": {
        "members": ["jan", "ewa"],
        "strategy": "round-robin",
        "ring_timeout_s": 15,
        "max_wait_s": 300,
        "announce_position": True,
    },
    "ivr_menu": {
        "greeting": "menu-choose",
        "options": {"1": "sales", "2": "support", "0": "hangup"},
        "timeout_s": 5,
        "retries": 3,
        "on_fail": "hangup",
    },
    "ivr_api": {
        "url": "https://crm.example.com/ivr",
        "hash": "the-value-your-application-expects",
        "timeout_ms": 5000,
        "fallback": "CallByObjectLogin",
        "fallback_login": "sales",
        "signing_secrets": ["whsec_..."],
    },
}
"""Settings offered as the JSON field's example for each kind (valid as they are)."""


def secret_names(kind: str) -> list[str]:
    """The write-only settings of ``kind`` (shown only as set or not set)."""
    return [name for name in SECRET_SETTINGS if name in OBJECT_SETTINGS[kind].model_fields]


def as_json(value: Any, indent: int | None = None) -> str:
    """``value`` as the JSON people type (non-ASCII letters kept)."""
    return json.dumps(value, ensure_ascii=False, indent=indent)


def object_row(t: Translator, obj: dict[str, Any]) -> dict[str, Any]:
    """An object as its table row shows it: settings as JSON values, secrets as set or not."""
    settings: dict[str, Any] = obj["settings"]
    return {
        "kind": obj["kind"],
        "login": obj["login"],
        "name": obj["name"],
        "extension": obj["extension"] or "",
        "settings": [(key, as_json(value)) for key, value in sorted(settings.items())],
        "settings_json": as_json(settings, indent=2) if settings else "",
        "secrets": [(name, name in obj["secrets_set"]) for name in secret_names(obj["kind"])],
        "created": t.when(obj["created_at"]),
    }


def kind_choice(t: Translator, kind: str, addons: frozenset[str]) -> dict[str, Any]:
    """A kind as an option of the new object's form: its label, settings' names and example."""
    needs_addon = kind == "ivr_api" and "ivr_api" not in addons
    label = t.label("objects.kind", kind)
    return {
        "kind": kind,
        "label": f"{label} ({t('objects.needs_addon')})" if needs_addon else label,
        "setting_names": ", ".join(OBJECT_SETTINGS[kind].model_fields),
        "example": as_json(EXAMPLES[kind], indent=2),
    }


@router.get("/admin/objects")
async def objects_page(request: Request, session: Session) -> Response:
    """The account's objects grouped by kind (``?kind=`` shows one) and the forms."""
    page = await admin_page(request, session, "objects")
    assert page.principal is not None
    t = page.t
    wanted = request.query_params.get("kind", "")
    shown = [wanted] if wanted in KINDS else list(KINDS)
    rows = [object_row(t, obj) for obj in await list_objects(page.principal, session)]
    groups = [
        {
            "kind": kind,
            "label": t.label("objects.kind", kind),
            "rows": [row for row in rows if row["kind"] == kind],
        }
        for kind in shown
    ]
    filters = [
        {
            "kind": kind,
            "label": t.label("objects.kind", kind) if kind else t("objects.all"),
            "count": sum(1 for row in rows if not kind or row["kind"] == kind),
            "current": kind == (wanted if wanted in KINDS else ""),
        }
        for kind in ("", *KINDS)
    ]
    addons = Plan.from_json(page.account.plan).addons if page.account else frozenset[str]()
    return render_admin(
        page,
        "objects",
        "admin/objects.html",
        groups=groups,
        filters=filters,
        kinds=[kind_choice(t, kind, addons) for kind in KINDS],
        selected_kind=wanted if wanted in KINDS else KINDS[0],
    )
