"""``/api/v1/numbers`` and ``/api/v1/objects``: an account's numbers and call objects.

Both need ``objects.manage``.  Numbers are DIDs in any usual form (stored as
E.164 digits) with a label -- the campaign or purpose the reports group calls
by -- and the object they lead to.  Objects are SIP accounts, queues, IVR
menus and IVR API objects; their settings are checked by
:mod:`callvault.store.object_settings` on every write, so a wrong setting is
refused with its name.  Secrets (a SIP account's password, an IVR API
object's ``hash`` and signing secrets) are write-only: answers say which are
set, never their values.  Every change is audited.  All of it goes through
the tenant-scoped :class:`~callvault.store.repository.AccountScope`, so
another account's number or login is simply not found (404).

:func:`install_admin_api` mounts these and the other admin, event and report
routers.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, FastAPI, Path, Request, Response
from pydantic import BaseModel, Field

from callvault.store.errors import InvalidInputError, NotFoundError
from callvault.store.models import Account, CallObject, Number
from callvault.store.numbers import display
from callvault.store.repository import AccountScope
from callvault.web import audit
from callvault.web.admin_context import AdminContext
from callvault.web.context import Session, client_ip, iso
from callvault.web.security import Principal, require

router = APIRouter(prefix="/api/v1", tags=["numbers and objects"])
Manager = Annotated[Principal, Depends(require("objects.manage"))]

SECRET_SETTINGS = ("password", "hash", "signing_secrets")
"""Settings that are written but never shown."""
ObjectKindName = Literal["sip_account", "queue", "ivr_menu", "ivr_api"]
RowId = Annotated[int, Path(ge=1, le=2**31 - 1, description="the row's id")]
"""A numeric id in a path: within the database's INTEGER (PostgreSQL refuses larger ones)."""


async def account_scope(session: Session, principal: Principal) -> AccountScope:
    """The caller's account as an :class:`AccountScope`."""
    account = await session.get(Account, principal.account_id)
    assert account is not None
    return AccountScope(session, account)


async def audit_change(
    request: Request,
    session: Session,
    principal: Principal,
    action: str,
    target_type: str,
    target_id: str,
    detail: dict[str, Any] | None = None,
) -> None:
    """Audit a change and commit it together with the change."""
    await audit.record(
        session, principal, action, target_type, target_id, client_ip(request), detail
    )
    await session.commit()


def public_settings(settings: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """``settings`` without secrets, and the names of the secrets that are set."""
    shown = {key: value for key, value in settings.items() if key not in SECRET_SETTINGS}
    secrets = sorted(key for key in SECRET_SETTINGS if settings.get(key))
    return shown, secrets


def object_json(obj: CallObject) -> dict[str, Any]:
    """An object as the API shows it (no secrets)."""
    settings, secrets = public_settings(obj.settings)
    return {
        "kind": obj.kind.value,
        "login": obj.login,
        "name": obj.name,
        "extension": obj.extension,
        "settings": settings,
        "secrets_set": secrets,
        "created_at": iso(obj.created_at),
    }


def number_json(number: Number) -> dict[str, Any]:
    """A number with its label and target."""
    target = number.target
    return {
        "number": number.e164,
        "display": display(number.e164),
        "label": number.label,
        "target": target.login if target is not None else None,
        "target_kind": target.kind.value if target is not None else None,
        "created_at": iso(number.created_at),
    }


# -- numbers -------------------------------------------------------------------
async def _check_target(scope: AccountScope, login: str | None) -> None:
    """A number's target must be an object of the account (422, not 404, when it is not)."""
    if login:
        try:
            await scope.get_object(login)
        except NotFoundError as exc:
            raise InvalidInputError(f"target: {exc}") from None


class NumberIn(BaseModel):
    """A new number: the DID in any usual form, its label and (optionally) its object."""

    number: str = Field(min_length=1, max_length=32, examples=["+48 22 123 45 67"])
    label: str = Field("", max_length=200, description="campaign or purpose, for reports")
    target: str | None = Field(None, max_length=64, description="login of the object")


class NumberPatch(BaseModel):
    """Changes to a number; ``target: null`` unassigns it, an absent field stays."""

    label: str | None = Field(None, max_length=200)
    target: str | None = Field(None, max_length=64)


@router.get("/numbers")
async def list_numbers(principal: Manager, session: Session) -> list[dict[str, Any]]:
    """The account's numbers, with labels and targets."""
    scope = await account_scope(session, principal)
    return [number_json(number) for number in await scope.list_numbers()]


@router.post("/numbers", status_code=201)
async def add_number(
    body: NumberIn, request: Request, principal: Manager, session: Session
) -> dict[str, Any]:
    """Add a number to the account (within the plan's quota)."""
    scope = await account_scope(session, principal)
    await _check_target(scope, body.target)
    number = await scope.add_number(body.number, target_login=body.target or None, label=body.label)
    await session.refresh(number, ["target"])
    out = number_json(number)
    await audit_change(request, session, principal, "number.create", "number", number.e164, out)
    return out


@router.patch("/numbers/{number}")
async def update_number(
    number: str, body: NumberPatch, request: Request, principal: Manager, session: Session
) -> dict[str, Any]:
    """Change a number's label and/or the object it leads to."""
    scope = await account_scope(session, principal)
    target: str | None = None
    if "target" in body.model_fields_set:
        target = body.target or ""
        await scope.get_number(number)
        await _check_target(scope, target)
    row = await scope.assign_number(number, target_login=target, label=body.label)
    out = number_json(row)
    changes = body.model_dump(exclude_unset=True)
    await audit_change(request, session, principal, "number.update", "number", row.e164, changes)
    return out


@router.delete("/numbers/{number}", status_code=204)
async def delete_number(
    number: str, request: Request, principal: Manager, session: Session
) -> Response:
    """Remove a number from the account."""
    scope = await account_scope(session, principal)
    row = await scope.get_number(number)
    e164 = row.e164
    await scope.delete_number(e164)
    await audit_change(request, session, principal, "number.delete", "number", e164)
    return Response(status_code=204)


# -- objects -------------------------------------------------------------------
class ObjectIn(BaseModel):
    """A new object: kind, login (unique in the account), name, short number, settings."""

    kind: ObjectKindName
    login: str = Field(min_length=1, max_length=64, examples=["sales"])
    name: str = Field("", max_length=200)
    extension: str | None = Field(None, max_length=16, examples=["101"])
    settings: dict[str, Any] = Field(default_factory=dict)


class ObjectPatch(BaseModel):
    """Changes to an object: settings are merged, ``unset`` ones go back to their defaults."""

    name: str | None = Field(None, max_length=200)
    extension: str | None = Field(None, max_length=16, description='"" clears it')
    settings: dict[str, Any] | None = None
    unset: list[str] = Field(default_factory=list, max_length=50)


def _audit_settings(settings: dict[str, Any] | None) -> dict[str, Any] | None:
    """Settings as the audit log keeps them: secrets only as ``"set"``."""
    if settings is None:
        return None
    return {key: "set" if key in SECRET_SETTINGS else value for key, value in settings.items()}


@router.get("/objects")
async def list_objects(
    principal: Manager, session: Session, kind: ObjectKindName | None = None
) -> list[dict[str, Any]]:
    """The account's objects (of one kind, if given), by login."""
    scope = await account_scope(session, principal)
    return [object_json(obj) for obj in await scope.list_objects(kind)]


@router.get("/objects/{login}")
async def get_object(login: str, principal: Manager, session: Session) -> dict[str, Any]:
    """One object (secrets only named as set)."""
    scope = await account_scope(session, principal)
    return object_json(await scope.get_object(login))


@router.post("/objects", status_code=201)
async def create_object(
    body: ObjectIn, request: Request, principal: Manager, session: Session
) -> dict[str, Any]:
    """Create an object; its settings are checked against its kind's settings model."""
    scope = await account_scope(session, principal)
    obj = await scope.create_object(
        body.kind,
        body.login,
        name=body.name,
        extension=body.extension or None,
        settings=body.settings,
    )
    out = object_json(obj)
    detail = {**body.model_dump(), "settings": _audit_settings(body.settings)}
    await audit_change(request, session, principal, "object.create", "object", obj.login, detail)
    return out


@router.patch("/objects/{login}")
async def update_object(
    login: str, body: ObjectPatch, request: Request, principal: Manager, session: Session
) -> dict[str, Any]:
    """Change an object's name, short number or settings."""
    scope = await account_scope(session, principal)
    obj = await scope.update_object(
        login,
        name=body.name,
        extension=body.extension,
        settings=body.settings,
        unset=body.unset,
    )
    out = object_json(obj)
    detail = body.model_dump(exclude_unset=True)
    if "settings" in detail:
        detail["settings"] = _audit_settings(body.settings)
    await audit_change(request, session, principal, "object.update", "object", obj.login, detail)
    return out


@router.delete("/objects/{login}", status_code=204)
async def delete_object(
    login: str, request: Request, principal: Manager, session: Session
) -> Response:
    """Delete an object; numbers leading to it become unassigned."""
    scope = await account_scope(session, principal)
    obj = await scope.get_object(login)
    detail = {"kind": obj.kind.value}
    await scope.delete_object(login)
    await audit_change(request, session, principal, "object.delete", "object", login, detail)
    return Response(status_code=204)


def install_admin_api(app: FastAPI, ctx: AdminContext) -> None:
    """Mount the admin resources, the live event stream, the reports and legal holds on ``app``."""
    from callvault.web import (
        api_connection,
        api_events,
        api_holds,
        api_prompts,
        api_reports,
        api_rules_admin,
        api_users,
        api_webhooks,
    )

    app.state.callvault_admin = ctx
    app.include_router(router)
    app.include_router(api_connection.router)
    app.include_router(api_prompts.router)
    app.include_router(api_rules_admin.router)
    app.include_router(api_users.router)
    app.include_router(api_webhooks.router)
    app.include_router(api_events.router)
    app.include_router(api_reports.router)
    app.include_router(api_holds.router)
