"""A real uvicorn server on 127.0.0.1 serving the node's app, and Debian's Chromium via Playwright.

The server runs in its own thread and event loop (the app, its database and
storage live there); :meth:`Panel.run` runs a coroutine in that loop when a
test must look at or change the data directly.  The app is built like
tests/web's ``world`` (:func:`callvault.node.build_node`,
:func:`callvault.web.app.create_app`) on SQLite, seeded by
:mod:`tests.browser.world`, with the production defaults (its cookies are
``Secure``: browsers take them from ``http://127.0.0.1`` as from HTTPS).

Screenshots go to the directory in ``CALLVAULT_SCREENSHOTS`` (the README's
are made with ``CALLVAULT_SCREENSHOTS=docs/screenshots``), else to a
temporary directory.
"""

from __future__ import annotations

import asyncio
import base64
import os
import re
import socket
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pyotp
import pytest
import uvicorn
from playwright.sync_api import (
    Browser,
    BrowserContext,
    Page,
    Playwright,
    ViewportSize,
    sync_playwright,
)

from callvault.config import Settings
from callvault.node import build_node
from callvault.web.app import create_app
from tests.browser.world import add_live_calls, seed_panel
from tests.web.conftest import PASSWORD, USERS, World, _seed

CHROMIUM = "/usr/bin/chromium"
VIEWPORT: ViewportSize = {"width": 1280, "height": 800}
T = TypeVar("T")


@dataclass
class Panel:
    """The running server: its URL, the seeded world, lena's TOTP secret."""

    url: str
    world: World
    totp_secret: str
    loop: asyncio.AbstractEventLoop
    totp_step: int = 0
    """The last time step whose code a test sent (the server takes each step once)."""

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` in the server's event loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=30)


async def _build(tmp: Path) -> tuple[World, str]:
    settings = Settings(
        data_dir=tmp / "data",
        database_url=f"sqlite:///{tmp / 'callvault.db'}",
        master_key=base64.b64encode(os.urandom(32)).decode(),
    )
    node = build_node(settings)
    await asyncio.to_thread(node.db.migrate)
    world = World(node, create_app(node.engine, node.db, node.recordings), tmp)
    await _seed(world)
    secret = await seed_panel(world)
    add_live_calls(world)
    return world, secret


def _serve(tmp: Path, started: threading.Event, found: dict[str, Any]) -> None:
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)

    async def main() -> None:
        world, secret = await _build(tmp)
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        config = uvicorn.Config(world.app, log_level="warning", lifespan="off")
        server = uvicorn.Server(config)
        found.update(world=world, secret=secret, server=server, loop=loop)
        found["url"] = f"http://127.0.0.1:{sock.getsockname()[1]}"
        started.set()
        try:
            await server.serve(sockets=[sock])
        finally:
            await world.node.db.close()

    try:
        loop.run_until_complete(main())
    except BaseException as exc:
        found["error"] = exc
        started.set()
    finally:
        loop.close()


@pytest.fixture(scope="module")
def panel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Panel]:
    started, found = threading.Event(), dict[str, Any]()
    thread = threading.Thread(
        target=_serve, args=(tmp_path_factory.mktemp("panel"), started, found), daemon=True
    )
    thread.start()
    assert started.wait(60), "the server did not start"
    if "error" in found:
        raise found["error"]
    server = found["server"]
    for _ in range(200):
        if server.started:
            break
        threading.Event().wait(0.05)
    yield Panel(found["url"], found["world"], found["secret"], found["loop"])
    server.should_exit = True
    thread.join(15)


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    """Playwright's sync API, per module: while it runs it holds the main thread's event loop
    (asyncio sees it running), so it must stop before pytest-asyncio's tests run."""
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.skip("Chromium is not installed (apt-get install chromium)")
    chromium = playwright.chromium.launch(
        executable_path=CHROMIUM,
        args=["--no-sandbox", "--autoplay-policy=no-user-gesture-required"],
    )
    yield chromium
    chromium.close()


@pytest.fixture
def new_context(browser: Browser, panel: Panel) -> Iterator[Callable[[], BrowserContext]]:
    """Fresh browser contexts (own cookies) at 1280x800, closed after the test."""
    made: list[BrowserContext] = []

    def make() -> BrowserContext:
        context = browser.new_context(
            base_url=panel.url,
            viewport=VIEWPORT,
            accept_downloads=True,
            locale="pl-PL",
            timezone_id="Europe/Warsaw",
        )
        context.set_default_timeout(10_000)
        made.append(context)
        return context

    yield make
    for context in made:
        context.close()


@pytest.fixture
def page(new_context: Callable[[], BrowserContext]) -> Iterator[Page]:
    """A page of a fresh context; the test fails if a script on it throws."""
    page = new_context().new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    assert errors == [], f"script errors on the page: {errors}"


def totp_code(panel: Panel) -> str:
    """lena's code for a time step the server has not taken yet (RFC 6238 section 5.2).

    The server accepts the current step and the next one (clock drift) and each
    step once, so a second sign-in within 30 s sends the next step's code and a
    third waits for the clock.
    """
    totp = pyotp.TOTP(panel.totp_secret)
    while True:
        now = int(time.time())
        step = max(now // totp.interval, panel.totp_step + 1)
        if step <= now // totp.interval + 1:
            panel.totp_step = step
            return totp.at(step * totp.interval)
        time.sleep(0.5)


def sign_in(page: Page, panel: Panel, who: str, next_path: str = "/calls") -> None:
    """Sign in through the form as seeded user ``who`` (with the code when they have 2FA)."""
    account, email, *_ = USERS[who]
    page.goto(next_path)
    page.get_by_label(re.compile("Konto|Account")).fill(account)
    page.get_by_label("E-mail").fill(email)
    page.get_by_label(re.compile("Hasło|Password")).fill(PASSWORD)
    page.get_by_role("button", name=re.compile("^(Zaloguj|Sign in)$")).click()
    if who == "team_leader":
        code = page.get_by_label(re.compile("Kod weryfikacyjny|Verification code"))
        code.fill(totp_code(panel))
        page.get_by_role("button", name=re.compile("Potwierdź|Verify")).click()
    page.wait_for_url(re.compile(re.escape(next_path.split("?")[0]) + r"(\?.*)?$"))


@pytest.fixture(scope="session")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Callable[[Page, str], Path]:
    """``shoot(page, name)``: a PNG of the viewport (see the module docstring for where)."""
    wanted = os.environ.get("CALLVAULT_SCREENSHOTS")
    folder = Path(wanted) if wanted else tmp_path_factory.mktemp("screenshots")
    folder.mkdir(parents=True, exist_ok=True)

    def shoot(page: Page, name: str) -> Path:
        path = folder / f"{name}.png"
        page.screenshot(path=str(path))
        return path

    return shoot
