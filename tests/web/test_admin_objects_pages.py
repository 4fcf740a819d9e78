"""The numbers, objects and prompts admin screens over HTTP (SQLite and PostgreSQL).

Each screen lists the signed-in administrator's account data and never the
other account's, needs ``objects.manage`` (a consultant gets 403), speaks
English after ``?lang=en``, and carries forms whose ``data-api`` name the
REST API calls that change the data (the pages themselves change nothing).
Secrets are only said to be set; the per-kind settings examples are valid.
"""

from __future__ import annotations

import html
import re
from typing import Any

import httpx
import pytest

from callvault.store.object_settings import object_settings
from callvault.store.repository import Accounts
from callvault.web.panel.screens.objects import EXAMPLES, KINDS
from tests.web.conftest import World, wav_bytes

SCREENS = ("/admin/numbers", "/admin/objects", "/admin/prompts")
SIP_PASSWORD = "jan-very-secret-password"
IVR_HASH = "acme-ivr-hash-value"


async def _post(client: httpx.AsyncClient, url: str, **kwargs: Any) -> None:
    answer = await client.post(url, **kwargs)
    assert answer.status_code == 201, answer.text


async def _seed(world: World) -> tuple[httpx.AsyncClient, httpx.AsyncClient]:
    """Objects, a number and a prompt in each account (through the API); both admins' clients."""
    async with world.db.session() as session:
        for slug in ("acme", "beta"):
            await Accounts(session).update(slug, plan={"addons": ["recording", "ivr_api"]})
        await session.commit()
    acme, beta = await world.signed_in("administrator"), await world.signed_in("beta_admin")
    objects = [
        {"kind": "queue", "login": "sales", "name": "Sprzedaż", "settings": {"members": ["jan"]}},
        {"kind": "sip_account", "login": "jan", "extension": "101",
         "settings": {"password": SIP_PASSWORD, "ring_timeout_s": 20}},
        {"kind": "ivr_api", "login": "crm",
         "settings": {"url": "https://crm.acme.example/ivr", "hash": IVR_HASH}},
    ]  # fmt: skip
    for body in objects:
        await _post(acme, "/api/v1/objects", json=body)
    number = {"number": "+48 22 123 45 67", "label": "acme-autumn", "target": "sales"}
    await _post(acme, "/api/v1/numbers", json=number)
    wav = ("acme.wav", wav_bytes(1.5, 1), "audio/wav")
    await _post(acme, "/api/v1/prompts", files={"file": wav}, data={"name": "acme-greeting"})
    await _post(beta, "/api/v1/objects", json={"kind": "queue", "login": "beta-hotline"})
    number = {"number": "0048 22 765 43 21", "label": "beta-spring", "target": "beta-hotline"}
    await _post(beta, "/api/v1/numbers", json=number)
    wav = ("beta.wav", wav_bytes(2.0, 2), "audio/wav")
    await _post(beta, "/api/v1/prompts", files={"file": wav}, data={"name": "beta-welcome"})
    return acme, beta


async def _page(client: httpx.AsyncClient, url: str) -> str:
    answer = await client.get(url)
    assert answer.status_code == 200, answer.text
    return html.unescape(answer.text)


async def test_numbers_screen_lists_the_accounts_own_numbers_with_forms(world: World) -> None:
    acme, beta = await _seed(world)
    page = await _page(acme, "/admin/numbers")
    assert re.search(r'data-number="48221234567">\s*<td><strong>\+48 22 123 45 67</strong>', page)
    assert "acme-autumn" in page and "Sprzedaż" in page
    assert "beta-spring" not in page and "765 43 21" not in page and "beta-hotline" not in page
    assert 'data-api="POST /api/v1/numbers"' in page
    assert 'data-api="PATCH /api/v1/numbers/48221234567"' in page
    assert 'data-api="DELETE /api/v1/numbers/48221234567"' in page
    assert re.search(r'<select id="number-target" name="target">.*value="jan"', page, re.S)
    assert '<option value="sales" selected>' in page  # the number's object, in its edit form
    assert "Prowadzi do obiektu" in page and "Kolejka" in page
    theirs = await _page(beta, "/admin/numbers")
    assert "+48 22 765 43 21" in theirs and "beta-spring" in theirs and "beta-hotline" in theirs
    assert "acme-autumn" not in theirs and "123 45 67</strong>" not in theirs
    english = await _page(acme, "/admin/numbers?lang=en")
    assert "Leads to object" in english and "Add number" in english and "Queue" in english


async def test_objects_screen_groups_by_kind_and_hides_secrets(world: World) -> None:
    acme, beta = await _seed(world)
    page = await _page(acme, "/admin/objects")
    groups = re.findall(r'<section class="object-group" id="kind-([a-z_]+)">', page)
    assert groups == list(KINDS)
    for login in ("sales", "jan", "crm"):
        assert f'data-object="{login}"' in page
        assert f'data-api="PATCH /api/v1/objects/{login}"' in page
        assert f'data-api="DELETE /api/v1/objects/{login}"' in page
    assert "beta-hotline" not in page
    assert SIP_PASSWORD not in page and IVR_HASH not in page
    assert '<span class="badge ok" data-secret="password">password: ustawione</span>' in page
    assert '<span class="badge" data-secret="signing_secrets">signing_secrets: nieustawione' in page
    assert "ring_timeout_s: 20" in page and 'members: ["jan"]' in page
    tests = re.findall(r'data-api="POST /api/v1/objects/([a-z-]+)/test-connection"', page)
    assert tests == ["crm"]  # only IVR API objects have an application to test
    assert 'data-api="POST /api/v1/objects"' in page and 'name="settings" data-type="json"' in page
    assert "https://crm.example.com/ivr" in page  # the IVR API example, for the JSON field
    queues = await _page(acme, "/admin/objects?kind=queue")
    assert re.findall(r'id="kind-([a-z_]+)"', queues) == ["queue"]
    assert 'data-object="sales"' in queues and 'data-object="jan"' not in queues
    assert '<option value="queue" data-example=' in queues and "selected>Kolejka<" in queues
    theirs = await _page(beta, "/admin/objects")
    assert 'data-object="beta-hotline"' in theirs
    assert not re.search(r'data-object="(sales|jan|crm)"', theirs)
    english = await _page(acme, "/admin/objects?lang=en")
    assert "Test connection" in english and "SIP account" in english and "password: set" in english


async def test_prompts_screen_lists_plays_and_uploads(world: World) -> None:
    acme, beta = await _seed(world)
    page = await _page(acme, "/admin/prompts")
    row = re.search(r'<tr data-prompt="acme-greeting">(.*?)</tr>', page, re.S)
    assert row is not None
    assert "1,5 s" in row[1] and "wgrana" in row[1]
    assert '<audio controls preload="none" src="/api/v1/prompts/acme-greeting/audio"' in row[1]
    assert 'data-api="DELETE /api/v1/prompts/acme-greeting"' in row[1]
    assert "beta-welcome" not in page
    form = re.search(r'<form class="card" id="prompt-form"(.*?)</form>', page, re.S)
    assert form is not None
    assert 'data-api="POST /api/v1/prompts"' in form[1]
    assert 'type="file" name="file"' in form[1] and 'name="name"' in form[1]
    audio = await acme.get("/api/v1/prompts/acme-greeting/audio")
    assert audio.status_code == 200 and audio.headers["content-type"] == "audio/wav"
    theirs = await _page(beta, "/admin/prompts")
    assert 'data-prompt="beta-welcome"' in theirs and "2,0 s" in theirs
    assert "acme-greeting" not in theirs
    english = await _page(acme, "/admin/prompts?lang=en")
    assert "Upload a prompt" in english and "1.5 s" in english and "Built-in prompts" in english


async def test_screens_need_objects_manage_and_switch_language(world: World) -> None:
    consultant = await world.signed_in("consultant")
    admin = await world.signed_in("administrator")
    polish = {"/admin/numbers": "Nowy numer", "/admin/objects": "Nowy obiekt",
              "/admin/prompts": "Wgraj zapowiedź"}  # fmt: skip
    english = {"/admin/numbers": "New number", "/admin/objects": "New object",
               "/admin/prompts": "Upload a prompt"}  # fmt: skip
    for url in SCREENS:
        refused = await consultant.get(url)
        assert refused.status_code == 403, url
        assert "data-api" not in refused.text
        assert polish[url] in await _page(admin, url)
    assert english["/admin/numbers"] in await _page(admin, "/admin/numbers?lang=en")
    for url in SCREENS:  # the language is kept in the cookie after the switch
        page = await _page(admin, url)
        assert english[url] in page and polish[url] not in page
    assert "To konto nie ma jeszcze numerów." in await _page(admin, "/admin/numbers?lang=pl")


@pytest.mark.parametrize("kind", KINDS)
def test_settings_examples_are_valid_settings(kind: str) -> None:
    object_settings(kind, EXAMPLES[kind])
