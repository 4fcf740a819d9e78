"""``/admin/numbers``: the account's numbers (DIDs) -- list, add, change label or object, delete.

The page reads through the REST API's own functions
(:func:`callvault.web.api_admin.list_numbers` and ``list_objects``), so it
shows exactly what ``GET /api/v1/numbers`` would, for the signed-in user's
account only.  Adding, changing and deleting go through ``/api/v1/numbers``
from the page's forms (``static/admin.js``): the API normalises the number,
refuses duplicates, bad formats and a full quota with its own message, and
audits the change.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from callvault.web.api_admin import list_numbers, list_objects
from callvault.web.context import Session
from callvault.web.panel.admin import admin_page, render_admin
from callvault.web.panel.i18n import DASH, Translator

router = APIRouter(include_in_schema=False)


def object_choice(t: Translator, obj: dict[str, Any]) -> dict[str, str]:
    """An object as an option of the "leads to" select: its login, kind and name."""
    kind = t.label("objects.kind", obj["kind"])
    name = f" {DASH} {obj['name']}" if obj["name"] else ""
    return {"login": obj["login"], "text": f"{obj['login']} ({kind}){name}"}


def number_row(t: Translator, number: dict[str, Any]) -> dict[str, Any]:
    """A number as the table shows it (readable form, label, target, when it was added)."""
    return {
        "number": number["number"],
        "display": number["display"],
        "label": number["label"],
        "target": number["target"] or "",
        "target_kind": t.label("objects.kind", number["target_kind"]),
        "created": t.when(number["created_at"]),
    }


@router.get("/admin/numbers")
async def numbers_page(request: Request, session: Session) -> Response:
    """The account's numbers, the form for a new one and each number's edit form."""
    page = await admin_page(request, session, "numbers")
    assert page.principal is not None
    t = page.t
    numbers = await list_numbers(page.principal, session)
    objects = await list_objects(page.principal, session)
    return render_admin(
        page,
        "numbers",
        "admin/numbers.html",
        rows=[number_row(t, number) for number in numbers],
        choices=[object_choice(t, obj) for obj in objects],
    )
