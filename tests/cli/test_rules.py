"""`callvault rules list|add|delete|test` through the real CLI, on SQLite and PostgreSQL.

Rules go add → list → test → delete; ``test`` prints the decision with
every rule's reasons; refused commands exit 2 with one ``error:`` line and
write nothing; one account never sees or uses another's rules.  The store's
update and load_rules, which no command reaches, are tested directly.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from callvault.cli.main import main
from callvault.recording import rule_store
from callvault.recording.rules import RecordingRule, RuleDecision
from callvault.store.db import Database
from callvault.store.errors import ConflictError, NotFoundError
from callvault.store.repository import Accounts

Run = Callable[..., tuple[int, str, str]]
RECORDING = {"addons": ["recording"]}


@pytest.fixture
def cli(database_url: str, capsys: pytest.CaptureFixture[str]) -> Run:
    """``cli("rules", "list", ...)`` runs the CLI on the test database: (code, out, err)."""

    def run(*argv: str) -> tuple[int, str, str]:
        code = main([*argv, "--db", database_url])
        out, err = capsys.readouterr()
        return code, out, err

    return run


def ok(cli: Run, *argv: str) -> str:
    """Run a command that must succeed; its stdout."""
    code, out, err = cli(*argv)
    assert (code, err) == (0, ""), f"{argv}: {err}"
    return out


def refused(cli: Run, *argv: str) -> str:
    """Run a command that must be refused; its one error line."""
    code, out, err = cli(*argv)
    assert (code, out) == (2, ""), f"{argv}: {out}"
    assert err.startswith("error: ") and err.count("\n") == 1, err
    return err


def rules_of(cli: Run, account: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = json.loads(
        ok(cli, "rules", "list", "--account", account, "--json")
    )
    return rows


def company(cli: Run, slug: str, number: str, *plan: str) -> None:
    """An account with a queue (sales), a phone (hr) and a number leading to sales."""
    ok(cli, "accounts", "create", slug, "--sip-domain", f"{slug}.example", *plan)
    ok(cli, "objects", "create", "--account", slug, "--kind", "queue", "--login", "sales")
    ok(
        cli,
        *("objects", "create", "--account", slug, "--kind", "sip_account", "--login", "hr"),
        *("--password", "s3cret-pass-hr"),
    )
    ok(cli, "numbers", "create", number, "--account", slug, "--to", "sales")


def office_rules(cli: Run, slug: str) -> None:
    ok(
        cli,
        *("rules", "add", "--account", slug, "--name", "office", "--priority", "10"),
        *("--when", "directions=inbound", "--when", "numbers=+48 22 123 45 67"),
        *("--when", "schedule=mon-fri 08:00-17:00", "--mode", "stereo"),
        *("--announcement", "consent", "--retention-days", "30"),
    )
    add = ("rules", "add", "--account", slug)
    ok(cli, *add, "--name", "hr", "--priority", "1", "--never", "--when", "objects=hr")
    sample = ("--name", "sample", "--priority", "50", "--format", "opus")
    ok(cli, *add, *sample, "--when", "sample_percent=40")


def test_add_list_test_delete(cli: Run) -> None:
    company(cli, "acme", "221234567", "--addon", "recording")
    assert ok(cli, "rules", "list", "--account", "acme").startswith("no recording rules")
    office_rules(cli, "acme")

    table = ok(cli, "rules", "list", "--account", "acme").splitlines()
    assert table[0].split() == ["PRIORITY", "NAME", "ENABLED", "DECISION", "CONDITIONS"]
    assert [line.split()[:2] for line in table[1:]] == [
        ["1", "hr"],
        ["10", "office"],
        ["50", "sample"],
    ]
    assert 'stereo wav, keep 30 days, announcement "consent"' in table[2]
    assert "directions=inbound numbers=48221234567 schedule=mon-fri 08:00-17:00" in table[2]
    office = rules_of(cli, "acme")[1]
    assert office["conditions"] == {
        "directions": ["inbound"],
        "numbers": ["48221234567"],
        "schedule": [
            {"days": ["mon", "tue", "wed", "thu", "fri"], "start": "08:00", "end": "17:00"}
        ],
    }
    assert office["decision"]["retention_days"] == 30

    test = ("rules", "test", "--account", "acme", "--from", "600 123 456", "--to", "22 123 45 67")
    during = ok(cli, *test, "--object", "sales", "--at", "2026-11-25 14:30", "--call-id", "c-1")
    assert during.splitlines() == [
        "dry run for call c-1 (nothing is recorded)",
        "  inbound from 48600123456 to 48221234567, number 48221234567",
        "  objects queue:sales",
        "  at Wed 2026-11-25 14:30 Europe/Warsaw",
        'record: yes (rule "office": stereo wav, keep 30 days, announcement "consent")',
        "  ✗ hr",
        "      objects [sales] not in [hr]",
        "  ✓ office",
        "      direction inbound matches [inbound]",
        "      number 48221234567 in [48221234567]",
        "      Wed 14:30 Europe/Warsaw inside mon-fri 08:00-17:00",
        "  - sample",
        "      not evaluated: rule 'office' matched first",
    ]
    # sampling hashes (call id, rule name): c-2 rolls 8 (in), c-3 rolls 75 (out)
    evening = ok(cli, *test, "--at", "2026-11-24 18:30", "--call-id", "c-2").splitlines()
    assert evening[3:] == [
        "  at Tue 2026-11-24 18:30 Europe/Warsaw",
        'record: yes (rule "sample": mixed opus, keep 90 days)',
        "  ✗ hr",
        "      objects [] not in [hr]",
        "  ✗ office",
        "      direction inbound matches [inbound]",
        "      number 48221234567 in [48221234567]",
        "      Tue 18:30 Europe/Warsaw outside mon-fri 08:00-17:00",
        "  ✓ sample",
        "      sampled in: 8 < 40",
    ]
    unsampled = ok(cli, *test, "--at", "2026-11-24 18:30", "--call-id", "c-3").splitlines()
    assert unsampled[4] == "record: no (no rule matched)"
    assert unsampled[-2:] == ["  ✗ sample", "      sampled out: 75 ≥ 40"]
    hr = ok(cli, *test, "--object", "hr", "--at", "2026-11-25 10:00").splitlines()
    assert hr[4:6] == ['record: no (rule "hr": never record)', "  ✓ hr"]

    outbound = ok(cli, *test, "--direction", "outbound", "--call-id", "c-3", "--json")
    decision = json.loads(outbound)
    assert (decision["record"], decision["rule"], decision["decision"]) == (False, None, None)
    assert decision["explanation"][1]["reasons"][:2] == [
        "direction outbound not in [inbound]",
        "number none not in [48221234567]",
    ]

    assert ok(cli, "rules", "delete", "--account", "acme", "--name", "office") == (
        "deleted rule 'office' from acme\n"
    )
    assert [rule["name"] for rule in rules_of(cli, "acme")] == ["hr", "sample"]


def test_add_from_a_toml_file(cli: Run, tmp_path: Path) -> None:
    company(cli, "acme", "221234567", "--addon", "recording")
    rule = tmp_path / "night.toml"
    rule.write_text(
        'name = "night"\npriority = 5\n'
        '[conditions]\nschedule = ["fri 22:00-06:00", {days = ["sat"], start = "10:00", '
        'end = "12:00"}]\ncaller_patterns = ["+48 600*"]\n'
        '[decision]\nmode = "stereo"\nallow_dtmf_pause = true\n',
        encoding="utf-8",
    )
    out = ok(cli, "rules", "add", "--account", "acme", "--file", str(rule))
    assert out.startswith("added rule 'night' (priority 5) to acme: stereo wav, keep 90 days")
    [night] = rules_of(cli, "acme")
    assert night["conditions"]["caller_patterns"] == ["48600*"]
    assert night["decision"]["pause_code"] == "*1"
    saturday_night = ok(
        cli,
        *("rules", "test", "--account", "acme", "--from", "48600111222", "--to", "48221234567"),
        *("--at", "2026-11-28 01:30"),
    )
    assert "      Sat 01:30 Europe/Warsaw inside fri 22:00-06:00" in saturday_night.splitlines()
    err = refused(cli, "rules", "add", "--account", "acme", "--file", str(rule), "--name", "x")
    assert "--file holds the whole rule; drop --name" in err


def test_refused_commands_write_nothing(cli: Run, tmp_path: Path) -> None:
    company(cli, "plain", "221234500")
    err = refused(cli, "rules", "add", "--account", "plain", "--name", "all")
    assert "recording add-on" in err
    assert "callvault accounts update plain --addon recording" in err

    company(cli, "acme", "221234567", "--addon", "recording")
    office_rules(cli, "acme")
    before = rules_of(cli, "acme")
    add = ("rules", "add", "--account", "acme")
    for argv, message in [
        ((*add, "--name", "office"), "a recording rule 'office' already exists"),
        ((*add, "--name", "x", "--when", "colour=red"), "no condition 'colour'"),
        ((*add, "--name", "x", "--when", "directions"), "--when wants KEY=VALUE"),
        ((*add, "--name", "x", "--when", "schedule=mon 8-17"), "conditions.schedule.0"),
        ((*add, "--name", "x", "--when", "numbers=12ab"), "conditions.numbers"),
        ((*add, "--name", "x", "--retention-days", "0"), "decision.retention_days"),
        ((*add, "--name", "x", "--never", "--mode", "stereo"), "--never records nothing"),
        ((*add, "--when", "directions=inbound"), "a rule needs --name"),
        ((*add, "--file", str(tmp_path / "missing.toml")), "cannot read"),
        (("rules", "delete", "--account", "acme", "--name", "nope"), "no recording rule 'nope'"),
        (("rules", "list", "--account", "nobody"), "no account 'nobody'"),
    ]:
        assert message in refused(cli, *argv), argv
    assert rules_of(cli, "acme") == before
    test = ("rules", "test", "--account", "acme", "--from", "1", "--to", "2")
    assert "--at wants 'YYYY-MM-DD HH:MM'" in refused(cli, *test, "--at", "tomorrow")
    assert "no number +48221234500 in account acme" in refused(cli, *test, "--number", "221234500")


def test_accounts_never_see_or_use_each_others_rules(cli: Run) -> None:
    company(cli, "acme", "221234567", "--addon", "recording")
    company(cli, "globex", "221234500", "--addon", "recording")
    office_rules(cli, "acme")
    assert rules_of(cli, "globex") == []
    assert "no recording rule 'office' in account globex" in refused(
        cli, "rules", "delete", "--account", "globex", "--name", "office"
    )
    test = ("rules", "test", "--account", "globex", "--from", "600123456", "--to", "221234500")
    assert ok(cli, *test).splitlines()[4:] == [
        "record: no (no rule matched)",
        "  the account has no recording rules",
    ]
    # acme's number is not globex's to name
    assert "no number +48221234567 in account globex" in refused(
        cli, *test, "--number", "221234567"
    )
    # the same rule name is free in another account, and each account uses its own
    ok(cli, "rules", "add", "--account", "globex", "--name", "office", "--never")
    out = ok(cli, *test, "--at", "2026-11-25 10:00")
    assert out.splitlines()[4:] == [
        'record: no (rule "office": never record)',
        "  ✓ office",
        "      no conditions: every call matches",
    ]
    assert [rule["name"] for rule in rules_of(cli, "acme")] == ["hr", "office", "sample"]
    assert rules_of(cli, "acme")[1]["decision"]["record"] is True


async def test_rule_store_update_and_load(database_url: str) -> None:
    """What the CLI does not reach: update (rename, reorder, switch off) and load_rules."""
    db = Database(database_url)
    db.migrate()
    try:
        async with db.session() as session:
            accounts = Accounts(session)
            acme = accounts.scope(await accounts.create("acme", "ACME", plan=RECORDING))
            globex = accounts.scope(await accounts.create("globex", "Globex", plan=RECORDING))
            await rule_store.add_rule(acme, RecordingRule(name="a", priority=20))
            await rule_store.add_rule(acme, RecordingRule(name="b", priority=10))
            await rule_store.add_rule(globex, RecordingRule(name="a", priority=1))
            row = await rule_store.update_rule(
                acme,
                "a",
                new_name="all",
                priority=5,
                enabled=False,
                decision=RuleDecision(mode="stereo"),
            )
            assert (row.name, row.priority, row.enabled) == ("all", 5, False)
            with pytest.raises(ConflictError, match="'b' already exists"):
                await rule_store.update_rule(acme, "all", new_name="b")
            with pytest.raises(NotFoundError):
                await rule_store.update_rule(globex, "b", priority=1)
            await session.commit()
        async with db.session() as session:
            rules = await rule_store.load_rules(session, acme.account_id)
            assert [(r.name, r.priority, r.enabled, r.decision.mode) for r in rules] == [
                ("all", 5, False, "stereo"),
                ("b", 10, True, "mixed"),
            ]
            assert [r.name for r in await rule_store.load_rules(session, globex.account_id)] == [
                "a"
            ]
    finally:
        await db.close()
