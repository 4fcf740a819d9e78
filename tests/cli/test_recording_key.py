"""``callvault recording-key``: recordings sealed to the customer's RSA key (both databases)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import select

from callvault.cli.main import main
from callvault.recording.crypto import RecipientKey, decrypt_file, encrypt_file
from callvault.store.db import Database
from callvault.store.models import AccountKey
from callvault.store.repository import Accounts


async def _account(url: str) -> None:
    db = Database(url)
    await asyncio.to_thread(db.migrate)
    async with db.session() as session:
        await Accounts(session).create("acme", "ACME")
        await session.commit()
    await db.close()


async def _key_row(url: str) -> AccountKey | None:
    db = Database(url)
    async with db.session() as session:
        row = await session.scalar(select(AccountKey))
    await db.close()
    return row


def test_set_show_clear_and_only_the_private_key_opens(
    database_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    asyncio.run(_account(database_url))
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    (tmp_path / "bad.pem").write_text("not a key")
    (tmp_path / "acme.pem").write_bytes(pem)
    base = ["recording-key"]
    db = ["--account", "acme", "--db", database_url]
    assert main([*base, "set", *db, "--public-key", str(tmp_path / "bad.pem")]) == 2
    assert "error:" in capsys.readouterr().err
    assert asyncio.run(_key_row(database_url)) is None, "a refused key writes nothing"
    assert main([*base, "set", *db, "--public-key", str(tmp_path / "acme.pem")]) == 0
    assert "sealed to rsa:" in capsys.readouterr().out
    assert main([*base, "show", *db]) == 0
    assert "customer's key" in capsys.readouterr().out
    row = asyncio.run(_key_row(database_url))
    assert row is not None and row.public_key_pem is not None
    recipient = RecipientKey.from_pem(row.public_key_pem.encode())
    (tmp_path / "clear.wav").write_bytes(b"RIFF" + bytes(range(256)) * 700)
    encrypt_file(tmp_path / "clear.wav", tmp_path / "sealed", recipient)
    decrypt_file(tmp_path / "sealed", tmp_path / "opened.wav", private)
    assert (tmp_path / "opened.wav").read_bytes() == (tmp_path / "clear.wav").read_bytes()
    assert main([*base, "clear", *db]) == 0
    assert main([*base, "show", *db]) == 0
    assert "account key" in capsys.readouterr().out
    assert main([*base, "show", "--account", "nobody", "--db", database_url]) == 2
