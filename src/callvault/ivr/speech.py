"""Audio for the IVR API's ``Say*`` actions: prompt fragments and speech synthesis.

``SayNumber``, ``SayDigits``, ``SayDate`` and ``SayTime`` are spoken from the
fragments :mod:`callvault.ivr.say` picks (with Polish grammar) and the
project generates (``scripts/generate_say_fragments.py``).  v2 ``Say`` text
is synthesised with espeak-ng on the node, converted to 8 kHz mono, and
cached by (language, text), so a repeated sentence costs nothing.
"""

from __future__ import annotations

import asyncio
import datetime
import shutil
import tempfile
from collections import OrderedDict
from pathlib import Path

from callvault.engine.engine import Engine
from callvault.engine.sources import EncodedPrompt
from callvault.ivr.models import (
    AnyAction,
    SayAction,
    SayDateAction,
    SayDigitsAction,
    SayNumberAction,
    SayTimeAction,
)
from callvault.ivr.say import fragment_path, say_date, say_digits, say_number, say_time
from callvault.media.g711 import codec_by_name
from callvault.media.wav import WavFormatError, load_wav_8k

VOICES = {"pl": "pl", "en": "en-us"}
CACHE_ENTRIES = 256
_synthesised: OrderedDict[tuple[str, str], bytes] = OrderedDict()


class SpeechUnavailable(Exception):
    """Speech synthesis cannot run here (espeak-ng missing or failing)."""


def fragments_for(action: AnyAction) -> list[str]:
    """The fragment names a ``Say*`` action (other than ``Say``) is spoken with."""
    if isinstance(action, SayNumberAction):
        return say_number(action.Number, action.Language, action.Gender)
    if isinstance(action, SayDigitsAction):
        return say_digits(action.Digits, action.Language)
    if isinstance(action, SayDateAction):
        return say_date(datetime.date.fromisoformat(action.Date), action.Language)
    if isinstance(action, SayTimeAction):
        hours, minutes = action.Time.split(":")
        return say_time(datetime.time(int(hours), int(minutes)), action.Language)
    raise TypeError(f"{action.Type} is not spoken from fragments")


async def synthesise(text: str, language: str) -> bytes:
    """8 kHz 16-bit mono PCM of ``text`` spoken by espeak-ng (cached)."""
    key = (language, text)
    cached = _synthesised.get(key)
    if cached is not None:
        _synthesised.move_to_end(key)
        return cached
    binary = shutil.which("espeak-ng")
    if binary is None:
        raise SpeechUnavailable("speech synthesis unavailable: espeak-ng is not installed")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "say.wav"
        process = await asyncio.create_subprocess_exec(
            binary, "-v", VOICES.get(language, language), "-s", "150", "-w", str(out), "--", text,
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        _, stderr = await process.communicate()
        if process.returncode != 0:
            message = stderr.decode(errors="replace").strip()
            raise SpeechUnavailable(f"espeak-ng failed: {message}")
        try:
            pcm = await asyncio.to_thread(load_wav_8k, out)
        except WavFormatError as exc:
            raise SpeechUnavailable(f"espeak-ng wrote no usable audio: {exc}") from None
    _synthesised[key] = pcm
    if len(_synthesised) > CACHE_ENTRIES:
        _synthesised.popitem(last=False)
    return pcm


async def say_prompts(engine: Engine, action: AnyAction, codec_name: str) -> list[EncodedPrompt]:
    """The encoded audio of a ``Say*`` action for a leg using ``codec_name``."""
    codec = codec_by_name(codec_name)
    if isinstance(action, SayAction):
        return [EncodedPrompt(await synthesise(action.Text, action.Language), codec)]
    language = getattr(action, "Language", "pl")
    return [engine.prompts.get(fragment_path(language, name), codec) for name in
            fragments_for(action)]  # fmt: skip
