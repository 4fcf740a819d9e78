"""Signing in, lockout, TOTP, CSRF and API tokens, through the real app on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pyotp
import pytest
from sqlalchemy import select

from callvault.cli.main import main
from callvault.store.identity import ApiToken, AuditEntry, User
from callvault.web.identity import enable_totp
from callvault.web.login import MAX_FAILURES
from callvault.web.security import CSRF_HEADER
from tests.web.conftest import PASSWORD, USERS, World

LOGIN = "/api/v1/auth/login"


def credentials(who: str, password: str = PASSWORD, **extra: str) -> dict[str, str]:
    account, email, *_ = USERS[who]
    return {"account": account, "email": email, "password": password, **extra}


async def _user(world: World, who: str) -> User:
    async with world.db.session() as session:
        user = await session.scalar(select(User).where(User.email == USERS[who][1]))
        assert user is not None
        return user


async def test_sign_in_sets_a_locked_down_cookie_and_gives_a_csrf_token(world: World) -> None:
    client = await world.client()
    answer = await client.post(LOGIN, json=credentials("team_leader"))
    assert answer.status_code == 200
    cookie = answer.headers["set-cookie"].lower()
    for attribute in ("cv_session=", "httponly", "secure", "samesite=lax", "path=/"):
        assert attribute in cookie
    csrf = answer.json()["csrf_token"]
    me = (await client.get("/api/v1/auth/me")).json()
    assert me["email"] == "lena@acme.example" and me["via"] == "session"
    assert me["csrf_token"] == csrf
    assert set(me["scopes"]) == {
        "calls.read",
        "recordings.list",
        "recordings.listen",
        "recordings.download",
        "recordings.notes",
        "recordings.share",
    }
    audit = await world.signed_in("administrator")
    logins = (await audit.get("/api/v1/audit", params={"action": "login"})).json()["items"]
    assert {entry["actor"] for entry in logins} == {"lena@acme.example", "admin@acme.example"}


async def test_wrong_password_unknown_user_and_account_answer_alike(world: World) -> None:
    client = await world.client()
    bodies = []
    for body in (
        credentials("consultant", "wrong password!"),
        {**credentials("consultant"), "email": "nobody@acme.example"},
        {**credentials("consultant"), "account": "no-such-account"},
        {**credentials("consultant"), "account": "beta"},
    ):
        answer = await client.post(LOGIN, json=body)
        assert answer.status_code == 401
        bodies.append(answer.json())
    assert all(body == bodies[0] for body in bodies)
    assert bodies[0]["error"] == "invalid_credentials"
    assert "set-cookie" not in answer.headers


async def test_five_failures_lock_the_user_for_fifteen_minutes(world: World) -> None:
    client = await world.client()
    for attempt in range(1, MAX_FAILURES + 1):
        answer = await client.post(LOGIN, json=credentials("consultant", f"guess {attempt}"))
        assert answer.status_code == (423 if attempt == MAX_FAILURES else 401)
    assert answer.json()["error"] == "locked"
    assert 14 * 60 < int(answer.headers["Retry-After"]) <= 15 * 60
    answer = await client.post(LOGIN, json=credentials("consultant"))
    assert answer.status_code == 423, "the right password does not open a locked user"
    other = await client.post(LOGIN, json=credentials("team_leader"))
    assert other.status_code == 200, "only that user is locked"
    async with world.db.session() as session:
        user = await session.get(User, (await _user(world, "consultant")).id)
        assert user is not None and user.locked_until is not None
        user.locked_until = datetime.now(UTC) - timedelta(seconds=1)
        await session.commit()
    assert (await client.post(LOGIN, json=credentials("consultant"))).status_code == 200
    assert (await _user(world, "consultant")).failed_logins == 0


async def test_totp_is_required_and_verified_when_enabled(world: World) -> None:
    async with world.db.session() as session:
        user = await session.get(User, (await _user(world, "administrator")).id)
        assert user is not None
        uri = enable_totp(user)
        secret = user.totp_secret
        await session.commit()
    assert uri.startswith("otpauth://totp/") and secret
    client = await world.client()
    answer = await client.post(LOGIN, json=credentials("administrator"))
    assert (answer.status_code, answer.json()["error"]) == (401, "totp_required")
    assert "set-cookie" not in answer.headers
    code = pyotp.TOTP(secret).now()
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    answer = await client.post(LOGIN, json=credentials("administrator", totp_code=wrong))
    assert (answer.status_code, answer.json()["error"]) == (401, "invalid_totp")
    answer = await client.post(LOGIN, json=credentials("administrator", totp_code="123"))
    assert answer.status_code == 401
    wrong_password = credentials("administrator", "not the password", totp_code=code)
    assert (await client.post(LOGIN, json=wrong_password)).status_code == 401
    answer = await client.post(LOGIN, json=credentials("administrator", totp_code=code))
    assert answer.status_code == 200
    assert (await client.get("/api/v1/auth/me")).json()["totp_enabled"] is True


async def test_csrf_token_required_on_unsafe_methods_of_cookie_sessions(world: World) -> None:
    client = await world.signed_in("team_leader")
    csrf = client.headers.pop(CSRF_HEADER)
    notes = f"/api/v1/recordings/{world.recordings['own']}/notes"
    assert (await client.get(notes)).status_code == 200, "safe methods need no token"
    answer = await client.post(notes, json={"text": "no token"})
    assert (answer.status_code, answer.json()["error"]) == (403, "csrf")
    answer = await client.post(notes, json={"text": "bad"}, headers={CSRF_HEADER: csrf[:-1]})
    assert answer.status_code == 403
    answer = await client.post(notes, json={"text": "ok"}, headers={CSRF_HEADER: csrf})
    assert answer.status_code == 201
    assert [note["text"] for note in (await client.get(notes)).json()] == ["ok"]
    assert (await client.post("/api/v1/auth/logout")).status_code == 403
    client.headers[CSRF_HEADER] = csrf
    assert (await client.post("/api/v1/auth/logout")).status_code == 204
    answer = await client.get("/api/v1/auth/me")
    assert answer.status_code == 401


async def _bearer(world: World, token: str) -> httpx.AsyncClient:
    client = await world.client()
    client.headers["Authorization"] = f"Bearer {token}"
    return client


async def test_api_tokens_scopes_are_the_token_s_within_the_role_s(world: World) -> None:
    panel = await world.signed_in("team_leader")
    refused = await panel.post(
        "/api/v1/tokens", json={"name": "x", "scopes": ["recordings.delete"]}
    )
    assert refused.status_code == 422, "a token cannot get scopes the role lacks"
    created = await panel.post(
        "/api/v1/tokens",
        json={"name": "crm", "scopes": ["recordings.list", "recordings.notes"]},
    )
    assert created.status_code == 201
    secret = created.json()["token"]
    assert secret.startswith("cv_") and created.json()["prefix"] == secret[:10]
    listed = (await panel.get("/api/v1/tokens")).json()
    assert [item["name"] for item in listed] == ["crm"] and "token" not in listed[0]
    async with world.db.session() as session:
        stored = await session.scalar(select(ApiToken))
        assert (
            stored is not None and stored.token_hash == hashlib.sha256(secret.encode()).hexdigest()
        )

    bearer = await _bearer(world, secret)
    own = f"/api/v1/recordings/{world.recordings['own']}"
    answer = await bearer.post(own + "/notes", json={"text": "from the CRM"})
    assert answer.status_code == 201, "no CSRF token needed with a bearer token"
    assert (await bearer.get(own + "/audio")).status_code == 403, "the role has it, the token not"
    other = f"/api/v1/recordings/{world.recordings['other']}"
    assert (await bearer.get(other)).status_code == 404, "the user's data scope applies"
    more = await bearer.post("/api/v1/tokens", json={"name": "y", "scopes": ["recordings.list"]})
    assert more.status_code == 403, "a token cannot mint tokens"

    async with world.db.session() as session:  # lena becomes a consultant
        user = await session.get(User, (await _user(world, "team_leader")).id)
        assert user is not None
        user.role = "consultant"
        await session.commit()
    answer = await bearer.post(own + "/notes", json={"text": "again"})
    assert answer.status_code == 403, "narrowing the role narrows its tokens"
    assert (await bearer.get(own)).status_code == 200

    token_id = created.json()["id"]
    assert (await panel.delete(f"/api/v1/tokens/{token_id}")).status_code == 204
    assert (await bearer.get(own)).status_code == 401


async def test_expired_unknown_and_malformed_tokens_are_refused(world: World) -> None:
    panel = await world.signed_in("administrator")
    created = await panel.post(
        "/api/v1/tokens", json={"name": "short", "scopes": ["calls.read"], "expires_in_days": 1}
    )
    secret = created.json()["token"]
    bearer = await _bearer(world, secret)
    assert (await bearer.get("/api/v1/calls")).status_code == 200
    async with world.db.session() as session:
        token = await session.get(ApiToken, created.json()["id"])
        assert token is not None
        token.expires_at = datetime.now(UTC) - timedelta(minutes=1)
        await session.commit()
    answer = await bearer.get("/api/v1/calls")
    assert (answer.status_code, answer.json()["error"]) == (401, "invalid_token")
    for value in ("Bearer cv_unknown", "Bearer nonsense", "Basic Zm9vOmJhcg=="):
        client = await world.client()
        answer = await client.get("/api/v1/calls", headers={"Authorization": value})
        assert answer.status_code == 401
    other_users = await world.signed_in("consultant")
    answer = await other_users.delete(f"/api/v1/tokens/{created.json()['id']}")
    assert answer.status_code == 404, "another user's token is not found"


async def test_every_error_has_the_one_shape(world: World) -> None:
    client = await world.signed_in("administrator")
    paths = (await client.get("/api/openapi.json")).json()["paths"]
    assert {"/api/v1/calls", "/api/v1/recordings/{recording_id}/audio", "/share/{token}"} <= set(
        paths
    )
    for answer in (
        await client.get("/api/v1/no-such-endpoint"),
        await client.get("/api/v1/calls", params={"page": 0}),
        await client.post(LOGIN, json={"account": "acme"}),
        await client.put("/api/v1/calls"),
    ):
        body = answer.json()
        assert set(body) == {"status", "error", "message", "details"}
        assert body["status"] == answer.status_code >= 400


async def test_cli_creates_users_and_tokens_that_the_api_accepts(
    world: World,
    database_url: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def cli(*argv: str) -> tuple[int, str, str]:
        code = main([*argv, "--db", database_url])
        out, err = capsys.readouterr()
        return code, out, err

    monkeypatch.setattr("sys.stdin", io.StringIO("a long enough secret\n"))
    code, out, err = await asyncio.to_thread(
        cli, "users", "create", "--account", "acme", "--email", "Ola@Acme.example",
        "--role", "team_leader", "--objects", "support", "--password-stdin",
    )  # fmt: skip
    assert (code, err) == (0, ""), err
    assert "ola@acme.example" in out and "password" not in out
    code, out, _ = await asyncio.to_thread(cli, "users", "list", "--account", "acme", "--json")
    listed = {user["email"]: user for user in json.loads(out)}
    assert listed["ola@acme.example"]["scope"] == "team"
    code, _, err = await asyncio.to_thread(
        cli, "tokens", "create", "--account", "acme", "--email", "ola@acme.example",
        "--name", "crm", "--scopes", "recordings.list,recordings.delete",
    )  # fmt: skip
    assert code == 2 and "recordings.delete" in err, "beyond the role: refused"
    code, out, err = await asyncio.to_thread(
        cli, "tokens", "create", "--account", "acme", "--email", "ola@acme.example",
        "--name", "crm", "--scopes", "recordings.list,recordings.listen",
    )  # fmt: skip
    assert code == 0, err
    bearer = await _bearer(world, out.strip())
    listed_recordings = (await bearer.get("/api/v1/recordings")).json()["items"]
    assert [item["id"] for item in listed_recordings] == [world.recordings["other"]]
    client = await world.client()
    body = {"account": "acme", "email": "ola@acme.example", "password": "a long enough secret"}
    assert (await client.post(LOGIN, json=body)).status_code == 200
    code, out, _ = await asyncio.to_thread(
        cli, "users", "create", "--account", "acme", "--email", "gen@acme.example",
        "--role", "auditor",
    )  # fmt: skip
    assert code == 0 and "password (shown once): " in out
    code, _, err = await asyncio.to_thread(
        cli, "users", "create", "--account", "acme", "--email", "gen@acme.example",
        "--role", "auditor",
    )  # fmt: skip
    assert code == 2 and "already exists" in err
    code, _, _ = await asyncio.to_thread(
        cli, "users", "delete", "--account", "acme", "--email", "ola@acme.example"
    )
    assert code == 0
    assert (await bearer.get("/api/v1/recordings")).status_code == 401
    actions = [entry["action"] for entry in await _audit_actions(world)]
    assert actions.count("user.create") == 2 and "token.create" in actions


async def _audit_actions(world: World) -> list[dict[str, Any]]:
    async with world.db.session() as session:
        rows = await session.scalars(select(AuditEntry).where(AuditEntry.actor == "cli"))
        return [{"action": row.action} for row in rows]


async def test_a_verification_code_is_taken_once_and_an_admin_can_unlock_or_reset_2fa(
    world: World,
) -> None:
    async with world.db.session() as session:
        user = await session.get(User, (await _user(world, "auditor")).id)
        assert user is not None
        enable_totp(user)
        secret, user_id = user.totp_secret, user.id
        await session.commit()
    assert secret
    totp = pyotp.TOTP(secret)
    code = totp.now()
    first = await (await world.client()).post(LOGIN, json=credentials("auditor", totp_code=code))
    assert first.status_code == 200
    again = await (await world.client()).post(LOGIN, json=credentials("auditor", totp_code=code))
    assert (again.status_code, again.json()["error"]) == (401, "totp_reused")
    earlier = totp.at(time.time() - 30)
    older = await (await world.client()).post(LOGIN, json=credentials("auditor", totp_code=earlier))
    assert older.status_code == 401, "a code older than the one taken is refused too"
    later = totp.at(time.time() + 30)
    ahead = await (await world.client()).post(LOGIN, json=credentials("auditor", totp_code=later))
    assert ahead.status_code == 200, "the next step's code (clock drift) is good once"

    for _ in range(MAX_FAILURES):
        await (await world.client()).post(LOGIN, json=credentials("auditor", "wrong password"))
    locked = await (await world.client()).post(LOGIN, json=credentials("auditor"))
    assert locked.status_code == 423
    admin = await world.signed_in("administrator")
    listed = {u["id"]: u for u in (await admin.get("/api/v1/users")).json()}
    assert listed[user_id]["locked_until"] and listed[user_id]["totp_enabled"]
    changed = await admin.patch(f"/api/v1/users/{user_id}", json={"unlock": True})
    assert changed.status_code == 200 and changed.json()["locked_until"] is None
    reset = await admin.patch(f"/api/v1/users/{user_id}", json={"reset_totp": True})
    assert reset.json()["totp_enabled"] is False
    plain = await (await world.client()).post(LOGIN, json=credentials("auditor"))
    assert plain.status_code == 200, "unlocked, and no code asked once 2FA is reset"
    jan = await world.signed_in("consultant")
    refused = await jan.patch(f"/api/v1/users/{user_id}", json={"unlock": True})
    assert refused.status_code == 403


async def test_a_sign_in_is_remembered_as_the_users_last_login(world: World) -> None:
    admin = await world.signed_in("administrator")
    before = {u["email"]: u for u in (await admin.get("/api/v1/users")).json()}
    assert before["jan@acme.example"]["last_login_at"] is None
    await world.signed_in("consultant")
    after = {u["email"]: u for u in (await admin.get("/api/v1/users")).json()}
    signed = datetime.fromisoformat(after["jan@acme.example"]["last_login_at"])
    assert abs((datetime.now(UTC) - signed).total_seconds()) < 60
    failed = await (await world.client()).post(LOGIN, json=credentials("consultant", "wrong one"))
    assert failed.status_code == 401
    again = {u["email"]: u for u in (await admin.get("/api/v1/users")).json()}
    assert again["jan@acme.example"]["last_login_at"] == after["jan@acme.example"]["last_login_at"]


async def test_a_disabled_user_cannot_sign_in_nor_use_sessions_or_tokens(world: World) -> None:
    admin = await world.signed_in("administrator")
    jan = await world.signed_in("consultant")
    made = await jan.post("/api/v1/tokens", json={"name": "crm", "scopes": ["calls.read"]})
    token = made.json()["token"]
    users = {u["email"]: u for u in (await admin.get("/api/v1/users")).json()}
    jan_id, admin_id = users["jan@acme.example"]["id"], users["admin@acme.example"]["id"]
    assert users["jan@acme.example"]["active"] is True
    off = await admin.patch(f"/api/v1/users/{jan_id}", json={"active": False})
    assert off.status_code == 200 and off.json()["active"] is False and off.json()["disabled_at"]
    assert (await jan.get("/api/v1/calls")).json()["error"] == "user_disabled"
    bearer = {"Authorization": f"Bearer {token}"}
    by_token = await (await world.client()).get("/api/v1/calls", headers=bearer)
    assert (by_token.status_code, by_token.json()["error"]) == (401, "user_disabled")
    refused = await (await world.client()).post(LOGIN, json=credentials("consultant"))
    assert (refused.status_code, refused.json()["error"]) == (403, "user_disabled")
    wrong = await (await world.client()).post(LOGIN, json=credentials("consultant", "not it"))
    assert wrong.status_code == 401, "a wrong password says nothing about the user's state"
    myself = await admin.patch(f"/api/v1/users/{admin_id}", json={"active": False})
    assert myself.status_code == 422, "nobody disables themselves"
    on = await admin.patch(f"/api/v1/users/{jan_id}", json={"active": True})
    assert on.json()["active"] is True
    assert (await (await world.client()).get("/api/v1/calls", headers=bearer)).status_code == 200
    back = await (await world.client()).post(LOGIN, json=credentials("consultant"))
    assert back.status_code == 200
