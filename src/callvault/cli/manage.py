"""``callvault apply`` and ``callvault db migrate``: manage the data of a node."""

from __future__ import annotations

import asyncio
import sys
import tomllib
from pathlib import Path

from callvault.config import Settings
from callvault.store.apply import apply_account
from callvault.store.db import Database
from callvault.store.errors import StoreError


def database_for(url: str | None) -> Database:
    """The database of ``--db`` or of the settings (env, defaults)."""
    settings = Settings()
    return Database(url or settings.database_url or Database.default_url(settings.data_dir))


async def migrate(url: str | None) -> int:
    """Bring the schema up to date."""
    db = database_for(url)
    await asyncio.to_thread(db.migrate)
    await db.close()
    print(f"database {db.url} is at the latest revision")
    return 0


async def apply_file(path: Path, *, url: str | None, dry_run: bool) -> int:
    """Apply one account file in one transaction; nothing is written on error."""
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        print(f"callvault: error: cannot read {path}: {exc}", file=sys.stderr)
        return 1
    db = database_for(url)
    await asyncio.to_thread(db.migrate)
    try:
        async with db.session() as session:
            try:
                report = await apply_account(session, doc)
            except StoreError as exc:
                await session.rollback()
                print(f"callvault: error: {path}: {exc} (nothing was written)", file=sys.stderr)
                return 1
            if dry_run:
                await session.rollback()
            else:
                await session.commit()
    finally:
        await db.close()
    for line in report.lines():
        print(("would have " if dry_run and report.changed else "") + line)
    return 0


async def prompts_command(
    action: str, account: str, name: str | None, file: Path | None, *, url: str | None
) -> int:
    """``callvault prompts add|list|delete|export``."""
    from callvault.store.prompts import PromptLibrary
    from callvault.store.repository import Accounts

    db = database_for(url)
    await asyncio.to_thread(db.migrate)
    try:
        async with db.session() as session:
            try:
                accounts = Accounts(session)
                library = PromptLibrary(accounts.scope(await accounts.get(account)))
                if action == "list":
                    for prompt in await library.list():
                        print(f"{prompt.name}\t{prompt.duration_ms / 1000:.2f} s")
                    return 0
                assert name is not None
                if action == "add":
                    assert file is not None
                    try:
                        data = file.read_bytes()
                    except OSError as exc:
                        print(
                            f"callvault: error: cannot read {file}: {exc.strerror}", file=sys.stderr
                        )
                        return 1
                    prompt = await library.add(name, data, source=file.name)
                    print(f"added prompt {name} ({prompt.duration_ms / 1000:.2f} s, 8 kHz mono)")
                elif action == "delete":
                    await library.delete(name)
                    print(f"deleted prompt {name}")
                elif action == "export":
                    assert file is not None
                    file.write_bytes((await library.get(name)).wav)
                    print(f"wrote {file}")
                await session.commit()
            except StoreError as exc:
                await session.rollback()
                print(f"callvault: error: {exc}", file=sys.stderr)
                return 1
    finally:
        await db.close()
    return 0
