"""Load the call engine with SIPp and measure what BENCHMARKS.md reports.

The node runs pinned to CPU 0 (``taskset -c 0``), SIPp and the capture to
CPU 1.  Modes:

- ``play N``: N concurrent calls, each hearing a prompt (one packet every
  20 ms from the shared clock); the packets we send are captured and
  analysed per SSRC: interval p50/p99/max and sequence gaps.
- ``bridge N``: N concurrent bridged calls, SIPp talking on both sides;
  both directions are analysed.
- ``cps R``: R new calls per second for ``--seconds``, each lasting 1 s;
  SIPp counts failures.

Every run prints progress and writes JSON to ``benchmarks/results/``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SCENARIOS = HERE / "scenarios"
RESULTS = HERE / "results"
sys.path.insert(0, str(ROOT))

from tests.e2e.harness import free_port, read_pcap_udp, read_stats  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class Result:
    """One benchmark run."""

    mode: str
    load: float
    loop: str
    calls_ok: int = 0
    calls_failed: int = 0
    cpu_percent: float = 0.0
    rss_idle_mb: float = 0.0
    rss_loaded_mb: float = 0.0
    kb_per_call: float = 0.0
    streams: int = 0
    packets: int = 0
    lost: int = 0
    interval_ms: dict[str, float] = field(default_factory=dict)
    within_20_2ms_p99: bool = False
    source_interval_ms: dict[str, float] = field(default_factory=dict)


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def start_node(
    sip_port: int, *, uvloop: bool, work: Path, bridge_uri: str = ""
) -> subprocess.Popen[bytes]:
    command = [
        "taskset",
        "-c",
        "0",
        sys.executable,
        str(HERE / "bench_node.py"),
        "--sip-port",
        str(sip_port),
        "--rtp-low",
        "20000",
        "--rtp-high",
        "29999",
    ]
    if bridge_uri:
        command += ["--bridge-uri", bridge_uri]
    if not uvloop:
        command.append("--no-uvloop")
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    log_path = work / f"node-{sip_port}.log"
    # a file, not a pipe: a full pipe would stall the node on its next log line
    node = subprocess.Popen(command, stdout=log_path.open("wb"), stderr=subprocess.STDOUT, env=env)
    deadline = time.monotonic() + 15
    while "ready" not in log_path.read_text(errors="replace"):
        if node.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"bench node did not start:\n{log_path.read_text(errors='replace')}")
        time.sleep(0.05)
    return node


def sipp(
    scenario: str,
    target: str,
    work: Path,
    *,
    port: int,
    media_port: int,
    calls: int,
    rate: float,
    limit: int,
    duration_ms: int = 0,
    service: str = "",
    background: bool = False,
) -> subprocess.Popen[bytes]:
    command = [
        "taskset",
        "-c",
        "1",
        "sipp",
        "-sf",
        str(SCENARIOS / scenario),
        "-i",
        "127.0.0.1",
        "-p",
        str(port),
        "-mp",
        str(media_port),
        "-m",
        str(calls),
        "-r",
        str(rate),
        "-l",
        str(limit),
        "-nostdin",
        "-trace_stat",
        "-stf",
        str(work / f"{Path(scenario).stem}.csv"),
        "-fd",
        "1",
        "-max_socket",
        "5000",
        "-timeout",
        "120s",
    ]
    if target:
        command.insert(4, target)  # after: taskset -c 1 sipp
    if duration_ms:
        command += ["-d", str(duration_ms)]
    if service:
        command += ["-s", service]
    log = (work / f"{Path(scenario).stem}.log").open("wb")
    return subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=work)


def write_pcma_pcap(path: Path, seconds: float) -> None:
    """A capture of PCMA RTP at 20 ms packets for SIPp's play_pcap_audio (pcap, Ethernet)."""
    import struct

    from callvault.demo import sounds
    from callvault.media.g711 import PCMA
    from callvault.media.wav import load_wav_8k

    audio = PCMA.encode(load_wav_8k(sounds.path("greeting")))
    frames = int(seconds * 50)
    out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)]
    for i in range(frames):
        start = (i * 160) % (len(audio) - 160)
        rtp = (
            struct.pack("!BBHII", 0x80, 8, i & 0xFFFF, i * 160, 0x1234) + audio[start : start + 160]
        )
        udp = struct.pack("!HHHH", 6000, 6002, 8 + len(rtp), 0) + rtp
        ip = (
            struct.pack(
                "!BBHHHBBH4s4s",
                0x45,
                0,
                20 + len(udp),
                i & 0xFFFF,
                0,
                64,
                17,
                0,
                bytes([127, 0, 0, 1]),
                bytes([127, 0, 0, 1]),
            )
            + udp
        )
        frame = b"\x00" * 12 + b"\x08\x00" + ip
        stamp = 1_700_000_000 * 1_000_000 + i * 20_000
        out.append(
            struct.pack("<IIII", stamp // 1_000_000, stamp % 1_000_000, len(frame), len(frame))
        )
        out.append(frame)
    path.write_bytes(b"".join(out))


def analyse(pcap: Path, ports: set[int], window: tuple[float, float]) -> dict[str, object]:
    """Per-stream send intervals and sequence gaps of the packets inside ``window``."""
    streams: dict[tuple[int, bytes], list[tuple[float, int]]] = {}
    for stamp, _sport, dport, payload in read_pcap_udp(pcap):
        if dport not in ports or len(payload) < 12 or not window[0] <= stamp <= window[1]:
            continue
        seq = int.from_bytes(payload[2:4], "big")
        # (destination port, SSRC): replayed captures reuse one SSRC for every call
        streams.setdefault((dport, payload[8:12]), []).append((stamp, seq))
    intervals: list[float] = []
    lost = 0
    packets = 0
    for entries in streams.values():
        packets += len(entries)
        for (t0, s0), (t1, s1) in itertools.pairwise(entries):
            intervals.append((t1 - t0) * 1000)
            gap = (s1 - s0) & 0xFFFF
            if gap > 1:
                lost += gap - 1
    intervals.sort()

    def pct(p: float) -> float:
        return (
            round(intervals[min(len(intervals) - 1, int(p * len(intervals)))], 2)
            if intervals
            else 0.0
        )

    return {
        "streams": len(streams),
        "packets": packets,
        "lost": lost,
        "interval_ms": {
            "p50": pct(0.5),
            "p99": pct(0.99),
            "max": round(intervals[-1], 2) if intervals else 0.0,
            "mean": round(statistics.fmean(intervals), 2) if intervals else 0.0,
        },
    }


def run_concurrent(
    mode: str, calls: int, *, uvloop: bool, hold_s: int, work: Path, source_jitter: bool = False
) -> Result:
    result = Result(mode, calls, "uvloop" if uvloop else "asyncio")
    sip_port, caller_media = free_port(), free_port()
    callee_port, callee_media = free_port(), free_port()
    callee = None
    bridge_uri = f"sip:callee@127.0.0.1:{callee_port}" if mode == "bridge" else ""
    node = start_node(sip_port, uvloop=uvloop, work=work, bridge_uri=bridge_uri)
    try:
        time.sleep(0.5)
        result.rss_idle_mb = rss_mb(node.pid)
        media_ports = {caller_media}
        if mode == "bridge":
            media_ports.add(callee_media)
            callee = sipp(
                "bench_uas_talk.xml",
                "",
                work,
                port=callee_port,
                media_port=callee_media,
                calls=calls,
                rate=1000,
                limit=calls,
            )
            scenario, duration = "bench_uac_talk.xml", 0
        else:
            scenario, duration = "bench_uac_silent.xml", hold_s * 1000
        pcap = work / f"{mode}-{calls}.pcapng"
        port_filter = " or ".join(f"dst port {p}" for p in media_ports)
        if mode == "bridge" and source_jitter:
            # also what SIPp sends us: the relay cannot be smoother than that
            port_filter += " or dst portrange 20000-29999"
        capture = subprocess.Popen(
            [
                "taskset",
                "-c",
                "1",
                "dumpcap",
                "-q",
                "-i",
                "lo",
                "-B",
                "64",
                "-s",
                "64",
                "-f",
                f"udp and ({port_filter})",
                "-w",
                str(pcap),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(1.0)
        ramp = min(200.0, calls / 2)
        caller = sipp(
            scenario,
            f"127.0.0.1:{sip_port}",
            work,
            port=free_port(),
            media_port=caller_media,
            calls=calls,
            rate=ramp,
            limit=calls,
            duration_ms=duration,
            service=mode if mode == "play" else "bridge",
        )
        ramp_s = calls / ramp + 2
        print(f"[{mode} {calls}] ramping up for {ramp_s:.0f} s", file=sys.stderr)
        time.sleep(ramp_s)
        steady = 8.0
        cpu0, wall0 = cpu_seconds(node.pid), time.time()
        time.sleep(steady)
        cpu1, wall1 = cpu_seconds(node.pid), time.time()
        result.cpu_percent = round(100 * (cpu1 - cpu0) / (wall1 - wall0), 1)
        result.rss_loaded_mb = rss_mb(node.pid)
        result.kb_per_call = round(1024 * (result.rss_loaded_mb - result.rss_idle_mb) / calls, 1)
        print(
            f"[{mode} {calls}] steady window measured; waiting for the calls to end",
            file=sys.stderr,
        )
        caller.wait(timeout=120)
        if callee is not None:
            callee.wait(timeout=60)
        capture.terminate()
        capture.wait(timeout=10)
        stats = read_stats(work / f"{Path(scenario).stem}.csv")
        result.calls_ok = int(stats.get("SuccessfulCall(C)", "0") or 0)
        result.calls_failed = int(stats.get("FailedCall(C)", "0") or 0)
        analysis = analyse(pcap, media_ports, (wall0, wall1))
        result.streams = int(analysis["streams"])  # type: ignore[call-overload]
        result.packets = int(analysis["packets"])  # type: ignore[call-overload]
        result.lost = int(analysis["lost"])  # type: ignore[call-overload]
        result.interval_ms = analysis["interval_ms"]  # type: ignore[assignment]
        result.within_20_2ms_p99 = 18.0 <= result.interval_ms.get("p99", 0) <= 22.0
        if mode == "bridge" and source_jitter:
            sources = analyse(pcap, set(range(20000, 30000)), (wall0, wall1))
            result.source_interval_ms = sources["interval_ms"]  # type: ignore[assignment]
        pcap.unlink(missing_ok=True)
    finally:
        node.terminate()
        try:
            node.wait(timeout=20)
        except subprocess.TimeoutExpired:
            print(f"[{mode} {calls}] node did not stop in 20 s; killed", file=sys.stderr)
            node.kill()
            node.wait()
        if callee is not None and callee.poll() is None:
            callee.kill()
    return result


def run_cps(rate: float, *, uvloop: bool, seconds: int, work: Path) -> Result:
    result = Result("cps", rate, "uvloop" if uvloop else "asyncio")
    sip_port = free_port()
    node = start_node(sip_port, uvloop=uvloop, work=work)
    try:
        total = int(rate * seconds)
        caller = sipp(
            "bench_uac_silent.xml",
            f"127.0.0.1:{sip_port}",
            work,
            port=free_port(),
            media_port=free_port(),
            calls=total,
            rate=rate,
            limit=int(rate * 3),
            duration_ms=1000,
            service="short",
        )
        time.sleep(3)
        cpu0, wall0 = cpu_seconds(node.pid), time.time()
        print(f"[cps {rate}] {total} calls over {seconds} s", file=sys.stderr)
        caller.wait(timeout=seconds + 120)
        cpu1, wall1 = cpu_seconds(node.pid), time.time()
        result.cpu_percent = round(100 * (cpu1 - cpu0) / (wall1 - wall0), 1)
        stats = read_stats(work / "bench_uac_silent.csv")
        result.calls_ok = int(stats.get("SuccessfulCall(C)", "0") or 0)
        result.calls_failed = int(stats.get("FailedCall(C)", "0") or 0)
    finally:
        node.terminate()
        node.wait(timeout=20)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("mode", choices=["play", "bridge", "cps"])
    parser.add_argument("loads", type=float, nargs="+", help="calls (play/bridge) or calls/s (cps)")
    parser.add_argument("--no-uvloop", action="store_true", help="plain asyncio in the node")
    parser.add_argument("--hold", type=int, default=20, help="seconds each playing call lasts")
    parser.add_argument("--seconds", type=int, default=30, help="length of a cps run")
    parser.add_argument(
        "--source-jitter", action="store_true", help="bridge: also capture what SIPp sends us"
    )
    args = parser.parse_args(argv)
    RESULTS.mkdir(exist_ok=True)
    work = RESULTS / f"{args.mode}-{int(time.time())}"
    work.mkdir()
    write_pcma_pcap(work / "pcma_20ms.pcap", 7.0)
    results = []
    for load in args.loads:
        if args.mode == "cps":
            result = run_cps(load, uvloop=not args.no_uvloop, seconds=args.seconds, work=work)
        else:
            result = run_concurrent(
                args.mode,
                int(load),
                uvloop=not args.no_uvloop,
                hold_s=args.hold,
                work=work,
                source_jitter=args.source_jitter,
            )
        print(json.dumps(asdict(result)), flush=True)
        results.append(asdict(result))
    (work / "results.json").write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
