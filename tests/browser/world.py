"""The browser tests' data: tests/web's seeded world plus what makes the panel worth looking at.

On top of :func:`tests.web.conftest._seed` (accounts acme and beta, users,
the ``own``/``team``/``other``/``foreign`` calls with real encrypted
recordings): TOTP for lena (the team leader), lena's own call through an
IVR API menu with a 12-second *stereo* recording (real peaks, consent stamp,
rule explanation, IVR trace), a recording on legal hold and one to delete,
a few more calls of every type for the history, and live calls in the
engine -- two of acme's and one of beta's (which acme must never see).
"""

from __future__ import annotations

import io
import json
import wave
from datetime import timedelta
from types import SimpleNamespace
from typing import Any, cast

import numpy as np
import pyotp
from sqlalchemy import select

from callvault.engine.call import Call
from callvault.engine.leg import Leg
from callvault.recording.crypto import encrypt_file
from callvault.store.identity import User
from callvault.store.models import CallRecord, Recording
from tests.web.conftest import STARTED, USERS, World

MANAGER_SECONDS = 12.0
RATE = 8000


def stereo_wav(seconds: float) -> tuple[bytes, list[list[float]]]:
    """A stereo WAV where the caller (left) and the agent (right) take turns, and its peaks."""
    t = np.arange(int(seconds * RATE)) / RATE
    turn = (t // 2.0).astype(int) % 2
    voice = np.sin(2 * np.pi * 180 * t) * (0.55 + 0.45 * np.sin(2 * np.pi * 3.1 * t))
    noise = np.random.default_rng(7).normal(0, 0.03, t.size)
    left = np.where(turn == 0, voice, 0.04 * voice) + noise
    right = np.where(turn == 1, 0.8 * np.sin(2 * np.pi * 240 * t) * np.abs(np.sin(7 * t)), 0.0)
    samples = (np.stack([left, right + noise], axis=1).clip(-1, 1) * 30000).astype(np.int16)
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(samples.tobytes())
    peaks = []
    for channel in samples.T:
        buckets = np.array_split(channel.astype(np.float64) / 32768.0, 600)
        pairs = [(round(float(b.min()), 3), round(float(b.max()), 3)) for b in buckets]
        peaks.append([value for pair in pairs for value in pair])
    return out.getvalue(), peaks


def _exchange(
    at: float, seq: int, event: str, data: str, response: dict[str, Any]
) -> dict[str, Any]:
    request = {
        "request": {
            "FromNumber": "48601200300",
            "ToNumber": "48221234567",
            "UniqueCallId": "c-manager",
            "ChannelStatus": "Up",
            "Event": {"EventName": event, "EventData": data},
        }
    }
    return {
        "at": at,
        "kind": "exchange",
        "sequence": seq,
        "url": "https://crm.acme.example/ivr",
        "request": json.dumps(request),
        "status": 200,
        "elapsed_ms": 23.4 + seq,
        "attempts": 1,
        "response": json.dumps(response),
    }


T0 = STARTED.timestamp() + 3600
IVR_TRACE = [
    _exchange(T0, 1, "Connected", "", {"Action": {"Type": "GetDTMF", "MaxDigits": "4"}}),
    {"at": T0 + 0.03, "kind": "action", "type": "GetDTMF", "MaxDigits": 4},
    _exchange(
        T0 + 4.2, 2, "GetDTMF", "1234", {"Action": {"Type": "CallByObjectLogin", "Login": "sales"}}
    ),
    {"at": T0 + 4.25, "kind": "action", "type": "CallByObjectLogin", "Login": "sales"},
]


async def add_stereo_recording(world: World, name: str, call_id: str, **values: Any) -> str:
    """Encrypt and store a stereo WAV of :data:`MANAGER_SECONDS`; insert its row."""
    recording_id = f"r-{name}"
    clear, peaks = stereo_wav(MANAGER_SECONDS)
    plain, sealed = world.tmp / f"{recording_id}.wav", world.tmp / f"{recording_id}.wav.enc"
    plain.write_bytes(clear)
    encrypt_file(plain, sealed, world.keys["acme"], chunk_size=4096)
    plain.unlink()
    account_id = world.accounts["acme"].id
    key = f"{account_id}/2026/11/25/{recording_id}.wav.enc"
    await world.node.recordings.outbox.storage.put_file(key, sealed)
    sealed.unlink()
    world.clear[recording_id] = clear
    row = Recording(
        id=recording_id,
        account_id=account_id,
        call_id=call_id,
        state="ready",
        rule_name="vip-and-sales",
        format="wav",
        mode="stereo",
        storage_key=key,
        encrypted=True,
        key_id=world.keys["acme"].key_id,
        duration_ms=int(MANAGER_SECONDS * 1000),
        size_bytes=len(clear),
        peaks=peaks,
        sha256="9f2c" * 16,
        explanation=[
            {"name": "never-internal", "matched": False, "reasons": ["direction is inbound"]},
            {
                "name": "vip-and-sales",
                "matched": True,
                "reasons": ["passed queue sales", "caller 48601200300 is on the VIP list"],
            },
        ],
        consent={
            "announced": True,
            "prompt": "recording-notice",
            "at": (STARTED + timedelta(hours=1)).isoformat(),
            "interrupted": False,
        },
        caller_number="48601200300",
        started_at=STARTED + timedelta(hours=1),
        expires_at=STARTED + timedelta(days=90),
        **values,
    )
    async with world.db.session() as session:
        session.add(row)
        await session.commit()
    return recording_id


def _call(name: str, account_id: int, minutes: float, seconds: float, **values: Any) -> CallRecord:
    started = STARTED + timedelta(minutes=minutes)
    answered = values.pop("answered", True)
    return CallRecord(
        id=f"c-{name}",
        account_id=account_id,
        started_at=started,
        answered_at=started + timedelta(seconds=4) if answered else None,
        ended_at=started + timedelta(seconds=seconds),
        disposition=values.pop("disposition", "answered"),
        **values,
    )


async def seed_panel(world: World) -> str:
    """Add the panel's extra data to a seeded world; lena's TOTP secret."""
    acme = world.accounts["acme"].id
    secret = pyotp.random_base32()
    async with world.db.session() as session:
        lena = await session.scalar(select(User).where(User.email == USERS["team_leader"][1]))
        assert lena is not None
        lena.totp_secret, lena.name = secret, "Lena Nowak"
        hops = [
            {"kind": "ivr_api", "login": "hotline"},
            {"kind": "queue", "login": "sales"},
            {"kind": "sip_account", "login": "lena"},
        ]
        session.add_all(
            [
                _call(
                    "manager",
                    acme,
                    60,
                    MANAGER_SECONDS,
                    from_number="48601200300",
                    to_number="48221234567",
                    direction="inbound",
                    objects=hops,
                    ivr_trace=IVR_TRACE,
                    recording={"recorded": True, "recording_id": "r-manager"},
                    legs=[{"party": "48601200300"}, {"party": "lena"}],
                ),
                _call(
                    "lena-out",
                    acme,
                    75,
                    184,
                    from_number="lena",
                    to_number="48225550101",
                    direction="outbound",
                    objects=[{"kind": "trunk", "login": "main"}],
                ),
                _call(
                    "internal",
                    acme,
                    90,
                    62,
                    from_number="ewa",
                    to_number="jan",
                    direction="internal",
                    objects=[{"kind": "sip_account", "login": "jan"}],
                ),
                _call(
                    "missed",
                    acme,
                    110,
                    31,
                    from_number="48713330000",
                    to_number="48221234567",
                    direction="inbound",
                    objects=[{"kind": "queue", "login": "sales"}],
                    answered=False,
                    disposition="no answer",
                ),
                _call(
                    "busy",
                    acme,
                    -1440,
                    3,
                    from_number="48601999888",
                    to_number="48221234567",
                    direction="inbound",
                    objects=[{"kind": "ivr_menu", "login": "welcome"}],
                    answered=False,
                    disposition="busy",
                ),
                _call(
                    "held",
                    acme,
                    130,
                    1.5,
                    from_number="48600100009",
                    to_number="48221234567",
                    direction="inbound",
                    objects=[{"kind": "queue", "login": "support"}],
                    recording={"recorded": True, "recording_id": "r-held"},
                ),
            ]
        )
        await session.commit()
    await add_stereo_recording(world, "manager", "c-manager")
    await world.add_recording(
        "held", "acme", call_id="c-held", legal_hold=True, caller_number="48600100009"
    )
    await world.add_recording("doomed", "acme", call_id="c-doomed", caller_number="48600100010")
    return secret


def _leg(party: str, state: str = "answered") -> Leg:
    return cast(
        Leg,
        SimpleNamespace(
            direction="in", state=SimpleNamespace(value=state), remote_party=party, negotiated=None
        ),
    )


def add_live_calls(world: World) -> None:
    """Calls in progress in the engine: two of acme's (one recorded), one of beta's."""
    sales_ewa = [{"kind": "queue", "login": "sales"}, {"kind": "sip_account", "login": "ewa"}]
    plan: list[tuple[str, str, str, str, int, bool, list[dict[str, str]]]] = [
        ("acme", "48601777000", "48221234567", "ewa", 95, True, sales_ewa),
        (
            "acme",
            "jan",
            "48225550199",
            "48225550199",
            20,
            False,
            [{"kind": "trunk", "login": "main"}],
        ),
        (
            "beta",
            "48609999999",
            "48227654321",
            "ola",
            40,
            True,
            [{"kind": "queue", "login": "sales"}],
        ),
    ]
    for slug, caller, called, answered_by, age, recorded, hops in plan:
        call = Call(from_user=caller, to_user=called, traces_dir=None)
        call.started_at -= age
        call.legs.extend([_leg(caller), _leg(answered_by)])
        call.data.update(
            account_id=world.accounts[slug].id,
            objects=hops,
            direction="outbound" if caller == "jan" else "inbound",
            recording={"recorded": recorded},
        )
        world.node.engine.calls[call.id] = call
