"""Recording rules: each condition's verdict and reason, priority order, schedules, sampling."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from callvault.recording.rules import (
    CallFacts,
    RecordingDecision,
    RecordingRule,
    RuleCheck,
    RuleDecision,
    ScheduleWindow,
    decide,
    explain_text,
    sample_roll,
)

WARSAW = "Europe/Warsaw"
TUESDAY_1430 = datetime(2026, 11, 24, 13, 30, tzinfo=UTC)  # CET: UTC+1
FACTS = CallFacts(
    call_id="c-test",
    direction="inbound",
    from_number="48600123456",
    to_number="48221234567",
    number="48221234567",
    objects=[("queue", "sales")],
    started_at=TUESDAY_1430,
)


def facts(**changes: Any) -> CallFacts:
    """The standard call with some facts changed."""
    return replace(FACTS, **changes)


def rule(name: str = "r", priority: int = 100, record: bool = True, **when: Any) -> RecordingRule:
    return RecordingRule.model_validate(
        {"name": name, "priority": priority, "conditions": when, "decision": {"record": record}}
    )


def check(when: dict[str, Any], call: CallFacts = FACTS) -> RuleCheck:
    """The one rule with these conditions, tried on ``call``."""
    return decide(call, [rule(**when)], timezone=WARSAW).explanation[0]


def local(year: int, month: int, day: int, hour: int, minute: int) -> datetime:
    """A wall-clock time in Warsaw."""
    return datetime(year, month, day, hour, minute, tzinfo=ZoneInfo(WARSAW))


ROLL = sample_roll("c-test", "r")


@pytest.mark.parametrize(
    ("when", "changes", "matched", "reason"),
    [
        ({"directions": ["inbound"]}, {}, True, "direction inbound matches [inbound]"),
        (
            {"directions": ["outbound", "internal"]},
            {},
            False,
            "direction inbound not in [outbound, internal]",
        ),
        ({"numbers": ["22 123 45 67"]}, {}, True, "number 48221234567 in [48221234567]"),
        ({"numbers": ["48221234500"]}, {}, False, "number 48221234567 not in [48221234500]"),
        ({"numbers": ["221234567"]}, {"number": None}, False, "number none not in [48221234567]"),
        (
            {"objects": ["sales", "ewa"]},
            {"objects": [("sip_account", "jan"), ("queue", "sales")]},
            True,
            "object sales in [sales, ewa]",
        ),
        ({"objects": ["hr"]}, {}, False, "objects [sales] not in [hr]"),
        ({"objects": ["hr"]}, {"objects": []}, False, "objects [] not in [hr]"),
        ({"object_kinds": ["queue"]}, {}, True, "object kind queue in [queue]"),
        (
            {"object_kinds": ["ivr_menu", "ivr_api"]},
            {"objects": [("queue", "sales"), ("queue", "support")]},
            False,
            "object kinds [queue] not in [ivr_menu, ivr_api]",
        ),
        ({"caller_patterns": ["48600*"]}, {}, True, "caller 48600123456 matches 48600*"),
        (
            {"caller_patterns": ["48601*", "4822*"]},
            {},
            False,
            "caller 48600123456 matches none of [48601*, 4822*]",
        ),
        (
            {"caller_patterns": ["48600*"]},
            {"from_number": "101"},
            False,
            "caller 101 matches none of [48600*]",
        ),
        (
            {"callee_patterns": ["4822???????"]},
            {},
            True,
            "callee 48221234567 matches 4822???????",
        ),
        (
            {"callee_patterns": ["4858*"]},
            {},
            False,
            "callee 48221234567 matches none of [4858*]",
        ),
        ({"caller_list": ["600 123 456"]}, {}, True, "caller 48600123456 in [48600123456]"),
        ({"caller_list": ["+48600000000"]}, {}, False, "caller 48600123456 not in [48600000000]"),
        (
            {"schedule": ["mon-fri 08:00-17:00"]},
            {},
            True,
            "Tue 14:30 Europe/Warsaw inside mon-fri 08:00-17:00",
        ),
        (
            {"schedule": ["mon-fri 08:00-17:00"]},
            {"started_at": local(2026, 11, 24, 18, 30)},
            False,
            "Tue 18:30 Europe/Warsaw outside mon-fri 08:00-17:00",
        ),
        ({"sample_percent": 100}, {}, True, f"sampled in: {ROLL} < 100"),
        ({"sample_percent": 0}, {}, False, f"sampled out: {ROLL} ≥ 0"),
    ],
)
def test_each_condition_says_why(
    when: dict[str, Any], changes: dict[str, Any], matched: bool, reason: str
) -> None:
    result = check(when, facts(**changes))
    assert (result.matched, result.reasons) == (matched, [reason])


def test_a_rule_without_conditions_matches_every_call() -> None:
    assert check({}).reasons == ["no conditions: every call matches"]
    assert check({}).matched


def test_every_condition_is_explained_and_all_must_hold() -> None:
    result = check({"directions": ["outbound"], "numbers": ["221234567"], "objects": ["sales"]})
    assert not result.matched
    assert result.reasons == [
        "direction inbound not in [outbound]",
        "number 48221234567 in [48221234567]",
        "object sales in [sales]",
    ]


def test_long_lists_are_shortened_in_reasons() -> None:
    callers = [f"4860000000{digit}" for digit in range(8)]
    assert check({"caller_list": callers}).reasons == [
        "caller 48600123456 not in [48600000000, 48600000001, 48600000002, 48600000003, "
        "48600000004, … (3 more)]"
    ]


def test_rules_are_tried_in_priority_order_and_the_first_match_decides() -> None:
    rules = [
        rule("late", priority=30),
        rule("sales", priority=20, objects=["sales"]),
        rule("hr", priority=10, objects=["hr"]),
    ]
    decision = decide(FACTS, rules, timezone=WARSAW)
    assert (decision.record, decision.rule) == (True, "sales")
    assert [(c.name, c.matched, c.evaluated) for c in decision.explanation] == [
        ("hr", False, True),
        ("sales", True, True),
        ("late", False, False),
    ]
    assert decision.explanation[2].reasons == ["not evaluated: rule 'sales' matched first"]


def test_equal_priorities_are_tried_by_name() -> None:
    decision = decide(FACTS, [rule("b"), rule("a")], timezone=WARSAW)
    assert decision.rule == "a"


def test_a_never_record_rule_beats_a_later_record_rule() -> None:
    rules = [rule("everything", priority=50), rule("hr", priority=1, record=False)]
    decision = decide(FACTS, rules, timezone=WARSAW)
    assert (decision.record, decision.rule) == (False, "hr")
    assert decision.decision is not None and not decision.decision.record
    assert explain_text(decision).splitlines()[0] == 'record: no (rule "hr": never record)'
    # the same never rule, when it does not match, lets the later rule record
    rules[1] = rule("hr", priority=1, record=False, objects=["hr"])
    assert decide(FACTS, rules, timezone=WARSAW).rule == "everything"


def test_disabled_rules_are_skipped() -> None:
    off = rule("off", priority=1).model_copy(update={"enabled": False})
    decision = decide(FACTS, [off, rule("on")], timezone=WARSAW)
    assert decision.rule == "on"
    assert decision.explanation[0] == RuleCheck(
        name="off", matched=False, reasons=["disabled"], evaluated=False
    )


def test_no_match_means_no_recording_with_the_reasons() -> None:
    decision = decide(FACTS, [rule("night", schedule=["22:00-06:00"])], timezone=WARSAW)
    assert (decision.record, decision.rule, decision.decision) == (False, None, None)
    assert explain_text(decision).splitlines() == [
        "record: no (no rule matched)",
        "  ✗ night",
        "      Tue 14:30 Europe/Warsaw outside mon-sun 22:00-06:00",
    ]
    empty = decide(FACTS, [], timezone=WARSAW)
    assert (
        explain_text(empty) == "record: no (no rule matched)\n  the account has no recording rules"
    )


def test_explain_text_lists_the_decision_and_every_rule() -> None:
    office = RecordingRule.model_validate(
        {
            "name": "office",
            "priority": 10,
            "conditions": {"directions": ["inbound"], "schedule": ["mon-fri 08:00-17:00"]},
            "decision": {"mode": "stereo", "format": "opus", "announcement": "consent"},
        }
    )
    decision = decide(FACTS, [office, rule("rest", priority=20)], timezone=WARSAW)
    assert explain_text(decision).splitlines() == [
        'record: yes (rule "office": stereo opus, keep 90 days, announcement "consent")',
        "  ✓ office",
        "      direction inbound matches [inbound]",
        "      Tue 14:30 Europe/Warsaw inside mon-fri 08:00-17:00",
        "  - rest",
        "      not evaluated: rule 'office' matched first",
    ]


def test_the_decision_round_trips_through_json() -> None:
    decision = decide(FACTS, [rule("a", objects=["x"]), rule("b")], timezone=WARSAW)
    stored = decision.model_dump(mode="json")
    assert RecordingDecision.model_validate(stored) == decision


# -- schedules ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("when", "inside"),
    [
        (local(2026, 11, 27, 21, 59), False),  # Fri before the window
        (local(2026, 11, 27, 22, 0), True),  # Fri 22:00
        (local(2026, 11, 27, 23, 59), True),
        (local(2026, 11, 28, 0, 0), True),  # Sat, after midnight: Friday's window
        (local(2026, 11, 28, 5, 59), True),
        (local(2026, 11, 28, 6, 0), False),  # end is exclusive
        (local(2026, 11, 28, 23, 0), False),  # Sat night: sat is not a window day
        (local(2026, 11, 27, 2, 0), False),  # Fri early: Thursday has no window
    ],
)
def test_windows_over_midnight_belong_to_the_day_they_start(when: datetime, inside: bool) -> None:
    assert check({"schedule": ["fri 22:00-06:00"]}, facts(started_at=when)).matched is inside


@pytest.mark.parametrize(
    ("utc", "reason"),
    [
        # spring forward 2026-03-29 02:00 CET -> 03:00 CEST
        (datetime(2026, 3, 28, 6, 30, tzinfo=UTC), "Sat 07:30 Europe/Warsaw outside"),
        (datetime(2026, 3, 29, 6, 30, tzinfo=UTC), "Sun 08:30 Europe/Warsaw inside"),
        # fall back 2026-10-25 03:00 CEST -> 02:00 CET
        (datetime(2026, 10, 24, 15, 30, tzinfo=UTC), "Sat 17:30 Europe/Warsaw outside"),
        (datetime(2026, 10, 25, 15, 30, tzinfo=UTC), "Sun 16:30 Europe/Warsaw inside"),
    ],
)
def test_schedules_follow_the_account_zone_across_dst_changes(utc: datetime, reason: str) -> None:
    result = check({"schedule": ["sat-sun 08:00-17:00"]}, facts(started_at=utc))
    assert result.reasons == [f"{reason} sat,sun 08:00-17:00"]


def test_an_overnight_window_on_the_dst_night() -> None:
    # 03:30 UTC on 2026-03-29 is 05:30 CEST (it would be 04:30 at the winter offset)
    when = datetime(2026, 3, 29, 3, 30, tzinfo=UTC)
    assert check({"schedule": ["sat 22:00-05:45"]}, facts(started_at=when)).reasons == [
        "Sun 05:30 Europe/Warsaw inside sat 22:00-05:45"
    ]
    later = datetime(2026, 3, 29, 3, 50, tzinfo=UTC)  # 05:50 CEST
    assert not check({"schedule": ["sat 22:00-05:45"]}, facts(started_at=later)).matched


def test_several_windows_any_of_them() -> None:
    saturday = facts(started_at=local(2026, 11, 28, 10, 0))
    when = {
        "schedule": ["mon-fri 08:00-17:00", {"days": ["sat"], "start": "09:00", "end": "13:00"}]
    }
    assert check(when, saturday).reasons == ["Sat 10:00 Europe/Warsaw inside sat 09:00-13:00"]
    sunday = facts(started_at=local(2026, 11, 29, 10, 0))
    assert check(when, sunday).reasons == [
        "Sun 10:00 Europe/Warsaw outside mon-fri 08:00-17:00, sat 09:00-13:00"
    ]


def test_window_forms_and_descriptions() -> None:
    assert ScheduleWindow.model_validate("fri-mon 20:00-23:00").days == ["mon", "fri", "sat", "sun"]
    window = ScheduleWindow.model_validate(
        {"days": "sun,mon-wed, FRI", "start": "08:00", "end": "09:30"}
    )
    assert window.describe() == "mon-wed,fri,sun 08:00-09:30"
    assert ScheduleWindow.model_validate("10:00-11:00").describe() == "mon-sun 10:00-11:00"
    assert ScheduleWindow.model_validate("sat,sun 10:00-11:00").describe() == "sat,sun 10:00-11:00"


@pytest.mark.parametrize(
    "bad",
    [
        "mon-fri 24:00-17:00",
        "mon-fri 8:00-17:00",
        "mon 10:00-10:00",
        "mon-xyz 08:00-17:00",
        "holiday 08:00-17:00",
        "mon-fri 08:00 17:00",
        {"days": [], "start": "08:00", "end": "09:00"},
    ],
)
def test_bad_windows_are_refused(bad: Any) -> None:
    with pytest.raises(ValidationError):
        ScheduleWindow.model_validate(bad)


# -- sampling -------------------------------------------------------------------


def test_sampling_is_deterministic_per_call_and_rule() -> None:
    assert sample_roll("c-1", "sample") == sample_roll("c-1", "sample")
    rolls = {sample_roll("c-1", f"rule-{n}") for n in range(50)}
    assert len(rolls) > 20  # the rule name is part of the hash
    sampled = rule("sample", sample_percent=50)
    first = decide(FACTS, [sampled], timezone=WARSAW)
    assert all(decide(FACTS, [sampled], timezone=WARSAW) == first for _ in range(5))


@pytest.mark.parametrize("percent", [0, 1, 30, 50, 99, 100])
def test_sampling_is_roughly_proportional(percent: int) -> None:
    sampled = rule("sample", sample_percent=percent)
    recorded = sum(
        decide(facts(call_id=f"c-{n:026d}"), [sampled], timezone=WARSAW).record
        for n in range(10_000)
    )
    share = percent / 100
    assert abs(recorded - 10_000 * share) <= 4 * math.sqrt(10_000 * share * (1 - share))


def test_sampling_rolls_spread_over_0_to_99() -> None:
    counts = [0] * 100
    for n in range(10_000):
        counts[sample_roll(f"c-{n:026d}", "sample")] += 1
    assert min(counts) > 50
    assert max(counts) < 150


# -- numbers and validation -------------------------------------------------------


FORMS = ["+48 22 123 45 67", "0048221234567", "221234567", "(22) 123-45-67", "48221234567"]


@pytest.mark.parametrize("form", FORMS)
def test_numbers_in_any_input_form(form: str) -> None:
    assert RecordingRule.model_validate(
        {"name": "n", "conditions": {"numbers": [form], "caller_list": [form]}}
    ).conditions.numbers == ["48221234567"]
    assert check({"numbers": [form]}).matched
    assert check({"numbers": ["221234567"]}, facts(number=form)).matched
    assert check({"caller_list": [form]}, facts(from_number=form)).matched
    assert check({"callee_patterns": ["482212345*"]}, facts(to_number=form)).matched


@pytest.mark.parametrize(
    "conditions",
    [
        {"numbers": ["12ab"]},
        {"caller_list": ["123"]},
        {"caller_patterns": ["48600%"]},
        {"directions": ["sideways"]},
        {"object_kinds": ["trunk"]},
        {"sample_percent": 101},
        {"directions": []},
        {"typo": ["x"]},
    ],
)
def test_bad_conditions_are_refused(conditions: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        RecordingRule.model_validate({"name": "n", "conditions": conditions})


def test_patterns_accept_a_leading_plus_and_spaces() -> None:
    conditions = rule(caller_patterns=["+48 600*"]).conditions
    assert conditions.caller_patterns == ["48600*"]


def test_decision_defaults_and_limits() -> None:
    decision = RuleDecision()
    assert decision.model_dump() == {
        "record": True,
        "mode": "mixed",
        "format": "wav",
        "announcement": None,
        "record_if_announcement_interrupted": True,
        "retention_days": 90,
        "allow_dtmf_pause": False,
        "pause_code": "*1",
        "resume_code": "*2",
    }
    paused = RuleDecision(allow_dtmf_pause=True, pause_code="#9", resume_code="#8")
    assert paused.summary() == "mixed wav, keep 90 days, DTMF pause #9 / resume #8"
    for bad in (
        {"retention_days": 0},
        {"retention_days": 3651},
        {"pause_code": "*2"},
        {"pause_code": "*a"},
        {"mode": "quad"},
        {"format": "flac"},
    ):
        with pytest.raises(ValidationError):
            RuleDecision.model_validate(bad)


def test_decide_needs_an_aware_time_and_a_known_zone() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        decide(facts(started_at=datetime(2026, 11, 24, 14, 30)), [rule()], timezone=WARSAW)
    with pytest.raises(ValueError, match="unknown time zone"):
        decide(FACTS, [rule()], timezone="Mars/Olympus")
