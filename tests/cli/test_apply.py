"""`callvault apply`: idempotent, one transaction, errors name the key (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from callvault.cli.main import main
from callvault.store.db import Database
from callvault.store.repository import Accounts

ACME = """
[account]
slug = "acme"
name = "ACME sp. z o.o."
sip_domain = "acme.example"
plan = { addons = ["ivr_api"], quotas = { numbers = 10 } }

[[objects]]
kind = "sip_account"
login = "jan"
extension = "101"
password = "s3cret-pass"

[[objects]]
kind = "queue"
login = "sales"
settings = { strategy = "ring-all", members = ["jan"] }

[[numbers]]
number = "+48 22 123 45 67"
to = "sales"
label = "Google Ads"

[[trunks]]
name = "provider"
gateway = "sip:127.0.0.1:5099"
username = "acme"
password = "trunk-pass"
"""


async def _snapshot(url: str) -> dict[str, object]:
    db = Database(url)
    async with db.session() as session:
        accounts = Accounts(session)
        found = [a.slug for a in await accounts.list()]
        if "acme" not in found:
            await db.close()
            return {"accounts": found}
        scope = accounts.scope(await accounts.get("acme"))
        snapshot = {
            "accounts": found,
            "objects": [(o.kind.value, o.login, o.extension) for o in await scope.list_objects()],
            "numbers": [
                (n.e164, n.target.login if n.target else None, n.label)
                for n in await scope.list_numbers()
            ],
            "trunks": [t.name for t in await scope.list_trunks()],
        }
    await db.close()
    return snapshot


def test_apply_creates_then_reports_no_changes(
    tmp_path: Path,
    database_url: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = tmp_path / "acme.toml"
    path.write_text(ACME)
    assert main(["apply", str(path), "--db", database_url]) == 0
    first = capsys.readouterr().out
    assert "created account acme" in first and "created number +48221234567" in first
    assert asyncio.run(_snapshot(database_url)) == {
        "accounts": ["acme"],
        "objects": [("sip_account", "jan", "101"), ("queue", "sales", None)],
        "numbers": [("48221234567", "sales", "Google Ads")],
        "trunks": ["provider"],
    }
    assert main(["apply", str(path), "--db", database_url]) == 0
    assert "no changes" in capsys.readouterr().out
    path.write_text(ACME.replace('to = "sales"', 'to = "jan"'))
    assert main(["apply", str(path), "--db", database_url]) == 0
    assert "updated number +48221234567" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("mutation", "message"),
    [
        (('password = "s3cret-pass"', ""), "objects[0].password"),
        (('number = "+48 22 123 45 67"', 'number = "22x"'), "numbers[0].number"),
        (('to = "sales"', 'to = "ghost"'), "numbers[0]: no object with login 'ghost'"),
        (('addons = ["ivr_api"], ', ""), None),
    ],
)
def test_apply_errors_name_the_key_and_write_nothing(
    tmp_path: Path,
    database_url: str,
    capsys: pytest.CaptureFixture[str],
    mutation: tuple[str, str],
    message: str | None,
) -> None:
    text = ACME.replace(*mutation)
    if message is None:  # a plan without the add-on refuses an IVR API object
        text += '\n[[objects]]\nkind = "ivr_api"\nlogin = "crm"\n'
        message = "objects[2]: the account's plan does not include the ivr_api add-on"
    path = tmp_path / "bad.toml"
    path.write_text(text)
    assert main(["apply", str(path), "--db", database_url]) == 1
    error = capsys.readouterr().err
    assert message in error and "nothing was written" in error
    assert asyncio.run(_snapshot(database_url)) == {"accounts": []}


def test_dry_run_writes_nothing(
    tmp_path: Path,
    database_url: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = tmp_path / "acme.toml"
    path.write_text(ACME)
    assert main(["apply", str(path), "--db", database_url, "--dry-run"]) == 0
    assert "would have created account acme" in capsys.readouterr().out
    assert asyncio.run(_snapshot(database_url)) == {"accounts": []}
