"""IVR API platform overhead per action, measured at a zero-latency application.

A real ``callvault serve`` node routes SIPp calls to an IVR API object whose
URL is a minimal HTTP/1.1 server in this process.  The app answers
``Connected`` with ``Answer`` and then ``Tag`` actions (which take no time on
the call) for ``--rounds`` requests, then ``Hangup``.  For each zero-time
action the overhead is the time from the app writing its response to the
next request arriving: the node's HTTP client, validation, the action, the
trace and loopback TCP both ways.  Run::

    .venv/bin/python benchmarks/bench_ivr_overhead.py --calls 1 --rounds 500
    .venv/bin/python benchmarks/bench_ivr_overhead.py --calls 20 --rounds 200
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from callvault.store.db import Database
from callvault.store.repository import Accounts

ROOT = Path(__file__).resolve().parents[1]
CALLER = ROOT / "tests" / "e2e" / "scenarios" / "uac_wait_bye.xml"


def free_port(kind: int = socket.SOCK_DGRAM) -> int:
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ZeroLatencyApp:
    """A keep-alive HTTP/1.1 server answering IVR requests from memory, with timestamps."""

    def __init__(self, rounds: int) -> None:
        self.rounds = rounds
        self.sent_at: dict[str, int] = {}
        self.gaps_ns: list[int] = []
        self.requests = 0

    def respond(self, body: dict[str, object]) -> dict[str, object]:
        request = body["request"]
        assert isinstance(request, dict)
        event = request["Event"]
        assert isinstance(event, dict)
        name = event["EventName"]
        if name == "Connected":
            return {"Action": {"Type": "Answer"}, "Session": 0}
        count = int(str(request["Session"] or 0))
        if count >= self.rounds:
            return {"Action": {"Type": "Hangup"}}
        return {"Action": {"Type": "Tag", "Data": {"n": count}}, "Session": count + 1}

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except (asyncio.IncompleteReadError, ConnectionError):
                break
            arrived = time.perf_counter_ns()
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            body = json.loads(await reader.readexactly(length))
            call_id = body["request"]["UniqueCallId"]
            if body["request"]["Event"]["EventName"] == "Tag" and call_id in self.sent_at:
                self.gaps_ns.append(arrived - self.sent_at[call_id])
            self.requests += 1
            payload = json.dumps(self.respond(body)).encode()
            writer.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                + f"Content-Length: {len(payload)}\r\n\r\n".encode() + payload
            )  # fmt: skip
            await writer.drain()
            self.sent_at[call_id] = time.perf_counter_ns()
        writer.close()


async def provision(url: str, app_url: str) -> None:
    db = Database(url)
    await asyncio.to_thread(db.migrate)
    async with db.session() as session:
        accounts = Accounts(session)
        scope = accounts.scope(
            await accounts.create("bench", "Bench", plan={"addons": ["ivr_api"]})
        )
        await scope.create_object("ivr_api", "app", settings={
            "url": app_url, "timeout_ms": 5000, "max_requests": 10000, "notify_hangup": False,
        })  # fmt: skip
        await scope.add_number("221234599", target_login="app")
        await session.commit()
    await db.close()


async def main(args: argparse.Namespace) -> None:
    app = ZeroLatencyApp(args.rounds)
    http_port = free_port(socket.SOCK_STREAM)
    server = await asyncio.start_server(app.handle, "127.0.0.1", http_port)
    tmp = Path(tempfile.mkdtemp(prefix="cv-bench-ivr-"))
    url = f"sqlite:///{tmp / 'bench.db'}"
    await provision(url, f"http://127.0.0.1:{http_port}/ivr")
    sip_port = free_port()
    env = dict(os.environ, CALLVAULT_DATABASE_URL=url,
               CALLVAULT_IVR_ALLOW_NETWORKS='["127.0.0.0/8"]')  # fmt: skip
    node = subprocess.Popen(
        [sys.executable, "-m", "callvault.cli.main", "serve", "--sip-host", "127.0.0.1",
         "--sip-port", str(sip_port), "--http-port", str(free_port(socket.SOCK_STREAM)),
         "--data-dir", str(tmp), "--rtp-ports", "30000-31999", "--log-level", "WARNING"],
        env=env, stderr=subprocess.PIPE,
    )  # fmt: skip
    assert node.stderr is not None
    while b"callvault ready" not in node.stderr.readline():
        pass
    sipp = await asyncio.create_subprocess_exec(
        "sipp", f"127.0.0.1:{sip_port}", "-sf", str(CALLER), "-s", "221234599",
        "-i", "127.0.0.1", "-p", str(free_port()), "-m", str(args.calls),
        "-l", str(args.calls), "-r", str(args.calls), "-timeout", "300s", "-nostdin",
        "-trace_err", cwd=tmp,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    await sipp.wait()
    node.terminate()
    node.wait(timeout=20)
    server.close()
    gaps = sorted(g / 1e6 for g in app.gaps_ns)
    if not gaps:
        raise SystemExit("no measurements: did the calls reach the app?")

    def pct(p: float) -> float:
        return gaps[min(len(gaps) - 1, int(p / 100 * len(gaps)))]

    print(f"calls={args.calls} rounds/call={args.rounds} actions measured={len(gaps)} "
          f"sipp exit={sipp.returncode}")  # fmt: skip
    print(f"overhead per zero-time action (ms): p50={pct(50):.3f} p95={pct(95):.3f} "
          f"p99={pct(99):.3f} max={gaps[-1]:.3f} mean={statistics.fmean(gaps):.3f}")  # fmt: skip


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=1, help="concurrent calls")
    parser.add_argument("--rounds", type=int, default=500, help="Tag actions per call")
    asyncio.run(main(parser.parse_args()))
