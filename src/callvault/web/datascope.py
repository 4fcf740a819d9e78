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

``own`` and ``team`` read ``call_hops`` (:class:`~callvault.store.models.CallHop`,
migration 0011): one narrow row per element of ``calls.objects`` plus a
``caller`` row for the phone that placed an outbound/internal call, kept by
database triggers.  The condition is ``calls.id IN (SELECT call_id FROM
call_hops WHERE account_id = :account AND login IN (...) AND ...)`` -- for
recordings ``recordings.call_id IN (...)``, so counting a recording list never
reads ``calls``.  PostgreSQL answers the subquery from the index
``(account_id, login, kind, call_id)`` alone and hashes it (a semi-join); over
the benchmark's million calls a team leader's capped count takes some 45 ms
where reading the matching ``calls`` rows through the JSON GIN index took
0.2-0.9 s (BENCHMARKS.md, "Call and recording lists at scale").  See
:func:`scope_calls` for why the kind test is written the way it is.

:func:`object_in_call` (the lists' ``object`` search) still tests
``calls.objects`` itself: the exact per-element test (``json_each`` on SQLite)
or, on PostgreSQL, ``jsonb`` containment, which the GIN index answers.
The account condition (``account_id == principal.account_id``, the same
account the conditions here are given) is always added by the caller next to
these.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    String,
    cast,
    exists,
    false,
    func,
    literal,
    or_,
    select,
    true,
)
from sqlalchemy.dialects.postgresql import JSONB

from callvault.store.models import CallHop, CallRecord, Recording
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


CALLER = "caller"
"""The kind of a call's ``call_hops`` row for the phone that placed it (position -1)."""
OWN_KINDS = ("sip_account", CALLER)
"""The hops of a user's own calls: their SIP account was an element, or placed the call."""


def _inline(*values: str) -> list[ColumnElement[str]]:
    """``values`` as SQL literals rendered into the statement (quoted by the dialect).

    Not bound parameters: psycopg prepares a statement run five times on a
    connection and PostgreSQL then plans it once for any value ("generic
    plan"), guessing how many hops a login has -- for a consultant's recordings
    page a hash of all their call ids and 14 000 probes of ``recordings``,
    70 ms instead of 14.  With the logins in the text every user's statement
    is planned for its own logins.
    """
    return [literal(value, String(), literal_execute=True) for value in values]


def scope_calls(scope: DataScope, account_id: int) -> Select[str] | None:
    """The ids of the account's calls an ``own`` or ``team`` scope sees (None: no call).

    A call is seen when one of its ``call_hops`` rows (every row is in the
    call's account) has

    * ``login`` = the user's SIP login and kind ``sip_account`` or ``caller``
      (own), or
    * ``login`` in the team's objects and any kind but ``caller`` (an element
      of ``calls.objects``: an outbound call placed from a team member's
      phone is not the team's).

    Written as one ``login IN (all logins)`` -- the index condition -- and kind
    tests that are nearly always true.  PostgreSQL estimates each clause on
    its own: an ``OR`` of two ``login = ... AND kind ...`` branches was
    estimated at a tenth of its rows (a spilling hash aggregate, then a nested
    loop over ``calls``) or planned as a BitmapOr with a heap scan of
    ``call_hops``, and a ``UNION ALL`` of the two gets the default estimate of
    200 distinct ids (a nested loop probing ``recordings`` 30 000 times):
    130-440 ms instead of 40-50 ms for a team leader's count over the
    benchmark's million calls.  (``IN`` and ``EXISTS`` plan alike, as
    semi-joins.)  The equivalence, for a row whose login is in the list: with
    ``own`` among the team's objects every kind matches (own takes ``caller``
    rows, team every other kind); else a row of the own login must be of an
    own kind, and a row of a team login must not be a ``caller`` row.  A lone
    own login is plain equality on ``(login, kind)``.
    """
    own = scope.sip_login or None
    team = sorted(set(scope.objects)) if scope.kind == "team" else []
    if own is None and not team:
        return None
    own_kinds = _inline(*OWN_KINDS)
    (caller,) = _inline(CALLER)
    conditions: list[ColumnElement[bool]] = [
        CallHop.account_id == literal(account_id, Integer(), literal_execute=True)
    ]
    if own is None:
        conditions += [CallHop.login.in_(_inline(*team)), CallHop.kind.is_distinct_from(caller)]
    elif not team:
        conditions += [CallHop.login == _inline(own)[0], CallHop.kind.in_(own_kinds)]
    else:
        (own_login,) = _inline(own)
        conditions += [
            CallHop.login.in_(_inline(*sorted({*team, own}))),
            or_(CallHop.kind.is_distinct_from(caller), CallHop.login == own_login),
        ]
        if own not in team:
            conditions.append(or_(CallHop.login != own_login, CallHop.kind.in_(own_kinds)))
    return select(CallHop.call_id).where(*conditions)


def call_condition(scope: DataScope, account_id: int) -> ColumnElement[bool]:
    """The calls (rows of ``calls``) of account ``account_id`` that ``scope`` lets its user see."""
    if scope.kind == "account":
        return true()
    if scope.kind in ("own", "team"):
        calls = scope_calls(scope, account_id)
        return false() if calls is None else CallRecord.id.in_(calls)
    if scope.kind == "numbers":
        forms = number_forms(scope.numbers)
        if not forms:
            return false()
        return or_(CallRecord.from_number.in_(forms), CallRecord.to_number.in_(forms))
    return false()


def recording_condition(scope: DataScope, account_id: int) -> ColumnElement[bool]:
    """The recordings of account ``account_id`` that ``scope`` lets its user see.

    Those of visible calls; for ``own`` and ``team`` found in ``call_hops``
    alone (:func:`scope_calls`), without reading ``calls``.
    """
    if scope.kind == "account":
        return true()
    if scope.kind in ("own", "team"):
        calls = scope_calls(scope, account_id)
        return false() if calls is None else Recording.call_id.in_(calls)
    of_call = exists(
        select(CallRecord.id)
        .where(
            CallRecord.id == Recording.call_id,
            CallRecord.account_id == Recording.account_id,
            call_condition(scope, account_id),
        )
        .correlate_except(CallRecord)
    )
    if scope.kind == "numbers" and scope.numbers:
        return or_(Recording.caller_number.in_(number_forms(scope.numbers)), of_call)
    return of_call
