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

    db = sub.add_parser("db", help="database maintenance")
    db_sub = db.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    migrate = db_sub.add_parser("migrate", help="apply schema migrations")
    migrate.add_argument("--db", help="database URL (default: settings, ./data/callvault.db)")
    return parser


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
