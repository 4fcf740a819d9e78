"""``/admin/prompts``: the account's prompts (zapowiedzi) -- list, play, upload a WAV, delete.

The page reads through :func:`callvault.web.api_prompts.list_prompts` and
plays each prompt from ``/api/v1/prompts/{name}/audio``.  Uploading (a
multipart form: ``file`` and ``name``) and deleting go through
``/api/v1/prompts``, which converts the WAV to 8 kHz mono and refuses what is
not usable audio with the reason.  An uploaded prompt with the name of a
built-in one (:mod:`callvault.demo.sounds`) replaces it for the account's
calls; the page says so, and lists the built-in names.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from fastapi import APIRouter, Request, Response

from callvault.demo import sounds
from callvault.web.api_prompts import list_prompts
from callvault.web.context import Session
from callvault.web.panel.admin import admin_page, render_admin
from callvault.web.panel.i18n import Translator

router = APIRouter(include_in_schema=False)


@cache
def built_in() -> tuple[str, ...]:
    """The names of the built-in prompts (any language), read once."""
    return tuple(sorted({name for lang in sounds.LANGUAGES for name in sounds.names(lang)}))


def seconds(t: Translator, milliseconds: int) -> str:
    """A prompt's length in seconds with one decimal, in the language's form (``1,5 s``)."""
    text = f"{milliseconds / 1000:.1f}"
    return f"{text.replace('.', ',') if t.lang == 'pl' else text} s"


def prompt_row(t: Translator, prompt: dict[str, Any]) -> dict[str, Any]:
    """A prompt as its table row shows it."""
    replaces = prompt["name"] in built_in()
    return {
        "name": prompt["name"],
        "duration": seconds(t, prompt["duration_ms"]),
        "size": t.size(prompt["size_bytes"]),
        "source": t("prompts.source_replaces" if replaces else "prompts.source_uploaded"),
        "created": t.when(prompt["created_at"]),
        "audio_url": prompt["audio_url"],
    }


@router.get("/admin/prompts")
async def prompts_page(request: Request, session: Session) -> Response:
    """The account's prompts with a player each, and the upload form."""
    page = await admin_page(request, session, "prompts")
    assert page.principal is not None
    rows = [prompt_row(page.t, prompt) for prompt in await list_prompts(page.principal, session)]
    return render_admin(
        page, "prompts", "admin/prompts.html", rows=rows, built_in=", ".join(built_in())
    )
