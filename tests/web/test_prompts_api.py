"""``/api/v1/prompts``: upload (converted to 8 kHz mono), refusals explained, play, delete."""

from __future__ import annotations

import io
import wave

from tests.web.conftest import World, wav_bytes


def stereo_44k(seconds: float) -> bytes:
    """A 44.1 kHz 16-bit stereo WAV, as an editor would export it."""
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(44100)
        w.writeframes(bytes(int(seconds * 44100) * 4))
    return out.getvalue()


async def test_upload_list_play_delete(world: World) -> None:
    admin = await world.signed_in("administrator")
    upload = await admin.post(
        "/api/v1/prompts",
        files={"file": ("welcome.wav", stereo_44k(2.0), "audio/wav")},
    )
    assert upload.status_code == 201, upload.text
    assert upload.json()["name"] == "welcome" and upload.json()["duration_ms"] == 2000
    named = await admin.post(
        "/api/v1/prompts",
        files={"file": ("x.wav", wav_bytes(1.0, 3), "audio/wav")},
        data={"name": "after-hours"},
    )
    assert named.status_code == 201, named.text
    listed = await admin.get("/api/v1/prompts")
    assert [p["name"] for p in listed.json()] == ["after-hours", "welcome"]

    audio = await admin.get("/api/v1/prompts/welcome/audio")
    assert audio.status_code == 200 and audio.headers["content-type"] == "audio/wav"
    with wave.open(io.BytesIO(audio.content)) as stored:
        assert (stored.getnchannels(), stored.getsampwidth(), stored.getframerate()) == (1, 2, 8000)
        assert stored.getnframes() == 16000

    assert (await admin.delete("/api/v1/prompts/welcome")).status_code == 204
    assert (await admin.get("/api/v1/prompts/welcome/audio")).status_code == 404


async def test_refusals_say_why(world: World) -> None:
    admin = await world.signed_in("administrator")
    text = await admin.post(
        "/api/v1/prompts", files={"file": ("notes.wav", b"hello, not audio", "audio/wav")}
    )
    assert text.status_code == 422 and text.json()["error"] == "invalid"
    assert text.json()["message"].startswith("notes.wav: ")
    empty = await admin.post(
        "/api/v1/prompts", files={"file": ("empty.wav", wav_bytes(0.0, 1), "audio/wav")}
    )
    assert empty.status_code == 422 and "empty" in empty.json()["message"]
    bad_name = await admin.post(
        "/api/v1/prompts",
        files={"file": ("a.wav", wav_bytes(1.0, 1), "audio/wav")},
        data={"name": "../etc"},
    )
    assert bad_name.status_code == 422 and "invalid prompt name" in bad_name.json()["message"]
    ok = {"file": ("a.wav", wav_bytes(1.0, 1), "audio/wav")}
    assert (await admin.post("/api/v1/prompts", files=ok)).status_code == 201
    twice = await admin.post("/api/v1/prompts", files=ok)
    assert twice.status_code == 409
    missing = await admin.post("/api/v1/prompts", data={"name": "x"})
    assert missing.status_code == 422 and missing.json()["details"]["problems"]
    assert (await admin.get("/api/v1/prompts")).json()[0]["name"] == "a"


async def test_scope_and_tenancy(world: World) -> None:
    admin = await world.signed_in("administrator")
    files = {"file": ("hold.wav", wav_bytes(1.0, 2), "audio/wav")}
    assert (await admin.post("/api/v1/prompts", files=files)).status_code == 201
    consultant = await world.signed_in("consultant")
    assert (await consultant.get("/api/v1/prompts")).status_code == 403
    assert (await consultant.get("/api/v1/prompts/hold/audio")).status_code == 403
    assert (await consultant.post("/api/v1/prompts", files=files)).status_code == 403
    beta = await world.signed_in("beta_admin")
    assert (await beta.get("/api/v1/prompts/hold/audio")).status_code == 404
    assert (await beta.delete("/api/v1/prompts/hold")).status_code == 404
    assert (await beta.get("/api/v1/prompts")).json() == []
