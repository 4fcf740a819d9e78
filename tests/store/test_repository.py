"""Accounts, numbers and objects on SQLite and PostgreSQL: validation, plans, tenant isolation."""

from __future__ import annotations

import pytest
from sqlalchemy import func, inspect, select

from callvault.store.db import Database
from callvault.store.errors import ConflictError, InvalidInputError, NotFoundError, PlanLimitError
from callvault.store.models import CallObject, Number
from callvault.store.repository import Accounts, find_number_owner


async def test_migrations_create_the_schema(db: Database) -> None:
    async with db.engine.connect() as conn:
        tables = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
    assert {"accounts", "numbers", "objects", "trunks", "prompts", "calls"} <= tables
    db.migrate()  # idempotent


async def test_account_slug_is_validated_and_unique(db: Database) -> None:
    async with db.session() as session:
        accounts = Accounts(session)
        await accounts.create("acme", "ACME sp. z o.o.")
        await session.commit()
        with pytest.raises(ConflictError, match="already exists"):
            await accounts.create("acme", "again")
    async with db.session() as session:
        with pytest.raises(InvalidInputError, match="slug"):
            await Accounts(session).create("Bad Slug!", "x")
        assert [a.slug for a in await Accounts(session).list()] == ["acme"]


@pytest.mark.parametrize(
    "text", ["+48 22 123 45 67", "0048221234567", "221234567", "(22) 123-45-67", "48221234567"]
)
async def test_numbers_accept_polish_input_forms(db: Database, text: str) -> None:
    async with db.session() as session:
        accounts = Accounts(session)
        scope = accounts.scope(await accounts.create("acme", "ACME"))
        await scope.create_object("sip_account", "jan", extension="101")
        number = await scope.add_number(text, target_login="jan", label="Google Ads")
        await session.commit()
        assert number.e164 == "48221234567"
        found = await find_number_owner(session, "+48221234567")
        assert found is not None and found.target is not None and found.target.login == "jan"


async def test_bad_input_is_refused_and_nothing_is_written(db: Database) -> None:
    async with db.session() as session:
        accounts = Accounts(session)
        scope = accounts.scope(await accounts.create("acme", "ACME"))
        await session.commit()
        with pytest.raises(InvalidInputError, match="contains 'x'"):
            await scope.add_number("22x1234567")
        with pytest.raises(NotFoundError, match="no object with login 'ghost'"):
            await scope.add_number("221234567", target_login="ghost")
        with pytest.raises(InvalidInputError, match="unknown object kind"):
            await scope.create_object("fax", "f1")
    async with db.session() as session:
        assert await session.scalar(select(func.count()).select_from(Number)) == 0
        assert await session.scalar(select(func.count()).select_from(CallObject)) == 0


async def test_duplicate_number_and_login_are_conflicts(db: Database) -> None:
    async with db.session() as session:
        accounts = Accounts(session)
        scope = accounts.scope(await accounts.create("acme", "ACME"))
        await scope.add_number("221234567")
        await scope.create_object("queue", "sales")
        await session.commit()
        with pytest.raises(ConflictError, match=r"\+48221234567"):
            await scope.add_number("+48 22 123 45 67")
    async with db.session() as session:
        accounts = Accounts(session)
        scope = accounts.scope(await accounts.get("acme"))
        with pytest.raises(ConflictError):
            await scope.create_object("queue", "sales")


async def test_tenants_cannot_see_each_other(db: Database) -> None:
    async with db.session() as session:
        accounts = Accounts(session)
        a = accounts.scope(await accounts.create("alpha", "Alpha"))
        b = accounts.scope(await accounts.create("beta", "Beta"))
        await a.create_object("sip_account", "anna")
        await a.add_number("221111111", target_login="anna")
        await b.create_object("sip_account", "anna")  # same login, other account: fine
        await session.commit()
        with pytest.raises(ConflictError):
            await b.add_number("221111111")  # a DID belongs to one account only
    async with db.session() as session:
        accounts = Accounts(session)
        b = accounts.scope(await accounts.get("beta"))
        with pytest.raises(NotFoundError):
            await b.get_number("221111111")
        assert await b.list_numbers() == []
        assert [o.login for o in await b.list_objects()] == ["anna"]
        anna_b = await b.get_object("anna")
        a = accounts.scope(await accounts.get("alpha"))
        anna_a = await a.get_object("anna")
        assert anna_a.id != anna_b.id
        with pytest.raises(NotFoundError):
            await b.assign_number("221111111", target_login="anna")


async def test_plan_addons_and_quotas(db: Database) -> None:
    async with db.session() as session:
        accounts = Accounts(session)
        basic = accounts.scope(
            await accounts.create(
                "basic", "Basic", plan={"quotas": {"numbers": 1, "sip_accounts": 1}}
            )
        )
        with pytest.raises(PlanLimitError, match="ivr_api add-on"):
            await basic.create_object("ivr_api", "crm", settings={"url": "https://crm.example"})
        await basic.add_number("221234567")
        with pytest.raises(PlanLimitError, match="quota numbers reached"):
            await basic.add_number("221234568")
        await basic.create_object("sip_account", "one")
        with pytest.raises(PlanLimitError, match="quota sip_accounts"):
            await basic.create_object("sip_account", "two")
        with pytest.raises(InvalidInputError, match="unknown add-on"):
            await accounts.create("x1", "X", plan={"addons": ["teleportation"]})
        await accounts.update("basic", plan={"addons": ["ivr_api"]})
        obj = await basic.create_object("ivr_api", "crm", settings={"url": "https://crm.example"})
        assert obj.kind == "ivr_api"
