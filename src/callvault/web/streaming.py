"""Playing recordings over HTTP: byte ranges of the clear audio, decrypted on the fly.

A single ``Range: bytes=a-b`` (or ``a-``, ``-n``) of the *plaintext* is
answered 206 with ``Content-Range``; no range, or several, the whole file
200.  Encrypted recordings are opened with the account's data key
(unwrapped with the operator's master key) and only the chunks covering the
range are read from the storage and decrypted, in memory: clear audio never
touches the disk.  Recordings sealed to the customer's own RSA key cannot be
played by the server (409 ``sealed``).
"""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

from fastapi.responses import StreamingResponse
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from callvault.recording.crypto import DataKey, DecryptError, EncryptedRecording
from callvault.recording.storage import ObjectNotFound, StorageError
from callvault.store.models import AccountKey, Recording, RecordingState
from callvault.web.context import ApiContext
from callvault.web.errors import ApiError

log = logging.getLogger("callvault.web.streaming")

PLAYABLE = (RecordingState.READY.value, RecordingState.PARTIAL.value)
MEDIA_TYPES = {"wav": "audio/wav", "mp3": "audio/mpeg", "opus": "audio/ogg"}
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The half-open ``[start, end)`` a Range header asks for; None for the whole file.

    An unsatisfiable range is :class:`ApiError` 416; a malformed or multiple
    one is ignored (RFC 9110 allows serving the whole representation).
    """
    if not header:
        return None
    match = _RANGE.match(header.strip().replace(" ", ""))
    if match is None:
        return None
    first, last = match.groups()
    if not first and not last:
        return None
    if not first:
        suffix = int(last)
        if suffix == 0:
            raise _unsatisfiable(size)
        return max(0, size - suffix), size
    start = int(first)
    end = min(size, int(last) + 1) if last else size
    if start >= size or (last and int(last) < start):
        raise _unsatisfiable(size)
    return start, end


def _unsatisfiable(size: int) -> ApiError:
    return ApiError(
        416,
        f"the range is outside the recording ({size} bytes)",
        details={"size": size},
        headers={"Content-Range": f"bytes */{size}"},
    )


@dataclass
class AudioSource:
    """A recording's clear bytes: its length and a reader of ranges."""

    size: int
    read: Callable[[int, int], AsyncIterator[bytes]]


async def _data_key(session: AsyncSession, ctx: ApiContext, row: Recording) -> DataKey:
    if row.key_id and row.key_id.startswith("rsa:"):
        raise ApiError(
            409,
            "this recording is sealed to the account's own public key: only its private key "
            "opens it (download the encrypted object from the storage)",
            error="sealed",
        )
    key = await session.scalar(select(AccountKey).where(AccountKey.account_id == row.account_id))
    if key is None:
        raise ApiError(409, "the account has no recording key", error="no_key")
    try:
        return DataKey(key.key_id, ctx.keyring.unwrap(key.wrapped_key))
    except DecryptError as exc:
        log.error("account %s: data key does not unwrap: %s", row.account_id, exc)
        raise ApiError(409, "the recording key cannot be opened", error="no_key") from None


async def open_audio(session: AsyncSession, ctx: ApiContext, row: Recording) -> AudioSource:
    """The clear audio of a playable recording, or the :class:`ApiError` that explains why not."""
    if row.state not in PLAYABLE or not row.storage_key:
        raise ApiError(
            409,
            f"the recording is {row.state}, not playable yet",
            error="not_ready",
            details={"state": row.state},
        )
    key_name = row.storage_key
    storage = ctx.storage
    try:
        if not row.encrypted:
            size = await storage.size(key_name)
            return AudioSource(size, lambda start, end: storage.iter_range(key_name, start, end))

        async def reader(start: int, end: int) -> bytes:
            return await storage.read_range(key_name, start, end)

        data_key = await _data_key(session, ctx, row)
        recording = await EncryptedRecording.open(reader, data_key)
    except ObjectNotFound:
        raise ApiError(
            409, "the recording's file is missing from the storage", error="missing_file"
        ) from None
    except StorageError as exc:
        raise ApiError(503, f"the recording storage does not answer: {exc}") from None
    except DecryptError as exc:
        log.error("recording %s cannot be decrypted: %s", row.id, exc)
        raise ApiError(
            409,
            "the recording cannot be decrypted (damaged, or another key)",
            error="cannot_decrypt",
        ) from None
    return AudioSource(recording.header.plain_length, recording.iter_range)


async def _guarded(pieces: AsyncIterator[bytes], recording_id: str) -> AsyncIterator[bytes]:
    """The pieces; a failure mid-stream is logged (the status line has been sent already)."""
    try:
        async for piece in pieces:
            yield piece
    except (DecryptError, StorageError) as exc:
        log.error("streaming recording %s stopped: %s", recording_id, exc)
        raise


def audio_response(
    source: AudioSource,
    row: Recording,
    range_header: str | None,
    *,
    attachment: bool = False,
) -> StreamingResponse:
    """200 with the whole audio or 206 with the asked range, streamed as it is decrypted."""
    wanted = parse_range(range_header, source.size)
    start, end = wanted if wanted is not None else (0, source.size)
    disposition = "attachment" if attachment else "inline"
    headers = {
        "Accept-Ranges": "bytes",
        "Content-Length": str(end - start),
        "Cache-Control": "no-store",
        "Content-Disposition": f'{disposition}; filename="{row.id}.{row.format}"',
        "X-Content-Type-Options": "nosniff",
    }
    status = 200
    if wanted is not None:
        status = 206
        headers["Content-Range"] = f"bytes {start}-{end - 1}/{source.size}"
    return StreamingResponse(
        _guarded(source.read(start, end), row.id),
        status_code=status,
        headers=headers,
        media_type=MEDIA_TYPES.get(row.format, "application/octet-stream"),
    )
