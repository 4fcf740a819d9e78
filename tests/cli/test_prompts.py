"""`callvault prompts`: any WAV becomes 8 kHz mono; bad files are refused with a reason."""

from __future__ import annotations

import asyncio
import io
import wave
from pathlib import Path

import numpy as np
import pytest

from callvault.cli.main import main
from callvault.store.db import Database
from callvault.store.repository import Accounts


async def _account(url: str) -> None:
    db = Database(url)
    await asyncio.to_thread(db.migrate)
    async with db.session() as session:
        await Accounts(session).create("acme", "ACME")
        await session.commit()
    await db.close()


def _stereo_44k(path: Path, seconds: float) -> None:
    t = np.arange(int(44100 * seconds)) / 44100
    tone = (0.3 * np.sin(2 * np.pi * 440 * t) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as writer:
        writer.setnchannels(2)
        writer.setsampwidth(2)
        writer.setframerate(44100)
        writer.writeframes(np.repeat(tone[:, None], 2, axis=1).tobytes())


def test_upload_converts_lists_exports_and_deletes(
    tmp_path: Path, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    asyncio.run(_account(database_url))
    source = tmp_path / "welcome.wav"
    _stereo_44k(source, 1.5)
    assert main(["prompts", "add", "acme", "welcome", str(source), "--db", database_url]) == 0
    assert "1.50 s, 8 kHz mono" in capsys.readouterr().out
    assert main(["prompts", "list", "acme", "--db", database_url]) == 0
    assert "welcome\t1.50 s" in capsys.readouterr().out
    exported = tmp_path / "out.wav"
    assert main(["prompts", "export", "acme", "welcome", str(exported), "--db", database_url]) == 0
    with wave.open(str(exported)) as reader:
        assert (reader.getframerate(), reader.getnchannels(), reader.getsampwidth()) == (8000, 1, 2)
        assert reader.getnframes() == 12000
    assert main(["prompts", "add", "acme", "welcome", str(source), "--db", database_url]) == 1
    assert "already exists" in capsys.readouterr().err
    assert main(["prompts", "delete", "acme", "welcome", "--db", database_url]) == 0
    capsys.readouterr()
    assert main(["prompts", "list", "acme", "--db", database_url]) == 0
    assert capsys.readouterr().out == ""


def test_malformed_upload_is_refused_with_the_reason(
    tmp_path: Path, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    asyncio.run(_account(database_url))
    fake = tmp_path / "notes.wav"
    fake.write_text("these are meeting notes, not audio")
    assert main(["prompts", "add", "acme", "notes", str(fake), "--db", database_url]) == 1
    assert "notes.wav: not a RIFF/WAVE file" in capsys.readouterr().err
    empty = tmp_path / "empty.wav"
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(8000)
        writer.writeframes(b"")
    empty.write_bytes(buffer.getvalue())
    assert main(["prompts", "add", "acme", "empty", str(empty), "--db", database_url]) == 1
    assert "empty" in capsys.readouterr().err
    assert main(["prompts", "list", "acme", "--db", database_url]) == 0
    assert capsys.readouterr().out == ""
