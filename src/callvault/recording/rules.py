"""Recording rules: which calls are recorded, and how -- a pure decision with its reasons.

An account's rules are tried in ``priority`` order (lower first, then by
name).  :func:`decide` stops at the first enabled rule whose every condition
holds for the call's :class:`CallFacts`; that rule's :class:`RuleDecision`
says whether to record (``record=False`` is "never record", so such a rule
placed first beats any later recording rule) and how.  Each condition of
each rule tried is explained in words (:class:`RuleCheck`), so the CLI, the
panel and the stored recording can say why a call was -- or was not --
recorded.  No I/O and no clock: the time is the call's ``started_at`` seen
in the account's time zone, and sampling is a hash of the call id.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from fnmatch import fnmatchcase
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from callvault.store.numbers import InvalidNumberError, normalize

Direction = Literal["inbound", "outbound", "internal"]
ObjectKindName = Literal["sip_account", "queue", "ivr_menu", "ivr_api"]
Day = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
DAYS: tuple[Day, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
"""Week days in ``datetime.weekday()`` order."""

_TIME = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
_PATTERN = re.compile(r"^[0-9*?\[\]!-]+$")
_DTMF = r"^[0-9*#]{1,8}$"
_SHOWN = 5  # list items a reason shows before "… (N more)"


class ScheduleWindow(BaseModel):
    """Days and a time span in the account's zone; the end is exclusive.

    An ``end`` before ``start`` runs past midnight: ``fri 22:00-06:00`` is
    Friday 22:00 to Saturday 06:00.  The short form ``"mon-fri 08:00-17:00"``
    (days optional: every day) is accepted wherever a window is.
    """

    model_config = ConfigDict(extra="forbid")

    days: list[Day] = Field(default_factory=lambda: list(DAYS), min_length=1)
    start: str
    end: str

    @model_validator(mode="before")
    @classmethod
    def _short_form(cls, data: Any) -> Any:
        if not isinstance(data, str):
            return data
        parts = data.split()
        if len(parts) not in (1, 2) or parts[-1].count("-") != 1:
            raise ValueError(f"{data!r}: write a window as 'mon-fri 08:00-17:00'")
        start, end = parts[-1].split("-")
        return {"start": start, "end": end} | ({"days": parts[0]} if len(parts) == 2 else {})

    @field_validator("days", mode="before")
    @classmethod
    def _day_ranges(cls, value: Any) -> Any:
        """``"mon-fri,sun"`` or ``["mon-fri", "sun"]``: ranges become their days."""
        items = value.split(",") if isinstance(value, str) else value
        if not isinstance(items, list):
            return value
        days: list[Any] = []
        for item in items:
            text = item.strip().lower() if isinstance(item, str) else item
            if not (isinstance(text, str) and "-" in text):
                days.append(text)
                continue
            first, _, last = text.partition("-")
            if first not in DAYS or last not in DAYS:
                raise ValueError(f"unknown day range {item!r}; use e.g. mon-fri")
            i, j = DAYS.index(first), DAYS.index(last)
            days += [DAYS[(i + k) % 7] for k in range((j - i) % 7 + 1)]
        return days

    @field_validator("days")
    @classmethod
    def _week_order(cls, days: list[Day]) -> list[Day]:
        return sorted(set(days), key=DAYS.index)

    @field_validator("start", "end")
    @classmethod
    def _hh_mm(cls, value: str) -> str:
        if not _TIME.match(value):
            raise ValueError(f"{value!r} is not a time; use HH:MM (00:00 to 23:59)")
        return value

    @model_validator(mode="after")
    def _not_empty(self) -> ScheduleWindow:
        if self.start == self.end:
            raise ValueError(f"window {self.start}-{self.end} is empty")
        return self

    def contains(self, local: datetime) -> bool:
        """Whether the local (account-zone) time falls in the window."""
        now, day = f"{local:%H:%M}", DAYS[local.weekday()]
        if self.start < self.end:
            return day in self.days and self.start <= now < self.end
        before = DAYS[(local.weekday() - 1) % 7]
        return (day in self.days and now >= self.start) or (before in self.days and now < self.end)

    def describe(self) -> str:
        """``mon-fri 08:00-17:00``."""
        runs: list[list[Day]] = []
        for day in self.days:
            if runs and DAYS.index(day) == DAYS.index(runs[-1][-1]) + 1:
                runs[-1].append(day)
            else:
                runs.append([day])
        text = [f"{r[0]}-{r[-1]}" if len(r) > 2 else ",".join(r) for r in runs]
        return f"{','.join(text)} {self.start}-{self.end}"


class RuleConditions(BaseModel):
    """When a rule applies: every condition given must hold; an absent one matches any call."""

    model_config = ConfigDict(extra="forbid")

    directions: list[Direction] | None = Field(default=None, min_length=1)
    numbers: list[str] | None = Field(default=None, min_length=1)
    """Account DIDs the call came in on (any input form; stored as E.164 digits)."""
    objects: list[str] | None = Field(default=None, min_length=1)
    """Logins: the call passed through any of them."""
    object_kinds: list[ObjectKindName] | None = Field(default=None, min_length=1)
    caller_patterns: list[str] | None = Field(default=None, min_length=1)
    """Glob patterns on the caller's E.164 digits, e.g. ``48600*``."""
    callee_patterns: list[str] | None = Field(default=None, min_length=1)
    caller_list: list[str] | None = Field(default=None, min_length=1)
    """Exact caller numbers (any input form)."""
    schedule: list[ScheduleWindow] | None = Field(default=None, min_length=1)
    sample_percent: int | None = Field(default=None, ge=0, le=100)

    @field_validator("numbers", "caller_list")
    @classmethod
    def _e164(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else list(dict.fromkeys(normalize(v) for v in value))

    @field_validator("caller_patterns", "callee_patterns")
    @classmethod
    def _globs(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return None
        patterns = ["".join(p.split()).removeprefix("+") for p in value]
        for pattern in patterns:
            if not _PATTERN.match(pattern):
                raise ValueError(f"{pattern!r}: a pattern is E.164 digits with * ? [0-9]")
        return patterns


class RuleDecision(BaseModel):
    """What a matching rule decides: record or never record, and how."""

    model_config = ConfigDict(extra="forbid")

    record: bool = True
    mode: Literal["mixed", "stereo"] = "mixed"
    format: Literal["wav", "mp3", "opus"] = "wav"
    announcement: str | None = Field(default=None, min_length=1, max_length=100)
    """Prompt played before recording starts (a prompt library name), or none."""
    record_if_announcement_interrupted: bool = True
    retention_days: int = Field(default=90, ge=1, le=3650)
    allow_dtmf_pause: bool = False
    pause_code: str = Field(default="*1", pattern=_DTMF)
    resume_code: str = Field(default="*2", pattern=_DTMF)

    @model_validator(mode="after")
    def _distinct_codes(self) -> RuleDecision:
        if self.pause_code == self.resume_code:
            raise ValueError(f"pause_code and resume_code are both {self.pause_code!r}")
        return self

    def summary(self) -> str:
        """``stereo opus, keep 30 days, announcement "consent"`` or ``never record``."""
        if not self.record:
            return "never record"
        parts = [f"{self.mode} {self.format}", f"keep {self.retention_days} days"]
        if self.announcement:
            parts.append(f'announcement "{self.announcement}"')
        if self.allow_dtmf_pause:
            parts.append(f"DTMF pause {self.pause_code} / resume {self.resume_code}")
        return ", ".join(parts)


class RecordingRule(BaseModel):
    """One named rule of an account: conditions, and the decision when they all hold."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field(min_length=1, max_length=64)
    priority: int = Field(default=100, ge=-1_000_000, le=1_000_000)
    enabled: bool = True
    conditions: RuleConditions = Field(default_factory=RuleConditions)
    decision: RuleDecision = Field(default_factory=RuleDecision)


@dataclass(frozen=True)
class CallFacts:
    """What is known of a call when recording is decided: the input of :func:`decide`."""

    call_id: str
    direction: str
    from_number: str
    """Caller: E.164 digits or raw (an extension, ``anonymous``)."""
    to_number: str
    number: str | None
    """The account DID the call came in on, or None."""
    objects: Sequence[tuple[str, str]]
    """(kind, login) of each object the call passed through."""
    started_at: datetime
    """Timezone-aware."""


class RuleCheck(BaseModel):
    """One rule as tried for one call: matched or not, with a reason per condition."""

    name: str
    matched: bool
    reasons: list[str]
    evaluated: bool = True
    """False when the rule was disabled or an earlier rule had already matched."""


class RecordingDecision(BaseModel):
    """The outcome for one call: record or not, which rule decided, and why."""

    record: bool
    rule: str | None
    decision: RuleDecision | None
    explanation: list[RuleCheck]


def sample_roll(call_id: str, rule_name: str) -> int:
    """A stable 0..99 for (call, rule): a call is sampled in or out the same way every time."""
    digest = hashlib.sha256(f"{call_id}\x00{rule_name}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % 100


def digits_of(text: str) -> str:
    """E.164 digits when ``text`` is a number, else the text (an extension, ``anonymous``)."""
    try:
        return normalize(text)
    except InvalidNumberError:
        return text.strip()


def _shown(items: Sequence[str]) -> str:
    head = ", ".join(items[:_SHOWN])
    more = f", … ({len(items) - _SHOWN} more)" if len(items) > _SHOWN else ""
    return f"[{head}{more}]"


def _in_list(what: str, value: str | None, allowed: Sequence[str]) -> tuple[bool, str]:
    ok = value is not None and value in allowed
    return ok, f"{what} {value or 'none'} {'in' if ok else 'not in'} {_shown(allowed)}"


def _any_in(what: str, values: Sequence[str], allowed: Sequence[str]) -> tuple[bool, str]:
    hit = next((value for value in values if value in allowed), None)
    if hit is not None:
        return True, f"{what} {hit} in {_shown(allowed)}"
    return False, f"{what}s {_shown(list(dict.fromkeys(values)))} not in {_shown(allowed)}"


def _glob(what: str, number: str, patterns: Sequence[str]) -> tuple[bool, str]:
    hit = next((p for p in patterns if fnmatchcase(number, p)), None)
    if hit is not None:
        return True, f"{what} {number} matches {hit}"
    return False, f"{what} {number} matches none of {_shown(patterns)}"


def _checks(
    rule: RecordingRule, facts: CallFacts, zone: ZoneInfo, zone_name: str
) -> list[tuple[bool, str]]:
    """(holds, reason) for every condition the rule sets."""
    c, out = rule.conditions, []
    caller, callee = digits_of(facts.from_number), digits_of(facts.to_number)
    if c.directions is not None:
        ok = facts.direction in c.directions
        verb = "matches" if ok else "not in"
        out.append((ok, f"direction {facts.direction} {verb} {_shown(c.directions)}"))
    if c.numbers is not None:
        number = digits_of(facts.number) if facts.number else None
        out.append(_in_list("number", number, c.numbers))
    if c.objects is not None:
        out.append(_any_in("object", [login for _, login in facts.objects], c.objects))
    if c.object_kinds is not None:
        out.append(_any_in("object kind", [kind for kind, _ in facts.objects], c.object_kinds))
    if c.caller_patterns is not None:
        out.append(_glob("caller", caller, c.caller_patterns))
    if c.callee_patterns is not None:
        out.append(_glob("callee", callee, c.callee_patterns))
    if c.caller_list is not None:
        out.append(_in_list("caller", caller, c.caller_list))
    if c.schedule is not None:
        local = facts.started_at.astimezone(zone)
        stamp = f"{DAYS[local.weekday()].title()} {local:%H:%M} {zone_name}"
        hit = next((w for w in c.schedule if w.contains(local)), None)
        if hit is not None:
            out.append((True, f"{stamp} inside {hit.describe()}"))
        else:
            windows = ", ".join(w.describe() for w in c.schedule)
            out.append((False, f"{stamp} outside {windows}"))
    if c.sample_percent is not None:
        roll = sample_roll(facts.call_id, rule.name)
        if roll < c.sample_percent:
            out.append((True, f"sampled in: {roll} < {c.sample_percent}"))
        else:
            out.append((False, f"sampled out: {roll} ≥ {c.sample_percent}"))
    return out or [(True, "no conditions: every call matches")]


def _skipped(rule: RecordingRule, reason: str) -> RuleCheck:
    return RuleCheck(name=rule.name, matched=False, reasons=[reason], evaluated=False)


def decide(facts: CallFacts, rules: Sequence[RecordingRule], *, timezone: str) -> RecordingDecision:
    """Try the rules in priority order; the first that matches decides (see the module doc)."""
    if facts.started_at.tzinfo is None:
        raise ValueError("CallFacts.started_at must be timezone-aware")
    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {timezone!r}") from None
    chosen: RecordingRule | None = None
    explanation: list[RuleCheck] = []
    for rule in sorted(rules, key=lambda r: (r.priority, r.name)):
        if chosen is not None:
            reason = f"not evaluated: rule {chosen.name!r} matched first"
            explanation.append(_skipped(rule, reason))
        elif not rule.enabled:
            explanation.append(_skipped(rule, "disabled"))
        else:
            checks = _checks(rule, facts, zone, timezone)
            matched = all(ok for ok, _ in checks)
            reasons = [reason for _, reason in checks]
            explanation.append(RuleCheck(name=rule.name, matched=matched, reasons=reasons))
            chosen = rule if matched else None
    if chosen is None:
        return RecordingDecision(record=False, rule=None, decision=None, explanation=explanation)
    return RecordingDecision(
        record=chosen.decision.record,
        rule=chosen.name,
        decision=chosen.decision,
        explanation=explanation,
    )


def explain_text(decision: RecordingDecision) -> str:
    """The decision and every rule's reasons as indented lines (CLI, panel)."""
    if decision.rule is None or decision.decision is None:
        head = "record: no (no rule matched)"
    else:
        verdict = "yes" if decision.record else "no"
        head = f'record: {verdict} (rule "{decision.rule}": {decision.decision.summary()})'
    lines = [head]
    if not decision.explanation:
        lines.append("  the account has no recording rules")
    for check in decision.explanation:
        mark = "✓" if check.matched else "✗" if check.evaluated else "-"
        lines.append(f"  {mark} {check.name}")
        lines += [f"      {reason}" for reason in check.reasons]
    return "\n".join(lines)
