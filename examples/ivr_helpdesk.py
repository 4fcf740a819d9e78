"""Example IVR API application: a helpdesk line built with :mod:`callvault.ivr.sdk`.

What the caller gets:

1. A caller whose number is in ``VIP_NUMBERS`` goes straight to the object
   ``vip-desk`` (if nobody there answers, to the ``support`` queue).
2. Everyone else is answered and asked for a case number: up to 8 digits
   ending with ``#``. An empty entry is asked again with a hint, twice; after
   that the call goes to the ``support`` queue without a case number.
3. A case number is stored on the call with ``Tag`` (``{"case_number": ...}``,
   searchable in the panel and sent with the call webhooks), then the call
   goes to the ``support`` queue.
4. When the agent hangs up (``CallStatus`` with ``EventData`` ``Answer``: the
   caller is still on the line), a one-key survey asks for a score 1-5, stores
   it with ``Tag`` (``{"survey_score": n}``) and hangs up.

Run it (from the repository root)::

    IVR_SIGNING_SECRETS=whsec_a,whsec_b IVR_HASH=s3cret \\
        uvicorn examples.ivr_helpdesk:asgi --port 8900

and set the IVR API object's ``url`` to ``http://<host>:8900/``. Both
variables are optional: ``IVR_SIGNING_SECRETS`` (comma-separated, the object's
v2 ``signing_secrets``) turns on ``X-Signature`` checks, ``IVR_HASH`` (the
object's ``hash``) the v1 ``Hash`` check. The object's prompt library needs
the prompt ids in the ``PROMPT_*`` constants below.
"""

from __future__ import annotations

import os

from callvault.ivr.sdk import (
    IncomingRequest,
    IvrApp,
    Reply,
    answer,
    asgi_app,
    call_login,
    get_dtmf,
    hangup,
    play,
    tag,
)

VIP_NUMBERS = frozenset({"48601100200", "48601100300"})
VIP_DESK = "vip-desk"
SUPPORT_QUEUE = "support"
CASE_MAX_DIGITS = 8
CASE_RETRIES = 2
DIGIT_TIMEOUT_MS = 5000

PROMPT_CASE_NUMBER = "case-number"  # "Enter your case number and press hash."
PROMPT_CASE_RETRY = "case-number-retry"  # "We did not get any digits. Please try again."
PROMPT_SURVEY = "survey"  # "How did we do? Press 1 to 5."
PROMPT_SORRY = "no-agent"  # "Sorry, nobody can take your call now. Goodbye."

app = IvrApp()


def _normalise(number: str) -> str:
    """The caller number without a leading ``+``, as ``VIP_NUMBERS`` holds it."""
    return number.removeprefix("+")


def _ask_case_number(prompt: str, tries: int) -> Reply:
    """The case-number ``GetDTMF`` with ``tries`` empty entries so far in the session."""
    ask = get_dtmf(
        prompt, timeout_ms=DIGIT_TIMEOUT_MS, max_digits=CASE_MAX_DIGITS, finish_on_key="#"
    )
    return ask.with_session({"step": "case", "tries": tries})


def _to_agent(login: str) -> Reply:
    """Route to ``login`` and remember where the call went (for ``CallStatus``)."""
    return call_login(login).with_session({"step": "agent", "target": login})


def _goodbye() -> Reply:
    """Apologise and hang up."""
    return (play(PROMPT_SORRY) + hangup()).with_session({"step": "done"})


def _not_reached(req: IncomingRequest) -> Reply:
    """Routing failed (busy, no answer, ``Error`` 6-9): VIPs try support, others hear goodbye."""
    if req.session.get("target") == VIP_DESK:
        return _to_agent(SUPPORT_QUEUE)
    return _goodbye()


@app.on("Connected")
def connected(req: IncomingRequest) -> Reply:
    """First request: VIPs to their desk, everyone else is asked for a case number."""
    if _normalise(req.from_number) in VIP_NUMBERS:
        return _to_agent(VIP_DESK)
    ask = _ask_case_number(PROMPT_CASE_NUMBER, tries=0)
    return (answer() + ask) if req.body.ChannelStatus == "Ringing" else ask


@app.on("GetDTMF")
def digits_entered(req: IncomingRequest) -> Reply:
    """Input ended: a case number (or an empty entry), or the survey score."""
    if req.error is not None:
        return _not_reached(req)
    step = req.session.get("step")
    if step == "survey":
        if len(req.digits) == 1 and req.digits in "12345":
            return tag({"survey_score": int(req.digits)}) + hangup()
        return hangup()
    if req.digits:
        return tag({"case_number": req.digits}) + _to_agent(SUPPORT_QUEUE)
    before = req.session.get("tries")
    tries = before + 1 if isinstance(before, int) else 1
    if tries <= CASE_RETRIES:
        return _ask_case_number(PROMPT_CASE_RETRY, tries)
    return _to_agent(SUPPORT_QUEUE)


@app.on("CallStatus")
def call_ended(req: IncomingRequest) -> Reply:
    """A routed call ended with the caller still on the line: survey, fallback or goodbye."""
    if req.error is None and req.event_data == "Answer":
        survey = get_dtmf(PROMPT_SURVEY, timeout_ms=DIGIT_TIMEOUT_MS, max_digits=1)
        return survey.with_session({"step": "survey"})
    return _not_reached(req)


@app.on("Hangup")
def call_over(req: IncomingRequest) -> Reply:
    """v2 final notification: the platform ignores the answer."""
    return hangup()


@app.default
def anything_else(req: IncomingRequest) -> Reply:
    """Any other event (e.g. one carrying ``Error`` after a failed routing): end politely."""
    return _not_reached(req) if req.error is not None else _goodbye()


def _secrets_from_env() -> list[str] | None:
    """``IVR_SIGNING_SECRETS`` as a list, ``None`` when unset or empty."""
    secrets = [s.strip() for s in os.environ.get("IVR_SIGNING_SECRETS", "").split(",")]
    return [s for s in secrets if s] or None


asgi = asgi_app(app, secrets=_secrets_from_env(), hash=os.environ.get("IVR_HASH") or None)
"""The ASGI application uvicorn serves: ``uvicorn examples.ivr_helpdesk:asgi``."""
