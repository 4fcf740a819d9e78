"""``/recordings/{id}``: the waveform player, the recording's metadata, notes, tags, sharing.

The recording is looked up with the API's :func:`visible_recording` (account
and data scope; what the user may not see is a 404 page, as in the API) and
shown as the API's :func:`recording_json` describes it.  The player
(wavesurfer.js, ``static/player.js``) draws the stored peaks and plays
``/api/v1/recordings/{id}/audio``; notes, tags, share links and deletion are
forms the page's script sends to the REST API with the session's CSRF token,
and only those the user's role allows are shown.  The call's IVR API trace
is shown as the timeline ``callvault calls trace`` prints.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from callvault.cli.calls import describe
from callvault.store.models import CallRecord
from callvault.store.numbers import normalize_or_raw
from callvault.web.api_recordings import hold_reason, list_notes, visible_recording
from callvault.web.context import Context, Session
from callvault.web.errors import ApiError
from callvault.web.listing import recording_json
from callvault.web.panel.i18n import DASH, Translator
from callvault.web.panel.lists import hops
from callvault.web.panel.render import Page, PanelError, signed_in_page

router = APIRouter(include_in_schema=False)
SHARE_CHOICES = (3600, 86400, 7 * 86400, 30 * 86400)
"""Share-link lifetimes offered (seconds): an hour, a day, a week, 30 days (the API's most)."""


def waveform(peaks: list[Any]) -> list[list[float]]:
    """The stored peaks as wavesurfer.js channels.

    A stereo recording gives one lane per channel (min/max pairs as stored;
    wavesurfer draws absolute values); a mono one gives its maxima on top and
    its minima below.  A flat list (one channel) is taken as that channel.
    """
    if not peaks:
        return []
    channels = [peaks] if all(isinstance(v, int | float) for v in peaks) else list(peaks)
    channels = [[float(v) for v in ch] for ch in channels if isinstance(ch, list) and ch]
    if len(channels) == 1 and len(channels[0]) >= 2 and len(channels[0]) % 2 == 0:
        only = channels[0]
        return [only[1::2], only[0::2]]
    return channels


def timeline(trace: list[Any]) -> list[dict[str, str]]:
    """The IVR API trace as rows: offset from the first entry, kind, readable lines."""
    entries = [entry for entry in trace if isinstance(entry, dict)]
    times = [e["at"] for e in entries if isinstance(e.get("at"), int | float)]
    start = min(times, default=0.0)
    rows = []
    for entry in entries:
        at = entry.get("at")
        offset = f"+{at - start:.3f} s" if isinstance(at, int | float) else ""
        failed = entry.get("kind") in ("action-error", "fallback") or bool(entry.get("error"))
        rows.append(
            {
                "offset": offset,
                "kind": str(entry.get("kind", "?")),
                "lines": "\n".join(describe(entry)),
                "failed": "1" if failed else "",
            }
        )
    return rows


def _party(uri: str) -> str:
    """A leg's party for people: ``sip:0601234588@10.0.0.5:5060`` -> ``48601234588``.

    The user part of a SIP URI (RFC 3261 section 19.1.1), as an E.164 number
    when it is one in any usual form; other text as it is.
    """
    text = uri.strip().strip("<>")
    if text.lower().startswith(("sip:", "sips:")):
        user, _, host = text.split(":", 1)[1].partition("@")
        text = user if host else user.split(";")[0]
    return normalize_or_raw(text) if text else ""


def participants(t: Translator, rec: dict[str, Any], call: CallRecord | None) -> list[str]:
    """Who took part: the caller, the called number, the objects and phones on the way."""
    caller = rec["caller_number"] or (call.from_number if call else "")
    people = [f"{t('rec.caller')}: {caller or DASH}"]
    if call is None:
        return people
    called = normalize_or_raw(call.to_number) if call.to_number else ""
    people.append(f"{t('rec.called')}: {called or DASH}")
    known = {caller, call.from_number, call.to_number, called}
    for hop in call.objects:
        if isinstance(hop, dict):
            known.add(str(hop.get("login", "")))
            people.append(f"{t.label('object', hop.get('kind'))}: {hop.get('login', '')}")
    parties = [_party(str(leg.get("party") or "")) for leg in call.legs if isinstance(leg, dict)]
    others = [party for party in dict.fromkeys(parties) if party and party not in known]
    people.extend(f"{t('rec.leg')}: {party}" for party in others)
    return people


def hold_text(t: Translator, reason: str | None) -> str:
    """Why the recording may not be deleted, in the page's language ("" when it may)."""
    if not reason:
        return ""
    if reason.startswith("number "):
        return t("hold.number", number=reason.split()[1])
    return t("hold.recording")


def _player(page: Page, rec: dict[str, Any]) -> dict[str, Any]:
    lanes = waveform(rec["peaks"])
    return {
        "id": rec["id"],
        "audio": f"/api/v1/recordings/{rec['id']}/audio",
        "duration": rec["duration_s"],
        "peaks": lanes,
        "stereo": rec["mode"] == "stereo" and len(lanes) == 2,
    }


@router.get("/recordings/{recording_id}")
async def recording_page(
    recording_id: str, request: Request, session: Session, ctx: Context
) -> Response:
    """One recording: player, metadata, notes, tags, download, share, delete, IVR trace."""
    page = await signed_in_page(request, session)
    principal = page.require("recordings.list")
    try:
        row, call = await visible_recording(session, ctx, principal, recording_id[:40])
    except ApiError as exc:
        raise PanelError(page, 404, "error.recording_not_found") from exc
    rec = recording_json(row, call, full=True)
    notes = []
    if page.can("recordings.notes"):
        notes = await list_notes(row.id, principal, session, ctx)
    t = page.t
    playable = rec["state"] in ("ready", "partial") and page.can("recordings.listen")
    return page.render(
        "recording.html",
        section="recordings",
        rec=rec,
        title=f"{rec['caller_number'] or DASH} → {rec['to_number'] or DASH}",
        when=t.when(rec["started_at"], seconds=True),
        iso=t.iso_local(rec["started_at"]),
        expires=t.when(rec["expires_at"]) if rec["expires_at"] else t("rec.no_expiry"),
        duration=t.duration(rec["duration_s"]),
        size=t.size(rec["size_bytes"]),
        call=call,
        route=hops(call.objects) if call else "",
        people=participants(t, rec, call),
        consent=rec["consent"] or {},
        consent_at=t.when(rec["consent"].get("at"), seconds=True) if rec["consent"] else "",
        consent_parties=[
            {**party, "when": t.when(party.get("at"), seconds=True)}
            for party in (rec["consent"] or {}).get("parties", [])
            if isinstance(party, dict)
        ],
        checks=[check for check in rec["explanation"] if isinstance(check, dict)],
        hold=hold_text(t, await hold_reason(session, row, call)),
        notes=[{**note, "when": t.when(note["created_at"])} for note in notes],
        tags=sorted(rec["tags"].items()),
        trace=timeline(call.ivr_trace) if call is not None and page.can("calls.read") else [],
        playable=playable,
        player=_player(page, rec) if playable else None,
        share_choices=[(seconds, t(f"share.for.{seconds}")) for seconds in SHARE_CHOICES],
        deletable=rec["state"] not in ("recording", "processing"),
    )
