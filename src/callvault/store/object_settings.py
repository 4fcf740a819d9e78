"""Typed settings of objects and trunks, validated on every write.

An object's ``settings`` column is JSON; what it may hold depends on the
object's kind.  These models are the one definition: the repository checks
every create and update against them (so a typo in ``callvault apply`` or the
API is refused with the field's name, never stored), and call logic reads
settings through them (so defaults live in one place).
"""

from __future__ import annotations

import ipaddress
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from callvault.store.errors import InvalidInputError

_KEY = "^[0-9*#]{1,4}$"


class SettingsModel(BaseModel):
    """Base of the settings models: unknown keys are errors, values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class SipAccountSettings(SettingsModel):
    """A person's phone: digest password, caller-ID for outside calls, ring time."""

    password: str | None = None
    """Digest password; without one the phone cannot register or call."""
    caller_id: str | None = None
    """An account number (any form) to show on outbound PSTN calls."""
    ring_timeout_s: float = Field(30.0, gt=0, le=300)
    outbound: bool = True
    """Whether this phone may call numbers outside the account (through a trunk)."""


class QueueSettings(SettingsModel):
    """A call queue: who answers, in which order, and what waiting callers hear."""

    members: list[str] = Field(default_factory=list)
    """Logins of SIP accounts that take the queue's calls."""
    strategy: Literal["ring-all", "round-robin", "least-recent"] = "ring-all"
    ring_timeout_s: float = Field(15.0, gt=0, le=300)
    """How long one member rings before the next attempt."""
    max_wait_s: float = Field(300.0, gt=0, le=86400)
    overflow: str | None = None
    """Login of the object a caller goes to after ``max_wait_s`` (else: hang up)."""
    hold_music: str = "hold-music"
    welcome_prompt: str | None = "queue-welcome"
    announce_position: bool = True
    announce_every_s: float = Field(30.0, ge=5, le=3600)
    retry_s: float = Field(1.0, ge=0, le=60)
    """Pause between ring attempts."""


class MenuSettings(SettingsModel):
    """A static IVR menu: a greeting, then one key (or a few) leads to an object."""

    greeting: str = "menu-choose"
    options: dict[Annotated[str, Field(pattern=_KEY)], str] = Field(default_factory=dict)
    """Key → login of an object, or ``hangup``."""
    timeout_s: float = Field(5.0, gt=0, le=60)
    retries: int = Field(3, ge=0, le=10)
    invalid_prompt: str = "menu-invalid"
    no_input_prompt: str = "menu-no-input"
    on_fail: str = "hangup"
    """Login of the object a caller goes to after the last retry, or ``hangup``."""


class IvrApiSettings(SettingsModel):
    """The IVR API object's settings (``shared/spec/ivr-api.md``, "Object settings")."""

    url: str = Field(pattern=r"^https?://")
    hash: str = ""
    timeout_ms: int = Field(5000, ge=500, le=30000)
    fallback: Literal["Hangup", "Play", "CallByObjectLogin"] = "Hangup"
    fallback_prompt: str | None = None
    fallback_login: str | None = None
    allow_external: bool = False
    ignore_ssl_errors: bool = False
    auto_answer_s: float = Field(0, ge=0, le=120)
    signing_secrets: list[str] = Field(default_factory=list, max_length=2)
    ca_bundle: str | None = None
    filler_prompt: str | None = None
    filler_after_ms: int = Field(1500, ge=100, le=30000)
    notify_hangup: bool = True
    max_requests: int = Field(500, ge=5, le=10000)
    """Loop guard: requests one call may make before error 10 and the fallback."""


NumberFormat = Literal["e164", "+e164", "national", "00"]


class TrunkSettings(SettingsModel):
    """A provider connection: where its calls come from and how to call out through it."""

    inbound_addresses: list[str] = Field(default_factory=list)
    """Addresses (IPs or CIDR networks) the provider's INVITEs come from."""
    gateway: str | None = Field(None, pattern=r"^sips?:")
    """The provider's SIP URI for outbound calls, e.g. ``sip:sip.provider.example:5060``."""
    username: str | None = None
    password: str | None = None
    number_format: NumberFormat = "e164"
    """How dialled numbers are sent: ``48221234567``, ``+48221234567``, ``221234567``
    (national, international ones as ``00…``) or ``0048221234567``."""
    caller_id_format: NumberFormat | None = None
    """Format of the caller-ID we send (default: ``number_format``)."""

    @field_validator("inbound_addresses")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for text in value:
            try:
                ipaddress.ip_network(text, strict=False)
            except ValueError:
                raise ValueError(f"{text!r} is not an IP address or network") from None
        return value

    def accepts(self, address: str) -> bool:
        """Whether an INVITE from ``address`` comes from this provider."""
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in ipaddress.ip_network(net, strict=False) for net in self.inbound_addresses)


OBJECT_SETTINGS: dict[str, type[SettingsModel]] = {
    "sip_account": SipAccountSettings,
    "queue": QueueSettings,
    "ivr_menu": MenuSettings,
    "ivr_api": IvrApiSettings,
}


def _explain(error: ValidationError, what: str) -> InvalidInputError:
    first = error.errors()[0]
    where = ".".join(str(part) for part in first["loc"])
    message = first["msg"]
    if first["type"] == "extra_forbidden":
        message = "unknown setting"
    return InvalidInputError(f"{what} settings.{where}: {message}")


def object_settings(kind: str, settings: dict[str, Any]) -> SettingsModel:
    """The typed settings of an object of ``kind``; refuses bad ones with the field's name."""
    model = OBJECT_SETTINGS.get(kind)
    if model is None:
        raise InvalidInputError(f"unknown object kind {kind!r}")
    try:
        return model.model_validate(settings)
    except ValidationError as exc:
        raise _explain(exc, kind) from None


def trunk_settings(settings: dict[str, Any]) -> TrunkSettings:
    """The typed settings of a trunk; refuses bad ones with the field's name."""
    try:
        return TrunkSettings.model_validate(settings)
    except ValidationError as exc:
        raise _explain(exc, "trunk") from None
