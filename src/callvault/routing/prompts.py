"""Prompts for call logic: an account's uploaded library first, the built-in one second.

Queues and menus name prompts (``greeting``, ``hold-music``); an account
can upload its own under the same name to replace a built-in one.  Uploaded
WAVs are read from the store once per ``ttl_s`` and encoded per codec once.
"""

from __future__ import annotations

import time

from callvault.demo.sounds import UnknownPromptError
from callvault.engine.engine import Engine
from callvault.engine.leg import Leg
from callvault.engine.sources import EncodedPrompt, LoopSource, PromptSource
from callvault.media.g711 import Codec, codec_by_name
from callvault.media.wav import decode_wav_8k
from callvault.routing.directory import Directory


class AccountPrompts:
    """Resolves prompt names for one node, per account."""

    def __init__(self, engine: Engine, directory: Directory, *, ttl_s: float = 30.0) -> None:
        self.engine = engine
        self.directory = directory
        self.ttl_s = ttl_s
        self._pcm: dict[tuple[int, str], tuple[float, bytes | None]] = {}
        self._encoded: dict[tuple[int, str, str], EncodedPrompt] = {}

    async def _account_pcm(self, account_id: int, name: str) -> bytes | None:
        key = (account_id, name)
        cached = self._pcm.get(key)
        now = time.monotonic()
        if cached is not None and cached[0] > now:
            return cached[1]
        wav = await self.directory.prompt_wav(account_id, name)
        pcm = decode_wav_8k(wav) if wav is not None else None
        self._pcm[key] = (now + self.ttl_s, pcm)
        for stale in [k for k in self._encoded if k[:2] == key]:
            del self._encoded[stale]
        return pcm

    async def encoded(self, account_id: int, name: str, codec: Codec) -> EncodedPrompt:
        """``name`` for ``codec``; raises :class:`UnknownPromptError` if nobody has it."""
        pcm = await self._account_pcm(account_id, name)
        if pcm is None:
            try:
                return self.engine.prompt(name, codec)
            except KeyError as exc:
                raise UnknownPromptError(str(exc)) from None
        key = (account_id, name, codec.name)
        prompt = self._encoded.get(key)
        if prompt is None:
            prompt = EncodedPrompt(pcm, codec)
            self._encoded[key] = prompt
        return prompt

    async def play(
        self, leg: Leg, account_id: int, names: list[str], *, barge_in: bool = False
    ) -> bool:
        """Play prompts on ``leg`` back to back (see :meth:`Leg.play`)."""
        codec = _codec_of(leg)
        prompts = [await self.encoded(account_id, name, codec) for name in names]
        return await leg.play(PromptSource(prompts), barge_in=barge_in)

    async def loop(self, leg: Leg, account_id: int, name: str) -> None:
        """Play ``name`` over and over until cancelled (music on hold)."""
        prompt = await self.encoded(account_id, name, _codec_of(leg))
        await leg.play(LoopSource(prompt))


def _codec_of(leg: Leg) -> Codec:
    assert leg.negotiated is not None, "media must be negotiated before playing"
    return codec_by_name(leg.negotiated.codec)
