"""Audio sources a media stream sends from, one 20 ms payload per tick.

Sources hand out *encoded* payloads: a prompt is decoded from WAV and
encoded to the leg's codec once (:class:`PromptCache`), so the per-tick hot
path is a slice and a ``sendto``.
"""

from __future__ import annotations

from collections import deque
from pathlib import Path
from typing import Protocol

from callvault.media.g711 import Codec
from callvault.media.wav import load_wav_8k

SAMPLES_PER_FRAME = 160
PCM_FRAME_BYTES = SAMPLES_PER_FRAME * 2


class PayloadSource(Protocol):
    """Yields one encoded 20 ms payload per call, ``None`` when exhausted."""

    def next_payload(self) -> bytes | None:
        """The next payload, or ``None`` at the end."""


class EncodedPrompt:
    """A prompt encoded for one codec, cut into 20 ms payloads."""

    __slots__ = ("codec_name", "frames", "pcm")

    def __init__(self, pcm: bytes, codec: Codec) -> None:
        pad = (-len(pcm)) % PCM_FRAME_BYTES
        self.pcm = pcm + b"\x00" * pad
        encoded = codec.encode(self.pcm)
        self.codec_name = codec.name
        self.frames = [
            encoded[i : i + SAMPLES_PER_FRAME] for i in range(0, len(encoded), SAMPLES_PER_FRAME)
        ]

    @property
    def duration_s(self) -> float:
        """Length in seconds."""
        return len(self.frames) * 0.02


class PromptCache:
    """Loads each WAV once and keeps its encodings per codec."""

    def __init__(self) -> None:
        self._pcm: dict[Path, bytes] = {}
        self._encoded: dict[tuple[Path, str], EncodedPrompt] = {}

    def pcm(self, path: Path) -> bytes:
        """8 kHz 16-bit mono PCM of ``path`` (any WAV rate/width on disk)."""
        pcm = self._pcm.get(path)
        if pcm is None:
            pcm = load_wav_8k(path)
            self._pcm[path] = pcm
        return pcm

    def get(self, path: Path, codec: Codec) -> EncodedPrompt:
        """``path`` encoded for ``codec``."""
        key = (path, codec.name)
        prompt = self._encoded.get(key)
        if prompt is None:
            prompt = EncodedPrompt(self.pcm(path), codec)
            self._encoded[key] = prompt
        return prompt


class PromptSource:
    """Plays a sequence of encoded prompts back to back."""

    __slots__ = ("_frames", "_index", "frames_sent")

    def __init__(self, prompts: list[EncodedPrompt]) -> None:
        self._frames = [frame for prompt in prompts for frame in prompt.frames]
        self._index = 0
        self.frames_sent = 0

    def next_payload(self) -> bytes | None:
        if self._index >= len(self._frames):
            return None
        frame = self._frames[self._index]
        self._index += 1
        self.frames_sent += 1
        return frame


class QueueSource:
    """Sends what is pushed into it (echo, injected audio); silence-free."""

    __slots__ = ("_queue", "limit")

    def __init__(self, limit: int = 10) -> None:
        self._queue: deque[bytes] = deque()
        self.limit = limit

    def push(self, payload: bytes) -> None:
        """Queue a payload; the oldest are dropped past ``limit`` (bounded delay)."""
        self._queue.append(payload)
        if len(self._queue) > self.limit:
            self._queue.popleft()

    def next_payload(self) -> bytes | None:
        return self._queue.popleft() if self._queue else b""


class LoopSource:
    """Repeats a prompt without end (music on hold); stopped by whoever plays it."""

    __slots__ = ("_frames", "_index")

    def __init__(self, prompt: EncodedPrompt) -> None:
        self._frames = prompt.frames or [b""]
        self._index = 0

    def next_payload(self) -> bytes | None:
        frame = self._frames[self._index]
        self._index = (self._index + 1) % len(self._frames)
        return frame
