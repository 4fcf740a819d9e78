"""Errors of the data layer; each carries a stable code the CLI and API show."""

from __future__ import annotations


class StoreError(Exception):
    """Base of every data-layer error: ``code`` is stable, the message says what to do."""

    code = "store_error"
    http_status = 400


class NotFoundError(StoreError):
    """No such row in this account."""

    code = "not_found"
    http_status = 404


class ConflictError(StoreError):
    """A unique value (login, number, name) is taken."""

    code = "conflict"
    http_status = 409


class InvalidInputError(StoreError):
    """A value is malformed (number format, unknown object kind, bad setting)."""

    code = "invalid"
    http_status = 422


class PlanLimitError(StoreError):
    """The account's plan lacks the add-on or the quota is used up."""

    code = "plan_limit"
    http_status = 403
