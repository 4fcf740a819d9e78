"""`callvault accounts|numbers|objects|trunks` through the real CLI, on SQLite and PostgreSQL.

Each resource goes create → list → show → update → delete; refused commands
exit 2 with one ``error:`` line and leave the database exactly as it was;
one account cannot see or touch another's rows.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import pytest

from callvault.cli.admin import KINDS
from callvault.cli.main import main
from callvault.store.models import ObjectKind

Run = Callable[..., tuple[int, str, str]]


@pytest.fixture
def cli(database_url: str, capsys: pytest.CaptureFixture[str]) -> Run:
    """``cli("objects", "list", ...)`` runs the CLI on the test database: (code, out, err)."""

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


def as_json(cli: Run, *argv: str) -> Any:
    """A ``list``/``show`` command's ``--json`` output, parsed."""
    return json.loads(ok(cli, *argv, "--json"))


def snapshot(cli: Run) -> dict[str, Any]:
    """Everything the CLI can see, to compare before and after a refused command."""
    state: dict[str, Any] = {"accounts": as_json(cli, "accounts", "list")}
    for account in state["accounts"]:
        slug = account["slug"]
        for resource in ("numbers", "objects", "trunks"):
            state[f"{slug}.{resource}"] = as_json(cli, resource, "list", "--account", slug)
    return state


def acme(cli: Run, *plan: str) -> None:
    """Account acme with a phone (jan) and a queue (sales)."""
    ok(cli, "accounts", "create", "acme", "--name", "ACME sp. z o.o.", *plan)
    ok(cli, "objects", "create", "--account", "acme", "--kind", "sip_account", "--login", "jan",
       "--extension", "101", "--password", "s3cret-pass")  # fmt: skip
    ok(cli, "objects", "create", "--account", "acme", "--kind", "queue", "--login", "sales")


def column(table: str, header: str) -> list[str]:
    """The cells under ``header`` of an aligned table (checks the alignment on the way)."""
    lines = table.splitlines()
    start = lines[0].index(header)
    following = lines[0][start + len(header) :]
    end = start + len(header) + (len(following) - len(following.lstrip()))
    cells = []
    for line in lines[1:]:
        assert start == 0 or line[start - 2 : start] == "  ", f"misaligned: {line!r}"
        cells.append(line[start:end].strip() if following.strip() else line[start:].strip())
    return cells


def test_accounts_create_list_show_update_delete(cli: Run) -> None:
    out = ok(cli, "accounts", "create", "acme", "--name", "ACME sp. z o.o.",
             "--sip-domain", "acme.example", "--quota", "numbers=10")  # fmt: skip
    assert out == "created account acme (SIP domain acme.example)\n"
    ok(cli, "accounts", "create", "zeta-shop", "--addon", "ivr_api")
    table = ok(cli, "accounts", "list")
    assert table.splitlines()[0].split() == ["SLUG", "NAME", "SIP", "DOMAIN", "ADDONS", "QUOTAS"]
    assert column(table, "SLUG") == ["acme", "zeta-shop"]
    assert column(table, "SIP DOMAIN") == ["acme.example", "zeta-shop"]
    assert column(table, "QUOTAS") == ["numbers=10", "-"]
    shown = as_json(cli, "accounts", "show", "acme")
    assert shown["plan"] == {"addons": [], "quotas": {"numbers": 10}}
    assert shown["usage"]["numbers"] == 0
    assert "plan.quotas.numbers: 10" in ok(cli, "accounts", "show", "acme")

    ok(cli, "accounts", "update", "acme", "--name", "ACME S.A.", "--addon", "recording",
       "--quota", "sip_accounts=5")  # fmt: skip
    ok(cli, "accounts", "update", "acme", "--quota", "numbers=unlimited")
    shown = as_json(cli, "accounts", "show", "acme")
    assert shown["name"] == "ACME S.A."
    assert shown["plan"] == {"addons": ["recording"], "quotas": {"sip_accounts": 5}}
    ok(cli, "accounts", "update", "acme", "--remove-addon", "recording")
    assert as_json(cli, "accounts", "show", "acme")["plan"]["addons"] == []

    assert ok(cli, "accounts", "delete", "acme") == "deleted account acme\n"
    assert [a["slug"] for a in as_json(cli, "accounts", "list")] == ["zeta-shop"]
    ok(cli, "accounts", "delete", "zeta-shop")
    assert "no accounts yet" in ok(cli, "accounts", "list")


def test_numbers_create_list_show_update_delete(cli: Run) -> None:
    acme(cli)
    out = ok(cli, "numbers", "create", "+48 22 123 45 67", "--account", "acme", "--to", "jan",
             "--label", "Google Ads")  # fmt: skip
    assert out == "added number +48 22 123 45 67 to account acme, leading to jan\n"
    ok(cli, "numbers", "create", "0048 (22) 123-45-68", "--account", "acme")
    table = ok(cli, "numbers", "list", "--account", "acme")
    assert column(table, "NUMBER") == ["+48 22 123 45 67", "+48 22 123 45 68"]
    assert column(table, "TO") == ["jan", "-"]
    assert column(table, "LABEL") == ["Google Ads", "-"]
    assert as_json(cli, "numbers", "show", "221234567", "--account", "acme") == {
        "number": "+48221234567",
        "display": "+48 22 123 45 67",
        "to": "jan",
        "kind": "sip_account",
        "label": "Google Ads",
    }
    assert "to:      jan" in ok(cli, "numbers", "show", "022 123 45 67", "--account", "acme")

    ok(cli, "numbers", "update", "221234568", "--account", "acme", "--to", "sales",
       "--label", "Facebook")  # fmt: skip
    shown = as_json(cli, "numbers", "show", "+48221234568", "--account", "acme")
    assert (shown["to"], shown["kind"], shown["label"]) == ("sales", "queue", "Facebook")
    out = ok(cli, "numbers", "update", "221234567", "--account", "acme", "--unassign")
    assert "leads to nowhere, label 'Google Ads'" in out
    assert as_json(cli, "numbers", "show", "221234567", "--account", "acme")["to"] is None

    ok(cli, "numbers", "delete", "22 123 45 67", "--account", "acme")
    ok(cli, "numbers", "delete", "221234568", "--account", "acme")
    assert as_json(cli, "numbers", "list", "--account", "acme") == []
    assert "no numbers in account acme" in ok(cli, "numbers", "list", "--account", "acme")


def test_objects_create_list_show_update_delete(cli: Run) -> None:
    ok(cli, "accounts", "create", "acme")
    out = ok(cli, "objects", "create", "--account", "acme", "--kind", "sip_account",
             "--login", "jan", "--name", "Jan Kowalski", "--extension", "101",
             "--password", "s3cret-pass", "--set", "caller_id=221234567",
             "--set", "ring_timeout_s=20")  # fmt: skip
    assert out == "created sip_account jan (extension 101) in account acme\n"
    ok(cli, "objects", "create", "--account", "acme", "--kind", "queue", "--login", "sales",
       "--set", 'members=["jan","ewa"]', "--set", "strategy=round-robin")  # fmt: skip
    ok(cli, "numbers", "create", "221234567", "--account", "acme", "--to", "sales")

    table = ok(cli, "objects", "list", "--account", "acme")
    assert column(table, "LOGIN") == ["jan", "sales"]
    assert column(table, "KIND") == ["sip_account", "queue"]
    assert column(table, "EXT") == ["101", "-"]
    assert column(table, "NUMBERS") == ["-", "+48221234567"]
    queues = as_json(cli, "objects", "list", "--account", "acme", "--kind", "queue")
    assert [o["login"] for o in queues] == ["sales"]
    assert queues[0]["settings"] == {"members": ["jan", "ewa"], "strategy": "round-robin"}

    jan = as_json(cli, "objects", "show", "--account", "acme", "--login", "jan")
    assert jan["settings"] == {
        "caller_id": "221234567",  # a number given for a text setting stays text
        "ring_timeout_s": 20,
        "password": "***",
    }
    text = ok(cli, "objects", "show", "--account", "acme", "--login", "jan")
    assert "settings.password:       ***" in text
    assert "s3cret-pass" not in text

    ok(cli, "objects", "update", "--account", "acme", "--login", "jan", "--name", "Jan K.",
       "--extension", "", "--password", "n3w-pass", "--unset", "caller_id")  # fmt: skip
    jan = as_json(cli, "objects", "show", "--account", "acme", "--login", "jan")
    assert (jan["name"], jan["extension"]) == ("Jan K.", None)
    assert jan["settings"] == {"ring_timeout_s": 20, "password": "***"}
    ok(cli, "objects", "update", "--account", "acme", "--login", "sales",
       "--set", "ring_timeout_s=12.5", "--set", "overflow=null")  # fmt: skip
    sales = as_json(cli, "objects", "show", "--account", "acme", "--login", "sales")
    assert sales["settings"]["ring_timeout_s"] == 12.5
    assert sales["settings"]["overflow"] is None

    ok(cli, "objects", "delete", "--account", "acme", "--login", "jan")
    assert [o["login"] for o in as_json(cli, "objects", "list", "--account", "acme")] == ["sales"]


def test_deleting_an_object_numbers_lead_to_needs_force(cli: Run) -> None:
    acme(cli)
    ok(cli, "numbers", "create", "221234567", "--account", "acme", "--to", "jan")
    ok(cli, "numbers", "create", "221234568", "--account", "acme", "--to", "jan")
    before = snapshot(cli)
    code, out, err = cli("objects", "delete", "--account", "acme", "--login", "jan")
    assert (code, out) == (2, "")
    assert err.startswith("error: sip_account jan is the target of number(s) ")
    assert "+48 22 123 45 67, +48 22 123 45 68" in err and "--force" in err
    assert snapshot(cli) == before

    out = ok(cli, "objects", "delete", "--account", "acme", "--login", "jan", "--force")
    assert "unassigned +48 22 123 45 67, +48 22 123 45 68" in out
    numbers = as_json(cli, "numbers", "list", "--account", "acme")
    assert [(n["number"], n["to"]) for n in numbers] == [
        ("+48221234567", None),
        ("+48221234568", None),
    ]


def test_trunks_create_list_show_update_delete(cli: Run) -> None:
    ok(cli, "accounts", "create", "acme")
    ok(cli, "trunks", "create", "--account", "acme", "--name", "provider",
       "--set", "gateway=sip:sip.provider.example", "--set", "username=acme",
       "--set", "password=trunk-pass", "--set", 'inbound_addresses=["198.51.100.10"]')  # fmt: skip
    ok(cli, "trunks", "create", "--account", "acme", "--name", "backup")
    table = ok(cli, "trunks", "list", "--account", "acme")
    assert column(table, "NAME") == ["backup", "provider"]
    assert column(table, "GATEWAY") == ["-", "sip:sip.provider.example"]
    assert column(table, "INBOUND") == ["-", "198.51.100.10"]
    shown = as_json(cli, "trunks", "show", "--account", "acme", "--name", "provider")
    assert shown["settings"]["password"] == "***"
    text = ok(cli, "trunks", "show", "--account", "acme", "--name", "provider")
    assert "trunk-pass" not in text and "settings.password:" in text

    ok(cli, "trunks", "update", "--account", "acme", "--name", "provider",
       "--set", "number_format=national", "--unset", "username")  # fmt: skip
    settings = as_json(cli, "trunks", "show", "--account", "acme", "--name", "provider")["settings"]
    assert settings["number_format"] == "national" and "username" not in settings

    ok(cli, "trunks", "delete", "--account", "acme", "--name", "provider")
    assert [t["name"] for t in as_json(cli, "trunks", "list", "--account", "acme")] == ["backup"]


REFUSED = [
    (("numbers", "create", "+48 22 123 45 67", "--account", "acme"),
     "number +48221234567 already exists"),
    (("numbers", "create", "22x", "--account", "acme"), "'22x' contains 'x'"),
    (("numbers", "create", "12345", "--account", "acme"), "is not a national number"),
    (("numbers", "create", "221234599", "--account", "acme", "--to", "ghost"),
     "no object with login 'ghost' in account acme; see: callvault objects list --account acme"),
    (("objects", "create", "--account", "acme", "--kind", "sip_account", "--login", "ewa",
      "--password", "pw"), "quota sip_accounts reached (1 of 1)"),
    (("objects", "create", "--account", "acme", "--kind", "ivr_api", "--login", "crm",
      "--set", "url=https://crm.example"),
     "does not include the ivr_api add-on; add it: callvault accounts update acme --addon ivr_api"),
    (("objects", "create", "--account", "acme", "--kind", "queue", "--login", "jan"),
     "an object with login 'jan' already exists; pick another one; see: callvault objects list"),
    (("objects", "create", "--account", "acme", "--kind", "queue", "--login", "q",
      "--extension", "101"), "an object with login 'q' or extension '101' already exists"),
    (("objects", "update", "--account", "acme", "--login", "sales", "--name", "x" * 201),
     "object name is 201 characters long; at most 200"),
    (("numbers", "update", "221234567", "--account", "acme", "--label", "x" * 201),
     "label is 201 characters long; at most 200"),
    (("objects", "create", "--account", "acme", "--kind", "sip_account", "--login", "ewa"),
     "a sip_account needs a password: add --password SECRET"),
    (("objects", "create", "--account", "acme", "--kind", "queue", "--login", "q",
      "--set", "colour=red"), "queue has no setting 'colour'; its settings are: members,"),
    (("objects", "update", "--account", "acme", "--login", "sales", "--name", "Sales",
      "--set", "strategy=random"), "queue settings.strategy: Input should be"),
    (("objects", "update", "--account", "acme", "--login", "sales", "--password", "x"),
     "--password is for sip_account objects; sales is a queue"),
    (("objects", "update", "--account", "acme", "--login", "sales"), "nothing to change"),
    (("objects", "show", "--account", "nope", "--login", "jan"),
     "no account 'nope' (see: callvault accounts list)"),
    (("numbers", "update", "221234567", "--account", "acme", "--label", "x", "--to", "ghost"),
     "no object with login 'ghost'"),
    (("accounts", "update", "acme", "--name", "Renamed", "--quota", "phones=3"),
     "unknown quota(s) ['phones']"),
    (("accounts", "create", "acme"), "account 'acme' or SIP domain 'acme' already exists"),
    (("accounts", "delete", "acme"), "account acme still has 2 objects, 1 number, 1 trunk"),
    (("trunks", "create", "--account", "acme", "--name", "provider"),
     "trunk 'provider' already exists"),
    (("trunks", "update", "--account", "acme", "--name", "provider", "--set", "gateway=http://x"),
     "trunk settings.gateway: String should match pattern"),
    (("trunks", "delete", "--account", "acme", "--name", "ghost"),
     "no trunk 'ghost' in account acme; see: callvault trunks list --account acme"),
]  # fmt: skip


@pytest.mark.parametrize(("argv", "message"), REFUSED)
def test_refused_commands_say_why_and_write_nothing(
    cli: Run, argv: tuple[str, ...], message: str
) -> None:
    acme(cli, "--quota", "sip_accounts=1")
    ok(cli, "numbers", "create", "221234567", "--account", "acme", "--to", "jan")
    ok(cli, "trunks", "create", "--account", "acme", "--name", "provider")
    before = snapshot(cli)
    code, out, err = cli(*argv)
    assert (code, out) == (2, "")
    assert err.startswith("error: ") and err.count("\n") == 1, err
    assert message in err
    assert snapshot(cli) == before


def test_quota_reached_is_refused_until_the_plan_is_raised(cli: Run) -> None:
    acme(cli, "--quota", "numbers=1")
    ok(cli, "numbers", "create", "221234567", "--account", "acme")
    before = snapshot(cli)
    code, out, err = cli("numbers", "create", "221234568", "--account", "acme", "--to", "jan")
    assert (code, out) == (2, "")
    assert err == (
        "error: quota numbers reached (1 of 1); "
        "raise it: callvault accounts update acme --quota numbers=N\n"
    )
    assert snapshot(cli) == before
    ok(cli, "accounts", "update", "acme", "--quota", "numbers=2")
    ok(cli, "numbers", "create", "221234568", "--account", "acme", "--to", "jan")


def test_an_account_cannot_see_or_touch_another_accounts_rows(cli: Run) -> None:
    acme(cli)
    ok(cli, "numbers", "create", "221234567", "--account", "acme", "--to", "jan")
    ok(cli, "trunks", "create", "--account", "acme", "--name", "provider")
    ok(cli, "accounts", "create", "beta")
    before = snapshot(cli)
    assert as_json(cli, "objects", "list", "--account", "beta") == []
    assert as_json(cli, "numbers", "list", "--account", "beta") == []
    assert as_json(cli, "trunks", "list", "--account", "beta") == []
    for argv in (
        ("objects", "show", "--account", "beta", "--login", "jan"),
        ("objects", "update", "--account", "beta", "--login", "jan", "--name", "x"),
        ("objects", "delete", "--account", "beta", "--login", "jan", "--force"),
        ("numbers", "create", "221234568", "--account", "beta", "--to", "jan"),
    ):
        code, _, err = cli(*argv)
        assert code == 2 and "no object with login 'jan' in account beta" in err
    for action in ("show", "delete"):
        code, _, err = cli("numbers", action, "221234567", "--account", "beta")
        assert code == 2 and "no number +48221234567 in account beta" in err
    code, _, err = cli("numbers", "update", "221234567", "--account", "beta", "--unassign")
    assert code == 2 and "no number +48221234567 in account beta" in err
    code, _, err = cli("numbers", "create", "22 123 45 67", "--account", "beta")
    assert code == 2 and "number +48221234567 already exists; a number belongs to one" in err
    code, _, err = cli("trunks", "delete", "--account", "beta", "--name", "provider")
    assert code == 2 and "no trunk 'provider' in account beta" in err
    assert snapshot(cli) == before
    # the same login and trunk name are free in another account
    ok(cli, "objects", "create", "--account", "beta", "--kind", "queue", "--login", "jan")
    ok(cli, "trunks", "create", "--account", "beta", "--name", "provider")
    assert as_json(cli, "objects", "show", "--account", "acme", "--login", "jan")["kind"] == (
        "sip_account"
    )
    # deleting an account takes everything it owns, and nothing of the other's
    out = ok(cli, "accounts", "delete", "acme", "--force")
    assert out == "deleted account acme with 2 objects, 1 number, 1 trunk\n"
    assert [a["slug"] for a in as_json(cli, "accounts", "list")] == ["beta"]
    assert [o["login"] for o in as_json(cli, "objects", "list", "--account", "beta")] == ["jan"]
    ok(cli, "numbers", "create", "221234567", "--account", "beta", "--to", "jan")


def test_a_real_process_exits_2_with_one_error_line(database_url: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "callvault.cli.main", "numbers", "list", "--account", "ghost",
         "--db", database_url],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == "error: no account 'ghost' (see: callvault accounts list)\n"


@pytest.mark.parametrize("resource", ["accounts", "numbers", "objects", "trunks"])
def test_help_lists_the_actions_with_an_example(
    resource: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main([resource, "--help"])
    assert exited.value.code == 0
    text = capsys.readouterr().out
    assert all(action in text for action in ("create", "list", "show", "update", "delete"))
    assert f"examples:\n  callvault {resource} create" in text


def test_object_kinds_match_the_model() -> None:
    assert tuple(kind.value for kind in ObjectKind) == KINDS
