"""Role x action x whose data: every cell's exact HTTP status, on SQLite and PostgreSQL.

Rows are the built-in roles (signed in through the panel login), columns the
seeded recordings: ``own`` (jan's call in the sales queue), ``team`` (ewa's,
in the sales queue), ``other`` (adam's, support queue) and ``foreign``
(another account's, with the same logins as ``own``).  A missing scope is
403 whatever the target; a target outside the account or the data scope is
404, exactly like one that does not exist.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.web.conftest import World

DATA = ("own", "team", "other", "foreign")
NO = (403, 403, 403, 403)
EXPECTED: dict[str, dict[str, tuple[int, ...]]] = {
    "consultant": {
        "view": (200, 404, 404, 404),
        "call": (200, 404, 404, 404),
        "listen": (206, 404, 404, 404),
        "download": NO,
        "share": NO,
        "notes": NO,
        "hold": NO,
        "release": NO,
        "delete": NO,
    },
    "team_leader": {
        "view": (200, 200, 404, 404),
        "call": (200, 200, 404, 404),
        "listen": (206, 206, 404, 404),
        "download": (200, 200, 404, 404),
        "share": (201, 201, 404, 404),
        "notes": (201, 201, 404, 404),
        "hold": NO,
        "release": NO,
        "delete": NO,
    },
    "administrator": {
        "view": (200, 200, 200, 404),
        "call": (200, 200, 200, 404),
        "listen": (206, 206, 206, 404),
        "download": (200, 200, 200, 404),
        "share": (201, 201, 201, 404),
        "notes": (201, 201, 201, 404),
        "hold": (200, 200, 200, 404),
        "release": (200, 200, 200, 404),
        "delete": (204, 204, 204, 404),
    },
    "auditor": {
        "view": (200, 200, 200, 404),
        "call": (200, 200, 200, 404),
        "listen": NO,
        "download": NO,
        "share": NO,
        "notes": NO,
        "hold": NO,
        "release": NO,
        "delete": NO,
    },
}
AUDIT = {"consultant": 403, "team_leader": 403, "administrator": 200, "auditor": 200}
HOLDS: dict[str, dict[tuple[str, str], int]] = {
    role: {
        ("GET", "/api/v1/holds/recordings"): 200 if role == "administrator" else 403,
        ("GET", "/api/v1/holds/numbers"): 200 if role == "administrator" else 403,
        ("PUT", "/api/v1/holds/numbers/600100001"): 200 if role == "administrator" else 403,
        ("DELETE", "/api/v1/holds/numbers/600100001"): 204 if role == "administrator" else 403,
        ("GET", "/api/v1/deletions"): AUDIT[role],
    }
    for role in AUDIT
}
"""Per role: the account-wide legal-hold and deletion-log endpoints (``audit.read`` reads the
deletion log; holds need ``recordings.delete``, number holds also the account data scope)."""
LISTED = {
    "consultant": ({"own"}, {"c-own", "c-outbound"}),
    "team_leader": ({"own", "team"}, {"c-own", "c-team"}),
    "administrator": ({"own", "team", "other"}, {"c-own", "c-team", "c-other", "c-outbound"}),
    "auditor": ({"own", "team", "other"}, {"c-own", "c-team", "c-other", "c-outbound"}),
}
"""Per role: the recordings (seed names) and calls its lists show."""


async def _do(client: httpx.AsyncClient, action: str, world: World, name: str) -> httpx.Response:
    recording = f"/api/v1/recordings/{world.recordings[name]}"
    if action == "view":
        return await client.get(recording)
    if action == "call":
        return await client.get(f"/api/v1/calls/{world.calls[name]}")
    if action == "listen":
        return await client.get(recording + "/audio", headers={"Range": "bytes=0-99"})
    if action == "download":
        return await client.get(recording + "/download")
    if action == "share":
        return await client.post(recording + "/share", json={"expires_in_s": 3600})
    if action == "notes":
        return await client.post(recording + "/notes", json={"text": "follow up"})
    if action == "hold":
        return await client.put(recording + "/hold")
    if action == "release":
        return await client.delete(recording + "/hold")
    assert action == "delete"
    return await client.delete(recording)


@pytest.mark.parametrize("role", list(EXPECTED))
async def test_role_matrix(world: World, role: str) -> None:
    client = await world.signed_in(role)
    actual: dict[str, tuple[int, ...]] = {}
    for action in EXPECTED[role]:  # delete comes last: it removes what it may
        statuses = []
        for name in DATA:
            answer = await _do(client, action, world, name)
            statuses.append(answer.status_code)
            if answer.status_code >= 400:
                body = answer.json()
                assert body["status"] == answer.status_code
                assert body["error"] == {403: "forbidden", 404: "not_found"}[answer.status_code]
                assert set(body) == {"status", "error", "message", "details"}
        actual[action] = tuple(statuses)
    assert actual == EXPECTED[role]
    assert (await client.get("/api/v1/audit")).status_code == AUDIT[role]
    assert (await client.get("/api/v1/audit/verify")).status_code == AUDIT[role]


@pytest.mark.parametrize("role", list(HOLDS))
async def test_holds_and_deletion_log_by_role(world: World, role: str) -> None:
    client = await world.signed_in(role)
    actual = {key: (await client.request(*key)).status_code for key in HOLDS[role]}
    assert actual == HOLDS[role]


@pytest.mark.parametrize("role", list(EXPECTED))
async def test_lists_show_exactly_the_data_scope(world: World, role: str) -> None:
    client = await world.signed_in(role)
    recordings, calls = LISTED[role]
    listed = (await client.get("/api/v1/recordings")).json()
    assert {item["id"] for item in listed["items"]} == {world.recordings[n] for n in recordings}
    assert listed["total"] == len(recordings)
    listed_calls = (await client.get("/api/v1/calls")).json()
    assert {item["id"] for item in listed_calls["items"]} == calls
    assert listed_calls["total"] == len(calls)
    csv_lines = (await client.get("/api/v1/calls", params={"format": "csv"})).text.splitlines()
    assert {line.split(",")[0] for line in csv_lines[1:]} == calls


async def test_the_account_decides_not_the_login(world: World) -> None:
    """beta's administrator sees beta's recording, never acme's (same logins)."""
    client = await world.signed_in("beta_admin")
    listed = (await client.get("/api/v1/recordings")).json()
    assert [item["id"] for item in listed["items"]] == [world.recordings["foreign"]]
    for name in ("own", "team", "other"):
        answer = await client.get(f"/api/v1/recordings/{world.recordings[name]}/audio")
        assert answer.status_code == 404


async def test_hidden_and_missing_look_the_same(world: World) -> None:
    client = await world.signed_in("consultant")
    hidden = await client.get(f"/api/v1/recordings/{world.recordings['team']}")
    missing = await client.get("/api/v1/recordings/r-does-not-exist")
    assert (hidden.status_code, missing.status_code) == (404, 404)

    def shape(body: dict[str, Any]) -> tuple[Any, ...]:
        return body["status"], body["error"], sorted(body["details"])

    assert shape(hidden.json()) == shape(missing.json())


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/v1/calls"),
        ("GET", "/api/v1/calls/c-own"),
        ("GET", "/api/v1/recordings"),
        ("GET", "/api/v1/recordings/r-own"),
        ("GET", "/api/v1/recordings/r-own/audio"),
        ("GET", "/api/v1/recordings/r-own/download"),
        ("POST", "/api/v1/recordings/r-own/share"),
        ("DELETE", "/api/v1/recordings/r-own"),
        ("GET", "/api/v1/recordings/r-own/notes"),
        ("PUT", "/api/v1/recordings/r-own/hold"),
        ("DELETE", "/api/v1/recordings/r-own/hold"),
        ("GET", "/api/v1/holds/recordings"),
        ("GET", "/api/v1/holds/numbers"),
        ("PUT", "/api/v1/holds/numbers/600100001"),
        ("DELETE", "/api/v1/holds/numbers/600100001"),
        ("GET", "/api/v1/deletions"),
        ("GET", "/api/v1/audit"),
        ("GET", "/api/v1/tokens"),
    ],
)
async def test_nothing_without_credentials(world: World, method: str, path: str) -> None:
    client = await world.client()
    answer = await client.request(method, path)
    assert answer.status_code == 401
    assert answer.json()["error"] == "unauthorized"
    assert answer.headers["WWW-Authenticate"] == "Bearer"
