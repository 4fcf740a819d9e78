"""The ``callvault`` command line."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Coroutine, Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from callvault import __version__
from callvault.cli.admin import RESOURCES, add_admin_parsers
from callvault.cli.keys import add_keys_parser
from callvault.cli.recordings import add_recordings_parser
from callvault.cli.rules import add_rules_parser
from callvault.cli.users import add_users_parsers
from callvault.config import load_settings, parse_port_range


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="callvault",
        description="callvault: self-hostable platform for company calls.",
    )
    parser.add_argument("--version", action="version", version=f"callvault {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    serve = sub.add_parser(
        "serve",
        help="run a node: SIP (UDP+TCP), RTP, HTTP",
        description="Run a callvault node on the embedded defaults (SQLite, local disk). "
        "Every option can also be set as CALLVAULT_<NAME> in the environment or in --config.",
    )
    serve.add_argument("--config", type=Path, help="TOML settings file")
    serve.add_argument("--sip-host", help="SIP listen address (default 0.0.0.0)")
    serve.add_argument("--sip-port", type=int, help="SIP port, UDP and TCP (default 5060)")
    serve.add_argument("--http-host", help="HTTP listen address (default 127.0.0.1)")
    serve.add_argument("--http-port", type=int, help="HTTP port (default 8080)")
    serve.add_argument("--data-dir", type=Path, help="data directory (default ./data)")
    serve.add_argument("--rtp-ports", help="RTP port range LOW-HIGH (default 20000-29999)")
    serve.add_argument("--public-address", help="address to advertise in SIP/SDP (NAT)")
    serve.add_argument("--log-level", help="DEBUG, INFO, WARNING (default INFO)")

    call = sub.add_parser(
        "call",
        help="place a test call (send DTMF, record what is heard)",
        description="Dial a SIP URI with callvault's own client, e.g. "
        "'callvault call sip:101@127.0.0.1 --dtmf 42# --record heard.wav'.",
    )
    call.add_argument("uri", help="SIP URI to call, e.g. sip:101@127.0.0.1:5060")
    call.add_argument("--dtmf", default="", help="digits to send after the answer (RFC 4733)")
    call.add_argument("--record", type=Path, help="write what is heard to this WAV file")
    call.add_argument("--duration", type=float, default=30.0, help="hang up after N s (default 30)")
    call.add_argument("--dtmf-delay", type=float, default=1.5, help="wait N s before DTMF")
    call.add_argument("--from-user", default="cli", help="user part of our From")
    call.add_argument("--auth", help="USER:PASSWORD for digest authentication")

    apply = sub.add_parser(
        "apply",
        help="create or update a whole account from a TOML file (idempotent)",
        description="Make the database match an account file: plan, objects, numbers, "
        "trunks (format: docs/apply-format.md). One transaction: on any error nothing "
        "is written. Running it again reports no changes.",
    )
    apply.add_argument("file", type=Path, help="account file, e.g. acme.toml")
    apply.add_argument("--dry-run", action="store_true", help="show what would change")
    apply.add_argument("--db", help="database URL (default: settings, ./data/callvault.db)")

    prompts = sub.add_parser(
        "prompts",
        help="an account's prompt library (WAV of any rate/width, converted to 8 kHz mono)",
    )
    prompts_sub = prompts.add_subparsers(dest="prompts_command", metavar="ACTION", required=True)
    for action, text in (
        ("add", "upload a WAV as NAME"),
        ("list", "list prompts"),
        ("delete", "delete prompt NAME"),
        ("export", "write prompt NAME to a WAV file"),
    ):
        sub_parser = prompts_sub.add_parser(action, help=text)
        sub_parser.add_argument("account", help="account slug")
        if action != "list":
            sub_parser.add_argument("name", help="prompt name")
        if action in ("add", "export"):
            sub_parser.add_argument("file", type=Path, help="WAV file")
        sub_parser.add_argument("--db", help="database URL (default: settings)")

    add_admin_parsers(sub)
    add_rules_parser(sub)
    add_recordings_parser(sub)
    add_users_parsers(sub)
    add_keys_parser(sub)
    _add_ivr_parsers(sub)
    _add_calls_parsers(sub)

    db = sub.add_parser("db", help="database maintenance")
    db_sub = db.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    migrate = db_sub.add_parser("migrate", help="apply schema migrations")
    migrate.add_argument("--db", help="database URL (default: settings, ./data/callvault.db)")
    return parser


_DB_HELP = "database URL (default: CALLVAULT_DATABASE_URL, else ./data/callvault.db)"


def _add_ivr_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``callvault ivr simulate``: an IVR API application driven by a simulated call."""
    ivr = sub.add_parser(
        "ivr",
        help="IVR API tools for integrators (simulate a call against an app)",
        description="Tools for IVR API applications (shared/spec/ivr-api.md). "
        "Run 'callvault ivr simulate --help' for the options.",
    )
    ivr_sub = ivr.add_subparsers(dest="ivr_command", metavar="ACTION", required=True)
    simulate = ivr_sub.add_parser(
        "simulate",
        help="run the real IVR loop against an app URL with a simulated caller",
        description="Drive an IVR API application exactly as the platform does (signed\n"
        "requests, timeouts, error numbers, fallback), with a simulated caller instead of\n"
        "a phone: --dtmf entries are the keys pressed at each GetDTMF, --call-status the\n"
        "outcomes of Call* actions. Prints each request and response as a timeline, what\n"
        "the caller would hear, and a summary. Rings, waits and digit timeouts are not\n"
        "really waited. Exit code 0 when the app hung up, 1 when the fallback ended the\n"
        "call (an error), 2 for unusable options.",
        epilog="examples:\n"
        "  callvault ivr simulate --url http://127.0.0.1:8000/ivr --dtmf 1234 --call-status Busy\n"
        "  callvault ivr simulate --url https://app.example/ivr --secret whsec_1 --dtmf 12# ''\n"
        "  callvault ivr simulate --url http://127.0.0.1:8000/ivr --json | jq .kind\n"
        "  callvault ivr simulate --url http://127.0.0.1:8000/ivr --replay c-01JD... --db URL\n"
        "\nAt each GetDTMF the next --dtmf entry is pressed: '12#' gives \"12\" (finishkey),\n"
        "'1234' with MaxDigits 4 gives maxdigits (longer entries are cut), an empty entry\n"
        'or none left gives "" (timeout).',
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    simulate.add_argument("--url", required=True, help="the application's URL (http or https)")
    simulate.add_argument("--from", dest="from_number", metavar="N", help="caller's number")
    simulate.add_argument("--to", dest="to_number", metavar="N", help="called number")
    simulate.add_argument(
        "--dtmf",
        action="extend",
        nargs="+",
        metavar="ENTRY",
        help="keys pressed at each GetDTMF, in order (0-9 * #; '' for none); repeatable",
    )
    simulate.add_argument(
        "--call-status",
        action="extend",
        nargs="+",
        metavar="STATUS",
        help="outcome of each Call* action: Answer (default), Busy, Noanswer, Cancel, Error",
    )
    simulate.add_argument(
        "--secret",
        action="append",
        metavar="S",
        help="signing secret for X-Signature (up to two, as during rotation)",
    )
    simulate.add_argument("--hash", metavar="H", help="static Hash sent in every request (v1)")
    simulate.add_argument(
        "--timeout-ms", type=int, default=5000, metavar="MS", help="app timeout (default 5000)"
    )
    simulate.add_argument(
        "--insecure", action="store_true", help="skip TLS certificate checks (testing only)"
    )
    simulate.add_argument("--ca-file", metavar="PEM", help="trust this CA instead of public ones")
    simulate.add_argument(
        "--auto-answer-s",
        type=float,
        default=0,
        metavar="N",
        help="answer after N s of (simulated) ringing; 0: the app answers (default)",
    )
    simulate.add_argument(
        "--max-requests", type=int, default=100, metavar="N", help="loop guard (default 100)"
    )
    simulate.add_argument("--json", action="store_true", help="print trace entries as JSON lines")
    simulate.add_argument(
        "--replay",
        metavar="UNIQUECALLID",
        help="replay a stored call's caller side (numbers, keys, call statuses); "
        "--from/--to/--dtmf/--call-status given too override it",
    )
    simulate.add_argument("--db", metavar="URL", help=_DB_HELP + "; with --replay")


def _add_calls_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``callvault calls trace``: a stored call's IVR trace."""
    calls = sub.add_parser(
        "calls",
        help="recorded calls (show a call's IVR API trace)",
        description="Calls as recorded. Run 'callvault calls trace --help' for the options.",
    )
    calls_sub = calls.add_subparsers(dest="calls_command", metavar="ACTION", required=True)
    trace = calls_sub.add_parser(
        "trace",
        help="show a call's IVR API trace: requests, responses, timings, errors, fallback",
        description="Show the IVR API trace stored with a call: a header (numbers,\n"
        "disposition, tags), then one line per entry with its time offset from the first,\n"
        "its kind and a summary (request event and Session, response status, time and\n"
        "actions, error number and message, fallback).",
        epilog="examples:\n"
        "  callvault calls trace c-01JD...\n"
        "  callvault calls trace c-01JD... --json > trace.json\n"
        "  callvault ivr simulate --url http://127.0.0.1:8000/ivr --replay c-01JD...",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    trace.add_argument("call_id", metavar="UNIQUECALLID", help="the call's id (UniqueCallId)")
    trace.add_argument("--db", metavar="URL", help=_DB_HELP)
    trace.add_argument("--json", action="store_true", help="print the stored trace as JSON")


def _run(coro: Coroutine[Any, Any, int], use_uvloop: bool) -> int:
    if use_uvloop:
        try:
            import uvloop

            return int(uvloop.run(coro))
        except ImportError:
            pass
    return asyncio.run(coro)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``callvault`` console script."""
    parser = _build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    if args.command == "serve":
        return _serve(args)
    if args.command == "call":
        return _call(args)
    if args.command == "apply":
        from callvault.cli.manage import apply_file

        return asyncio.run(apply_file(args.file, url=args.db, dry_run=args.dry_run))
    if args.command == "prompts":
        from callvault.cli.manage import prompts_command

        return asyncio.run(
            prompts_command(
                args.prompts_command,
                args.account,
                getattr(args, "name", None),
                getattr(args, "file", None),
                url=args.db,
            )
        )
    if args.command in RESOURCES:
        from callvault.cli.admin import run_admin

        return run_admin(args)
    if args.command in ("ivr", "calls"):
        from callvault.cli.calls import run_calls

        return run_calls(args)
    if args.command == "rules":
        from callvault.cli.rules import run_rules

        return run_rules(args)
    if args.command == "recording-key":
        from callvault.cli.keys import run_keys

        return run_keys(args)
    if args.command == "recordings":
        from callvault.cli.recordings import run_recordings

        return run_recordings(args)
    if args.command in ("users", "tokens"):
        from callvault.cli.users import run_users

        return run_users(args)
    if args.command == "db":
        from callvault.cli.manage import migrate

        return asyncio.run(migrate(args.db))
    parser.error(f"unknown command {args.command}")
    return 2


def _serve(args: argparse.Namespace) -> int:
    from callvault.cli.serve import run_node

    overrides: dict[str, Any] = {
        "sip_host": args.sip_host,
        "sip_port": args.sip_port,
        "http_host": args.http_host,
        "http_port": args.http_port,
        "data_dir": args.data_dir,
        "public_address": args.public_address,
        "log_level": args.log_level,
    }
    try:
        if args.rtp_ports:
            overrides["rtp_port_min"], overrides["rtp_port_max"] = parse_port_range(args.rtp_ports)
        settings = load_settings(args.config, **overrides)
    except (ValidationError, ValueError, OSError) as exc:
        print(f"callvault: invalid settings:\n{exc}", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    return _run(run_node(settings), settings.use_uvloop)


def _call(args: argparse.Namespace) -> int:
    from callvault.cli.call import place_call

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    credentials = None
    if args.auth:
        user, sep, password = args.auth.partition(":")
        if not sep:
            print("callvault call: --auth wants USER:PASSWORD", file=sys.stderr)
            return 2
        credentials = (user, password)
    return _run(
        place_call(
            args.uri,
            dtmf=args.dtmf,
            record=args.record,
            duration_s=args.duration,
            from_user=args.from_user,
            dtmf_delay_s=args.dtmf_delay,
            credentials=credentials,
        ),
        use_uvloop=True,
    )


if __name__ == "__main__":
    sys.exit(main())
