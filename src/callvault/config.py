"""The one typed settings object of a callvault node.

Values come from the documented defaults, then an optional TOML file
(``CALLVAULT_CONFIG`` or ``--config``), then ``CALLVAULT_<NAME>`` environment
variables, then command-line flags; they are validated at start-up so a bad
value stops the node with a message naming the setting.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Settings of one node; every field documents its default."""

    model_config = SettingsConfigDict(env_prefix="CALLVAULT_", extra="forbid")

    sip_host: str = Field("0.0.0.0", description="Address SIP listens on (UDP and TCP).")
    sip_port: int = Field(5060, ge=0, le=65535, description="SIP port (UDP and TCP).")
    public_address: str | None = Field(
        None, description="Address put in Contact/SDP; default: the address facing the peer."
    )
    database_url: str | None = Field(
        None,
        description="SQLAlchemy URL, e.g. postgresql://user@host/db; default SQLite in data_dir.",
    )
    http_host: str = Field("127.0.0.1", description="Address of the panel and REST API.")
    http_port: int = Field(8080, ge=0, le=65535, description="Port of the panel and REST API.")
    data_dir: Path = Field(Path("data"), description="Database, recordings, traces.")
    rtp_port_min: int = Field(20000, ge=1024, le=65534, description="Lowest RTP port.")
    rtp_port_max: int = Field(29999, ge=1025, le=65535, description="Highest RTP port.")
    rtp_timeout_s: float = Field(
        30.0, gt=0, description="Hang up a call when no RTP arrives for this long (not on hold)."
    )
    max_call_duration_s: float = Field(
        4 * 3600, gt=0, description="Hard limit on one call's length."
    )
    demo_bridge_uri: str | None = Field(
        None, description="SIP URI that demo number 103 bridges to."
    )
    demo_auth: str | None = Field(
        None, description="USER:PASSWORD that calls to the demo numbers must authenticate with."
    )
    sip_realm: str = Field("callvault", description="Digest realm of our challenges.")
    sip_auth_algorithms: tuple[str, ...] = Field(
        ("MD5",),
        description="Digest algorithms we challenge with, one 401 header each, in this order, "
        "e.g. MD5,SHA-256. Clients that read every challenge pick the strongest (RFC 8760 "
        "§2.4), but deployed phones (baresip 1.0's libre among them) give up when any "
        "challenge names an algorithm they lack, so only MD5 is offered by default.",
    )
    ban_after_failures: int = Field(
        5, ge=1, description="Failed authentications from one address before it is banned."
    )
    ban_seconds: float = Field(600.0, gt=0, description="How long a ban lasts.")
    unknown_source_rate: float = Field(
        20.0, gt=0, description="Requests per second allowed from an address we do not know."
    )
    language: str = Field("en", description="Language of the demo prompts: en or pl.")
    ivr_allow_networks: list[str] = Field(
        default_factory=list,
        description="Networks or hosts IVR API URLs may point at although private, loopback or "
        'link-local (SSRF guard), e.g. ["10.0.0.0/8"]; empty: public addresses only.',
    )
    operator_token: str | None = Field(
        None,
        description="Bearer token for the node-operator endpoints (live calls, bans, traces); "
        "unset: they answer loopback clients only.",
    )
    recording_storage: str = Field(
        "local", description="Where finished recordings go: local (recordings_dir) or s3."
    )
    recordings_dir: Path | None = Field(
        None, description="Local recording storage; default data_dir/recordings."
    )
    s3_endpoint: str | None = Field(None, description="S3 endpoint URL (AWS, SeaweedFS, MinIO).")
    s3_bucket: str = Field("callvault-recordings", description="S3 bucket for recordings.")
    s3_access_key: str = Field("", description="S3 access key id.")
    s3_secret_key: str = Field("", description="S3 secret access key.")
    s3_region: str = Field("us-east-1", description="S3 region.")
    master_key: str | None = Field(
        None,
        description="Base64 of the 32-byte master key that wraps the accounts' recording keys; "
        "default: generated once into data_dir/master.key (back it up!).",
    )
    user_agent: str = Field("callvault", description="User-Agent / Server header value.")
    use_uvloop: bool = Field(True, description="Use uvloop when it is installed.")
    log_level: str = Field("INFO", description="Logging level.")

    @field_validator("language")
    @classmethod
    def _known_language(cls, value: str) -> str:
        if value not in ("en", "pl"):
            raise ValueError("language must be 'en' or 'pl'")
        return value

    @model_validator(mode="after")
    def _port_range(self) -> Settings:
        if self.rtp_port_max - self.rtp_port_min < 1:
            raise ValueError("rtp_port_max must be above rtp_port_min")
        return self

    @field_validator("recording_storage")
    @classmethod
    def _known_storage(cls, value: str) -> str:
        if value not in ("local", "s3"):
            raise ValueError("recording_storage must be 'local' or 's3'")
        return value

    @property
    def traces_dir(self) -> Path:
        """Where per-call traces are written."""
        return self.data_dir / "traces"


def parse_port_range(text: str) -> tuple[int, int]:
    """Parse ``"30000-30999"`` into a (low, high) pair."""
    low, sep, high = text.partition("-")
    if not sep or not low.isdigit() or not high.isdigit():
        raise ValueError(f"invalid port range {text!r}: expected LOW-HIGH, e.g. 20000-29999")
    return int(low), int(high)


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Build settings from defaults, a TOML file, the environment and overrides."""
    file_values: dict[str, Any] = {}
    if config_file is not None:
        with config_file.open("rb") as fh:
            file_values = tomllib.load(fh)
    env_settings = Settings()
    merged = {**file_values, **env_settings.model_dump(exclude_unset=True)}
    merged.update({k: v for k, v in overrides.items() if v is not None})
    return Settings(**merged)
