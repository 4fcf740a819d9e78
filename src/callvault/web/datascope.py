"""Data-scope filters: SQL conditions limiting calls and recordings to what a user may see.

* ``own``: calls the user's SIP account took part in -- an element
  ``{"kind": "sip_account", "login": <sip_login>}`` of ``calls.objects``, or
  an outbound/internal call placed from that phone;
* ``team``: the user's own calls plus those that passed any of the listed
  object logins (queues, menus, SIP accounts...);
* ``numbers``: calls from or to one of the listed numbers;
* ``account``: every call of the account.

Anything else matches nothing (deny by default).  A recording is visible
when its call is (for ``numbers`` also by its caller number); a recording
whose call record is not written yet is seen only at account scope.

Containment in the JSON list is tested exactly, per element, with the
database's own JSON functions (``json_each`` on SQLite,
``json_array_elements`` on PostgreSQL), so pagination and counts stay in SQL;
:func:`object_in_call` uses ``jsonb`` containment on PostgreSQL, which an index answers.
The account condition (``account_id == principal.account_id``) is always
added by the caller next to these.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sqlalchemy import ColumnElement, and_, cast, exists, false, func, or_, select, true
from sqlalchemy.dialects.postgresql import JSONB

from callvault.store.models import CallRecord, Recording
from callvault.web.security import DataScope


def object_in_call(
    dialect: str, logins: Collection[str], kind: str | None = None
) -> ColumnElement[bool]:
    """``calls.objects`` has an element with a login in ``logins`` (and ``kind``, if given)."""
    if not logins:
        return false()
    if dialect == "postgresql":
        return _jsonb_contains(logins, kind)
    element, login, kind_of = _hops(dialect)
    conditions: list[ColumnElement[bool]] = [login.in_(sorted(logins))]
    if kind is not None:
        conditions.append(kind_of == kind)
    return exists(select(1).select_from(element).where(*conditions))


def _jsonb_contains(logins: Collection[str], kind: str | None) -> ColumnElement[bool]:
    """PostgreSQL: ``objects::jsonb @> '[{"login": ...}]'`` for any of ``logins``.

    For string logins the same test as the per-element one, but answered by the
    GIN index ``ix_calls_objects`` (migration 0008) instead of parsing every
    call's JSON; see BENCHMARKS.md, "Call and recording lists at scale".
    """
    document = cast(CallRecord.objects, JSONB)
    extra = {"kind": kind} if kind is not None else {}
    return or_(*(document.contains([{"login": login, **extra}]) for login in sorted(logins)))


def object_kind_in_call(dialect: str, kinds: Collection[str]) -> ColumnElement[bool]:
    """``calls.objects`` has an element of one of ``kinds`` (the call passed a queue, a menu...)."""
    if not kinds:
        return false()
    element, _login, kind_of = _hops(dialect)
    return exists(select(1).select_from(element).where(kind_of.in_(sorted(kinds))))


def _hops(dialect: str) -> tuple[Any, ColumnElement[Any], ColumnElement[Any]]:
    """The elements of ``calls.objects`` as a table, and their ``login`` and ``kind``."""
    if dialect == "postgresql":
        element = func.json_array_elements(CallRecord.objects).table_valued("value").alias("o")
        login = func.json_extract_path_text(element.c.value, "login")
        kind_of = func.json_extract_path_text(element.c.value, "kind")
    else:
        element = func.json_each(CallRecord.objects).table_valued("value").alias("o")
        login = func.json_extract(element.c.value, "$.login")
        kind_of = func.json_extract(element.c.value, "$.kind")
    return element, login, kind_of


def number_forms(numbers: Collection[str]) -> list[str]:
    """The stored forms of E.164 digits: ``48600123456`` and ``+48600123456``."""
    return sorted({form for number in numbers for form in (number, f"+{number}")})


def _own(scope: DataScope, dialect: str) -> ColumnElement[bool]:
    login = scope.sip_login
    if not login:
        return false()
    placed = and_(
        CallRecord.direction.in_(("outbound", "internal")), CallRecord.from_number == login
    )
    return or_(object_in_call(dialect, [login], "sip_account"), placed)


def call_condition(scope: DataScope, dialect: str) -> ColumnElement[bool]:
    """The calls (rows of ``calls``) ``scope`` lets its user see."""
    if scope.kind == "account":
        return true()
    if scope.kind == "own":
        return _own(scope, dialect)
    if scope.kind == "team":
        return or_(_own(scope, dialect), object_in_call(dialect, scope.objects))
    if scope.kind == "numbers":
        forms = number_forms(scope.numbers)
        if not forms:
            return false()
        return or_(CallRecord.from_number.in_(forms), CallRecord.to_number.in_(forms))
    return false()


def recording_condition(scope: DataScope, dialect: str) -> ColumnElement[bool]:
    """The recordings ``scope`` lets its user see: those of visible calls."""
    if scope.kind == "account":
        return true()
    of_call = exists(
        select(CallRecord.id)
        .where(
            CallRecord.id == Recording.call_id,
            CallRecord.account_id == Recording.account_id,
            call_condition(scope, dialect),
        )
        .correlate_except(CallRecord)
    )
    if scope.kind == "numbers" and scope.numbers:
        return or_(Recording.caller_number.in_(number_forms(scope.numbers)), of_call)
    return of_call
