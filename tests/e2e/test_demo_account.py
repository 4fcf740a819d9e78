"""A fresh ``callvault serve`` is ready to try: demo phones, a demo DID that is recorded, and a
panel administrator -- all with the credentials it prints on first start.
"""

from __future__ import annotations

import json
import re
import time
import urllib.request
from pathlib import Path

import numpy as np

from callvault.media.wav import write_wav
from tests.e2e.harness import Node, start_baresip, start_node


def _api(node: Node, method: str, path: str, body: object = None, cookie: str = "") -> object:
    request = urllib.request.Request(
        f"http://127.0.0.1:{node.http_port}{path}",
        method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Content-Type": "application/json", **({"Cookie": cookie} if cookie else {})},
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        if method == "POST":
            _api.cookie = answer.headers.get("Set-Cookie", "").split(";")[0]  # type: ignore[attr-defined]
        return json.loads(answer.read())


def test_first_start_prints_what_it_takes_to_call_the_demo_did_and_find_its_recording(
    tmp_path: Path,
) -> None:
    node = start_node(tmp_path)
    try:
        log = node.log()
        phone = r"demo phone: user (\w+) \(ext \d+\), domain demo, password (\S+)"
        phones = dict(re.findall(phone, log))
        panel = re.search(r"demo panel: \S+ account demo, e-mail (\S+), password (\S+)", log)
        assert set(phones) == {"alice", "bob"} and panel is not None, log
        home = tmp_path / "alice"
        home.mkdir()
        tone = 0.3 * np.sin(2 * np.pi * 440 * np.arange(8000 * 20) / 8000)
        write_wav(home / "tone.wav", np.round(tone * 32767).astype("<i2").tobytes())
        alice = start_baresip(home, node, "alice", phones["alice"], seconds=30,
                              source=home / "tone.wav", domain="demo",
                              rtp_ports=(19240, 19260))  # fmt: skip
        try:
            deadline = time.monotonic() + 15
            while "alice@demo registered" not in node.log() and time.monotonic() < deadline:
                time.sleep(0.2)
            assert "alice@demo registered" in node.log(), node.log()
            bob = start_baresip(tmp_path / "bob", node, "bob", phones["bob"], "/dial +48220000201",
                                seconds=6, source=home / "tone.wav", domain="demo",
                                rtp_ports=(19270, 19290))  # fmt: skip
            bob.wait(timeout=30)
            node.wait_idle(timeout=20)
        finally:
            alice.terminate()
            alice.communicate(timeout=20)
        signed = _api(node, "POST", "/api/v1/auth/login",
                      {"account": "demo", "email": panel[1], "password": panel[2]})  # fmt: skip
        assert isinstance(signed, dict) and signed["user"]["role"] == "administrator"
        cookie = _api.cookie  # type: ignore[attr-defined]
        deadline = time.monotonic() + 30
        items: list[dict[str, object]] = []
        while time.monotonic() < deadline:
            found = _api(node, "GET", "/api/v1/recordings", cookie=cookie)
            assert isinstance(found, dict)
            items = found["items"]
            if items and items[0]["state"] == "ready":
                break
            time.sleep(0.5)
        assert len(items) == 1 and items[0]["state"] == "ready", items
        assert items[0]["rule"] == "demo-did" and items[0]["mode"] == "stereo"
        assert float(str(items[0]["duration_s"])) > 1.0
    finally:
        node.stop()
