"""Helpers for end-to-end tests: a real `callvault serve`, SIPp runs, RTP captures.

Everything talks over loopback only.  Processes are always reaped: the
fixtures terminate what they started, even when a test fails.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt
from sqlalchemy import select

from callvault.store.db import Database
from callvault.store.models import CallRecord
from callvault.store.repository import Accounts

SCENARIOS = Path(__file__).resolve().parent / "scenarios"
SIPP_PCAPS = Path("/usr/share/sip-tester")
_rtp_blocks = itertools.count()


def free_port(kind: int = socket.SOCK_DGRAM) -> int:
    """A port free for both UDP and TCP on 127.0.0.1."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.bind(("127.0.0.1", 0))
            port = int(udp.getsockname()[1])
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
                try:
                    tcp.bind(("127.0.0.1", port))
                except OSError:
                    continue
            return port


def rtp_block() -> tuple[int, int]:
    """A distinct RTP port range for each node a test run starts."""
    # below the kernel's ephemeral range, where free_port() picks SIPp's ports
    index = next(_rtp_blocks) % 24
    low = 20000 + index * 500
    return low, low + 499


@dataclass
class Node:
    """A running `callvault serve` process."""

    process: subprocess.Popen[bytes]
    sip_port: int
    http_port: int
    data_dir: Path
    rtp_ports: tuple[int, int]
    log_path: Path
    env: dict[str, str] = field(default_factory=dict)

    @property
    def uri_host(self) -> str:
        return f"127.0.0.1:{self.sip_port}"

    def get(self, path: str) -> object:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.http_port}{path}", timeout=5) as r:
            return json.loads(r.read())

    def live_calls(self) -> list[dict[str, object]]:
        calls = self.get("/api/v1/calls/live")
        assert isinstance(calls, list)
        return calls

    def wait_idle(self, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.live_calls():
                return
            time.sleep(0.1)
        raise AssertionError(f"calls still live after {timeout} s: {self.live_calls()}")

    def traces(self) -> list[list[dict[str, object]]]:
        out = []
        for path in sorted((self.data_dir / "traces").glob("*.jsonl")):
            out.append([json.loads(line) for line in path.read_text().splitlines() if line])
        return out

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                return self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
                return -9
        return int(self.process.returncode)


def start_node(tmp: Path, *, data_dir: Path | None = None, **env_settings: str) -> Node:
    """Start `callvault serve` on free ports and wait until it is ready.

    ``data_dir`` reuses a directory (a restart after a crash); by default each
    node gets a fresh one.
    """
    sip_port, http_port = free_port(), free_port(socket.SOCK_STREAM)
    low, high = rtp_block()
    data_dir = data_dir or tmp / f"node-{sip_port}"
    data_dir.mkdir(parents=True, exist_ok=True)
    log_path = data_dir / f"serve-{sip_port}.log"
    env = dict(os.environ)
    env.update({f"CALLVAULT_{k.upper()}": v for k, v in env_settings.items()})
    command = [
        sys.executable, "-m", "callvault.cli.main", "serve",
        "--sip-host", "127.0.0.1", "--sip-port", str(sip_port),
        "--http-host", "127.0.0.1", "--http-port", str(http_port),
        "--data-dir", str(data_dir), "--rtp-ports", f"{low}-{high}",
    ]  # fmt: skip
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
    node = Node(process, sip_port, http_port, data_dir, (low, high), log_path, env)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"callvault serve exited early:\n{node.log()}")
        if "callvault ready" in node.log():
            try:
                node.get("/healthz")
                return node
            except OSError:
                pass
        time.sleep(0.05)
    node.stop()
    raise AssertionError(f"callvault serve did not become ready:\n{node.log()}")


@dataclass
class SippResult:
    """What a SIPp run left behind."""

    returncode: int
    output: str
    stats: dict[str, str]

    def counter(self, name: str) -> int:
        return int(self.stats.get(name, "0") or 0)


def sipp_command(
    scenario: str,
    target: str,
    *,
    tmp: Path,
    transport: str = "u1",
    calls: int = 1,
    rate: float = 1,
    limit: int | None = None,
    port: int | None = None,
    media_port: int | None = None,
    service: str | None = None,
    variables: dict[str, str] | None = None,
    inf: Path | None = None,
    timeout_s: int = 30,
    local_ip: str = "127.0.0.1",
) -> list[str]:
    name = Path(scenario).stem
    command = [
        "sipp", target, "-sf", str(SCENARIOS / scenario), "-t", transport,
        "-i", local_ip, "-p", str(port or free_port()),
        "-mp", str(media_port or free_port()),
        "-m", str(calls), "-r", str(rate), "-l", str(limit or calls),
        "-timeout", f"{timeout_s}s", "-timeout_error", "-nostdin",
        "-trace_stat", "-stf", str(tmp / f"{name}-stats.csv"), "-fd", "1",
        "-trace_err", "-error_file", str(tmp / f"{name}-errors.log"),
        "-trace_msg", "-message_file", str(tmp / f"{name}-messages.log"),
        "-max_socket", "2000",
    ]  # fmt: skip
    if service:
        command += ["-s", service]
    if inf is not None:
        command += ["-inf", str(inf)]
    for key, value in (variables or {}).items():
        command += ["-set", key, value]
    return command


def render_scenario(tmp: Path, template: str, name: str, **values: object) -> Path:
    """A copy of a scenario with its placeholders (e.g. ``RING_MS``) written in.

    SIPp takes some values only literally (``[authentication]`` credentials,
    ``timeout`` and ``pause`` lengths), so tests write them into a copy; the
    copy's own name also keeps parallel SIPp instances' log files apart.
    """
    text = (SCENARIOS / template).read_text()
    for placeholder, value in values.items():
        text = text.replace(placeholder, str(value))
    path = tmp / f"{name}.xml"
    path.write_text(text)
    return path


def phone_scenario(
    tmp: Path, login: str, domain: str, password: str, *, template: str = "uac_phone_call.xml"
) -> Path:
    """A phone's call scenario with its credentials (login, domain, password) written in."""
    return render_scenario(
        tmp, template, f"{Path(template).stem}-{login}",
        PHONE_LOGIN=login, PHONE_DOMAIN=domain, PHONE_PASSWORD=password,
    )  # fmt: skip


def run_sipp(scenario: str, target: str, *, tmp: Path, **options: object) -> SippResult:
    """Run SIPp to completion; return its exit code, output and final statistics."""
    timeout_s = int(options.get("timeout_s", 30))  # type: ignore[call-overload]
    command = sipp_command(scenario, target, tmp=tmp, **options)  # type: ignore[arg-type]
    completed = subprocess.run(
        command, capture_output=True, timeout=timeout_s + 30, check=False, cwd=tmp
    )
    output = completed.stdout.decode(errors="replace") + completed.stderr.decode(errors="replace")
    return SippResult(
        completed.returncode, output, read_stats(tmp / f"{Path(scenario).stem}-stats.csv")
    )


def start_sipp(
    scenario: str, target: str, *, tmp: Path, **options: object
) -> subprocess.Popen[bytes]:
    """Start SIPp in the background (a UAS the test talks to)."""
    command = sipp_command(scenario, target, tmp=tmp, **options)  # type: ignore[arg-type]
    log = (tmp / f"{Path(scenario).stem}-{options.get('port')}.out").open("wb")
    return subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=tmp)


def start_baresip(
    home: Path,
    node: Node,
    login: str,
    password: str,
    *commands: str,
    seconds: int,
    source: Path,
    rtp_ports: tuple[int, int] = (19100, 19120),
    dump_dir: Path | None = None,
    domain: str = "acme.test",
) -> subprocess.Popen[bytes]:
    """baresip (headless) as ``login``@``domain``'s phone: registers through ``node``, auto-answers.

    ``source`` is the 8 kHz mono WAV it sends (baresip hangs up when it ends);
    ``commands`` run at start (e.g. ``/dial 101``); it quits after ``seconds``.
    With ``dump_dir`` the sndfile module writes what it hears there (``*-dec.wav``).
    """
    home.mkdir(parents=True, exist_ok=True)
    config = [
        "poll_method epoll",
        f"sip_listen 127.0.0.1:{free_port()}",
        f"audio_source aufile,{source}",
        "audio_srate 8000",
        "audio_channels 1",
        f"rtp_ports {rtp_ports[0]}-{rtp_ports[1]}",
        "module_path /usr/lib/baresip/modules",
        "module g711.so",
        "module aufile.so",
        "module_app account.so",
        "module_app menu.so",
    ]
    if dump_dir is not None:
        dump_dir.mkdir(parents=True, exist_ok=True)
        config += ["module sndfile.so", f"snd_path {dump_dir}"]
    (home / "config").write_text("\n".join([*config, ""]))
    (home / "accounts").write_text(
        f'<sip:{login}@{domain}>;auth_pass={password};outbound="sip:127.0.0.1:{node.sip_port}";'
        "regint=60;answermode=auto;audio_codecs=PCMU\n"
    )
    command = ["baresip", "-f", str(home), "-t", str(seconds)]
    for extra in commands:
        command += ["-e", extra]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def read_stats(path: Path) -> dict[str, str]:
    """The last row of SIPp's -trace_stat CSV as a dict."""
    if not path.exists():
        return {}
    lines = [line for line in path.read_text().splitlines() if line.strip()]
    if len(lines) < 2:
        return {}
    names = lines[0].rstrip(";").split(";")
    values = lines[-1].rstrip(";").split(";")
    return dict(zip(names, values, strict=False))


class Capture:
    """tshark (dumpcap) capturing UDP on loopback for given ports."""

    def __init__(self, path: Path, port_filter: str) -> None:
        self.path = path
        self.process = subprocess.Popen(
            ["dumpcap", "-q", "-i", "lo", "-f", port_filter, "-w", str(path)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 10
        while not path.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)

    def stop(self) -> list[tuple[float, int, int, bytes]]:
        time.sleep(0.3)
        self.process.send_signal(signal.SIGINT)
        self.process.wait(timeout=10)
        return read_pcap_udp(self.path)


def read_pcap_udp(path: Path) -> list[tuple[float, int, int, bytes]]:
    """(time, source port, destination port, payload) of each UDP/IPv4 packet in a pcap(ng)."""
    data = path.read_bytes()
    packets: list[tuple[float, int, int, bytes]] = []
    if data[:4] == b"\x0a\x0d\x0d\x0a":
        offset = 0
        link = 1
        units = 1e6  # if_tsresol default: microseconds
        while offset + 12 <= len(data):
            block_type, length = struct.unpack_from("<II", data, offset)
            if length < 12:
                break
            if block_type == 1:
                link = struct.unpack_from("<H", data, offset + 8)[0]
                units = _pcapng_resolution(data[offset + 16 : offset + length - 4])
            elif block_type == 6:
                high, low, captured = struct.unpack_from("<III", data, offset + 12)
                frame = data[offset + 28 : offset + 28 + captured]
                stamp = ((high << 32) | low) / units
                parsed = _udp_of(frame, link)
                if parsed:
                    packets.append((stamp, *parsed))
            offset += length
        return packets
    magic = struct.unpack_from("<I", data)[0]
    endian = "<" if magic in (0xA1B2C3D4, 0xA1B23C4D) else ">"
    link = struct.unpack_from(endian + "I", data, 20)[0]
    offset = 24
    while offset + 16 <= len(data):
        sec, usec, captured, _ = struct.unpack_from(endian + "IIII", data, offset)
        frame = data[offset + 16 : offset + 16 + captured]
        parsed = _udp_of(frame, link)
        if parsed:
            packets.append((sec + usec / 1e6, *parsed))
        offset += 16 + captured
    return packets


def _pcapng_resolution(options: bytes) -> float:
    """Ticks per second from an interface block's if_tsresol option (code 9)."""
    position = 0
    while position + 4 <= len(options):
        code, length = struct.unpack_from("<HH", options, position)
        if code == 0:
            break
        if code == 9 and length >= 1:
            value = options[position + 4]
            return float(2 ** (value & 0x7F) if value & 0x80 else 10**value)
        position += 4 + length + (-length % 4)
    return 1e6


def _udp_of(frame: bytes, link: int) -> tuple[int, int, bytes] | None:
    if link == 1:  # Ethernet (loopback captures use a zeroed Ethernet header)
        if len(frame) < 14 or frame[12:14] != b"\x08\x00":
            return None
        ip = frame[14:]
    elif link in (0, 108):  # BSD loopback
        ip = frame[4:]
    elif link == 113:  # Linux cooked
        ip = frame[16:]
    else:
        ip = frame
    if len(ip) < 20 or ip[0] >> 4 != 4 or ip[9] != 17:
        return None
    header = (ip[0] & 0x0F) * 4
    sport, dport, length = struct.unpack_from("!HHH", ip, header)
    return sport, dport, ip[header + 8 : header + length]


def ulaw_to_float(payload: bytes) -> npt.NDArray[np.float64]:
    """Decode µ-law bytes to floats in [-1, 1]."""
    from callvault.media.g711 import PCMU

    return np.frombuffer(PCMU.decode(payload), dtype="<i2") / 32768.0


def best_correlation(
    haystack: npt.NDArray[np.float64], needle: npt.NDArray[np.float64]
) -> tuple[float, int]:
    """(peak normalised cross-correlation, lag) of ``needle`` inside ``haystack``."""
    if len(haystack) < len(needle):
        haystack = np.concatenate([haystack, np.zeros(len(needle) - len(haystack))])
    n = len(haystack) + len(needle)
    size = 1 << (n - 1).bit_length()
    corr = np.fft.irfft(np.fft.rfft(haystack, size) * np.conj(np.fft.rfft(needle, size)), size)
    corr = corr[: len(haystack) - len(needle) + 1]
    window = np.ones(len(needle))
    energy = np.convolve(haystack**2, window, mode="valid")
    norm = np.sqrt(np.maximum(energy, 1e-12) * float(np.sum(needle**2)))
    scores = corr / norm
    lag = int(np.argmax(scores))
    return float(scores[lag]), lag


async def call_records(url: str) -> list[CallRecord]:
    """Every call record in the database at ``url``, oldest first."""
    db = Database(url)
    async with db.session() as session:
        rows = list(await session.scalars(select(CallRecord).order_by(CallRecord.started_at)))
    await db.close()
    return rows


async def provision_acme(
    url: str, phones: dict[str, tuple[str, str]], *, did_to: str | None = None
) -> None:
    """Migrate ``url`` and create account acme (domain acme.test) with SIP accounts.

    ``phones`` maps login to (extension, password); ``did_to`` points the DID
    +48 22 123 45 67 (label "Google Ads") at one of them.
    """
    db = Database(url)
    await asyncio.to_thread(db.migrate)
    async with db.session() as session:
        accounts = Accounts(session)
        scope = accounts.scope(await accounts.create("acme", "ACME", sip_domain="acme.test"))
        for login, (extension, password) in phones.items():
            await scope.create_object(
                "sip_account", login, extension=extension, settings={"password": password}
            )
        if did_to is not None:
            await scope.add_number("+48 22 123 45 67", target_login=did_to, label="Google Ads")
        await session.commit()
    await db.close()
