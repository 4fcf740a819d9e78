"""``POST /api/v1/objects/{login}/test-connection``: does an IVR API object's app answer?

The test sends one request exactly as a call would -- the object's URL, TLS
settings (``ignore_ssl_errors``, ``ca_bundle``), timeout, signing secrets,
``Hash`` and the operator's SSRF guard, through the production
:class:`~callvault.ivr.client.IvrHttpClient` -- with the event ``Connected``
whose ``Details`` say ``{"Test": true}`` and a ``UniqueCallId`` starting with
``test-``, so the application can tell it from a real call.  The answer says
precisely what happened: ``{ok, status, elapsed_ms, error_no, error}`` with
the IVR API's error numbers and messages (e.g. 3, ``TLS error: certificate
verify failed: self-signed certificate``), as the call's IVR trace would.
Needs ``objects.manage``.
"""

from __future__ import annotations

import uuid
from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import ValidationError

from callvault.ivr.client import IvrClientSettings, IvrHttpClient
from callvault.ivr.models import IvrRequest, RequestBody, RequestEvent
from callvault.ivr.ssrf import check_url
from callvault.store.errors import InvalidInputError
from callvault.store.models import ObjectKind
from callvault.store.object_settings import IvrApiSettings, object_settings
from callvault.web.admin_context import Admin
from callvault.web.api_admin import account_scope
from callvault.web.context import Session
from callvault.web.security import Principal, require

router = APIRouter(prefix="/api/v1/objects", tags=["numbers and objects"])
Manager = Annotated[Principal, Depends(require("objects.manage"))]

TEST_FROM = "test"


def test_request(settings: IvrApiSettings, to_number: str) -> IvrRequest:
    """The request a connection test sends: ``Connected``, ``Details: {"Test": true}``."""
    return IvrRequest(
        request=RequestBody(
            FromNumber=TEST_FROM,
            ToNumber=to_number,
            UniqueCallId=f"test-{uuid.uuid4()}",
            ChannelStatus="Ringing",
            Hash=settings.hash or None,
            Event=RequestEvent(EventName="Connected", EventData="", Details={"Test": True}),
            Session=None,
        )
    )


@router.post("/{login}/test-connection")
async def test_connection(
    login: str, principal: Manager, session: Session, admin: Admin
) -> dict[str, Any]:
    """Send a signed test request to an IVR API object's application; what came back."""
    scope = await account_scope(session, principal)
    obj = await scope.get_object(login)
    if obj.kind is not ObjectKind.IVR_API:
        raise InvalidInputError(
            f"{login} is a {obj.kind.value} object; only ivr_api objects have an application"
        )
    settings = object_settings("ivr_api", obj.settings)
    assert isinstance(settings, IvrApiSettings)
    try:
        client_settings = IvrClientSettings(
            url=settings.url,
            timeout_ms=settings.timeout_ms,
            ignore_ssl_errors=settings.ignore_ssl_errors,
            ca_bundle=settings.ca_bundle,
            signing_secrets=settings.signing_secrets,
        )
    except ValidationError as exc:
        problem = exc.errors()[0]
        raise InvalidInputError(f"ivr_api settings: {problem['msg']}") from None
    numbers = await scope.list_numbers()
    to_number = next((n.e164 for n in numbers if n.object_id == obj.id), obj.extension or login)
    await session.close()  # the request may take seconds: hold no database connection
    guard = partial(check_url, allow=admin.allow_networks)
    async with IvrHttpClient(client_settings, url_guard=guard) as client:
        result = await client.send(client.new_call(), test_request(settings, to_number))
    error = result.error
    return {
        "ok": result.ok,
        "url": settings.url,
        "status": result.status_code,
        "elapsed_ms": result.elapsed_ms,
        "error_no": int(error.error_no) if error is not None else None,
        "error": error.message if error is not None else None,
        "attempts": result.attempts,
        "signed": bool(settings.signing_secrets),
    }
