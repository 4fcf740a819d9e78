"""``/api/v1/prompts``: an account's announcements -- upload, list, play, delete.

Needs ``objects.manage``.  An upload is a multipart form (``file``, and
``name``, by default the file's name without its extension) going through
:class:`~callvault.store.prompts.PromptLibrary`: whatever WAV an admin
exports is converted to 8 kHz 16-bit mono, and a file that is not usable
audio is refused (422) with the reason -- not a WAV, an unsupported
encoding, empty, longer than the limit -- and nothing is stored.  The stored
audio is served back as ``audio/wav`` for the panel's player.  Uploads and
deletions are audited.
"""

from __future__ import annotations

from pathlib import PurePath
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Request, Response, UploadFile

from callvault.store.errors import InvalidInputError
from callvault.store.models import Prompt
from callvault.store.prompts import PromptLibrary
from callvault.web.api_admin import account_scope, audit_change
from callvault.web.context import Session, iso
from callvault.web.errors import ApiError
from callvault.web.security import Principal, require

router = APIRouter(prefix="/api/v1/prompts", tags=["prompts"])
Manager = Annotated[Principal, Depends(require("objects.manage"))]

MAX_UPLOAD_BYTES = 100 * 1024 * 1024
"""The largest file accepted (a 10-minute 48 kHz 24-bit stereo WAV is about 173 MB; such a
prompt is better exported at a lower rate)."""
_CHUNK = 1024 * 1024


def prompt_json(prompt: Prompt) -> dict[str, Any]:
    """A prompt without its audio."""
    return {
        "name": prompt.name,
        "duration_ms": prompt.duration_ms,
        "size_bytes": len(prompt.wav),
        "created_at": iso(prompt.created_at),
        "audio_url": f"/api/v1/prompts/{prompt.name}/audio",
    }


async def _read_limited(upload: UploadFile) -> bytes:
    """The uploaded file's bytes, or 413 past :data:`MAX_UPLOAD_BYTES`."""
    data = bytearray()
    while chunk := await upload.read(_CHUNK):
        data += chunk
        if len(data) > MAX_UPLOAD_BYTES:
            raise ApiError(
                413,
                f"the file is larger than {MAX_UPLOAD_BYTES // (1024 * 1024)} MB; "
                "export the prompt as 8 or 16 kHz mono",
            )
    return bytes(data)


@router.get("")
async def list_prompts(principal: Manager, session: Session) -> list[dict[str, Any]]:
    """The account's prompts, by name."""
    library = PromptLibrary(await account_scope(session, principal))
    return [prompt_json(prompt) for prompt in await library.list()]


@router.post("", status_code=201)
async def upload_prompt(
    request: Request,
    principal: Manager,
    session: Session,
    file: Annotated[UploadFile, File(description="a WAV file (any rate, channels, PCM width)")],
    name: Annotated[str | None, Form(max_length=100)] = None,
) -> dict[str, Any]:
    """Upload a WAV as a prompt; refusals say what is wrong with the file."""
    source = file.filename or "upload"
    wanted = name or PurePath(source).stem
    if not wanted:
        raise InvalidInputError("give the prompt a name (form field name)")
    data = await _read_limited(file)
    library = PromptLibrary(await account_scope(session, principal))
    prompt = await library.add(wanted, data, source=PurePath(source).name or "upload")
    out = prompt_json(prompt)
    detail = {"file": source, "bytes": len(data), "duration_ms": prompt.duration_ms}
    await audit_change(request, session, principal, "prompt.create", "prompt", prompt.name, detail)
    return out


@router.get(
    "/{name}/audio",
    response_class=Response,
    responses={200: {"content": {"audio/wav": {}}, "description": "8 kHz 16-bit mono WAV"}},
)
async def prompt_audio(name: str, principal: Manager, session: Session) -> Response:
    """The prompt as stored (8 kHz 16-bit mono WAV), for playing in the panel."""
    library = PromptLibrary(await account_scope(session, principal))
    prompt = await library.get(name)
    return Response(
        prompt.wav,
        media_type="audio/wav",
        headers={
            "Content-Disposition": f'inline; filename="{prompt.name}.wav"',
            "Cache-Control": "private, no-cache",
        },
    )


@router.delete("/{name}", status_code=204)
async def delete_prompt(
    name: str, request: Request, principal: Manager, session: Session
) -> Response:
    """Delete a prompt (objects naming it then get the built-in prompt of that name, if any)."""
    library = PromptLibrary(await account_scope(session, principal))
    await library.delete(name)
    await audit_change(request, session, principal, "prompt.delete", "prompt", name)
    return Response(status_code=204)
