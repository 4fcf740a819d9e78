"""An account's prompt library: uploaded WAVs, converted to 8 kHz mono and validated.

Whatever an admin exports (44.1 kHz stereo 24-bit is common) is decoded and
resampled once on upload; the library keeps 8 kHz 16-bit mono WAV, which
the engine encodes per codec when it plays.  A file that is not usable audio
is refused with the reason, and nothing is stored.
"""

from __future__ import annotations

import io
import re
import wave

from sqlalchemy import select

from callvault.media.wav import WavFormatError, decode_wav_8k
from callvault.store.errors import ConflictError, InvalidInputError, NotFoundError
from callvault.store.models import Prompt
from callvault.store.repository import AccountScope

MAX_SECONDS = 600
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


def _wav_bytes(pcm: bytes) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(8000)
        writer.writeframes(pcm)
    return out.getvalue()


class PromptLibrary:
    """Prompts of one account."""

    def __init__(self, scope: AccountScope) -> None:
        self.scope = scope
        self.session = scope.session

    async def add(self, name: str, data: bytes, *, source: str = "upload") -> Prompt:
        """Validate, convert and store a WAV under ``name``."""
        if not _NAME.match(name):
            raise InvalidInputError(
                f"invalid prompt name {name!r}: letters, digits, dot, dash, underscore"
            )
        try:
            pcm = decode_wav_8k(data)
        except WavFormatError as exc:
            raise InvalidInputError(f"{source}: {exc}") from None
        seconds = len(pcm) / 16000
        if seconds < 0.05:
            raise InvalidInputError(f"{source}: the audio is empty")
        if seconds > MAX_SECONDS:
            raise InvalidInputError(
                f"{source}: {seconds:.0f} s is longer than the {MAX_SECONDS} s a prompt may last"
            )
        if await self._find(name) is not None:
            raise ConflictError(
                f"prompt {name!r} already exists in account {self.scope.account.slug}"
            )
        prompt = Prompt(
            account_id=self.scope.account_id,
            name=name,
            wav=_wav_bytes(pcm),
            duration_ms=round(seconds * 1000),
        )
        self.session.add(prompt)
        await self.session.flush()
        return prompt

    async def _find(self, name: str) -> Prompt | None:
        return await self.session.scalar(
            select(Prompt).where(Prompt.account_id == self.scope.account_id, Prompt.name == name)
        )

    async def get(self, name: str) -> Prompt:
        """The prompt called ``name``."""
        prompt = await self._find(name)
        if prompt is None:
            raise NotFoundError(f"no prompt {name!r} in account {self.scope.account.slug}")
        return prompt

    async def list(self) -> list[Prompt]:
        """Every prompt of the account, by name."""
        statement = select(Prompt).where(Prompt.account_id == self.scope.account_id)
        return list(await self.session.scalars(statement.order_by(Prompt.name)))

    async def delete(self, name: str) -> None:
        """Remove a prompt."""
        await self.session.delete(await self.get(name))
        await self.session.flush()
