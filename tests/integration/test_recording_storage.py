"""Recording storage against the real thing: a directory, and S3 on a real SeaweedFS.

The same tests run on :class:`LocalStorage` and on :class:`S3Storage`
(``tests/seaweed.py`` starts ``weed server -s3`` once per session).  The
outbox tests take S3 away for real -- an endpoint on a closed port, or a
SeaweedFS that is started only after the upload failed -- and check that the
file waits on disk and arrives intact once the storage is back.
"""

from __future__ import annotations

import asyncio
import functools
import os
import secrets
from collections.abc import AsyncIterator
from pathlib import Path

import boto3
import pytest

from callvault.recording.crypto import DataKey, decrypt_range, encrypt_file
from callvault.recording.outbox import Outbox
from callvault.recording.storage import (
    InvalidKey,
    LocalStorage,
    ObjectNotFound,
    RecordingStorage,
    S3Storage,
    StorageUnavailable,
)
from tests.seaweed import SeaweedFS, free_ports, seaweedfs

__all__ = ["seaweedfs"]

BUCKET = "recordings"


def _s3(server: SeaweedFS, bucket: str = BUCKET, multipart_threshold: int = 16 << 20) -> S3Storage:
    return S3Storage(
        server.endpoint_url,
        bucket,
        server.access_key,
        server.secret_key,
        multipart_threshold=multipart_threshold,
    )


def _dead_s3() -> S3Storage:
    (port,) = free_ports(1)
    return S3Storage(f"http://127.0.0.1:{port}", BUCKET, "k", "s", connect_timeout=1.0)


def _key() -> str:
    return f"acme/2026/11/25/r-{secrets.token_hex(4)}.opus.enc"


def _file(directory: Path, data: bytes, name: str = "finished.enc") -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_bytes(data)
    return path


@pytest.fixture(params=["local", "s3"])
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> RecordingStorage:
    if request.param == "local":
        return LocalStorage(tmp_path / "store")
    server: SeaweedFS = request.getfixturevalue("seaweedfs")
    return _s3(server)


async def _collect(chunks: AsyncIterator[bytes]) -> list[bytes]:
    return [chunk async for chunk in chunks]


async def test_put_read_iterate_delete(storage: RecordingStorage, tmp_path: Path) -> None:
    data = os.urandom(300_000)
    key = _key()
    assert not await storage.exists(key)
    await storage.put_file(key, _file(tmp_path / "in", data))
    assert await storage.exists(key)
    assert await storage.size(key) == len(data)

    assert await storage.read_range(key, 0, len(data)) == data
    assert await storage.read_range(key, 1000, 70_000) == data[1000:70_000]
    assert await storage.read_range(key, len(data) - 5, len(data) + 100) == data[-5:]
    assert await storage.read_range(key, len(data) + 10, len(data) + 20) == b""
    assert await storage.read_range(key, 7, 7) == b""

    pieces = await _collect(storage.iter_range(key, 10, 250_010))
    assert b"".join(pieces) == data[10:250_010]
    assert all(len(piece) <= 65536 for piece in pieces) and len(pieces) >= 4
    small = await _collect(storage.iter_range(key, 0, 5000, chunk=1024))
    assert b"".join(small) == data[:5000] and max(map(len, small)) <= 1024

    await storage.put_file(key, _file(tmp_path / "in", b"replaced"))  # overwrite
    assert await storage.read_range(key, 0, 100) == b"replaced"

    await storage.delete(key)
    assert not await storage.exists(key)
    with pytest.raises(ObjectNotFound):
        await storage.size(key)
    with pytest.raises(ObjectNotFound):
        await storage.read_range(key, 0, 10)
    await storage.delete(key)  # deleting twice is fine
    assert await storage.healthy()


BAD_KEYS = ["", "/etc/passwd", "../x", "acme/../../x", "a//b", "a/./b", "a\\b", "acme/"]


@pytest.mark.parametrize("key", BAD_KEYS)
async def test_bad_keys_are_refused(storage: RecordingStorage, tmp_path: Path, key: str) -> None:
    path = _file(tmp_path, b"x")
    with pytest.raises(InvalidKey):
        await storage.put_file(key, path)
    with pytest.raises(InvalidKey):
        await storage.read_range(key, 0, 1)


async def test_local_writes_leave_no_temp_files(tmp_path: Path) -> None:
    store = LocalStorage(tmp_path / "store")
    await store.put_file("acme/a.enc", _file(tmp_path, b"one"))
    await store.put_file("acme/a.enc", _file(tmp_path, b"two"))
    assert sorted(p.name for p in (tmp_path / "store" / "acme").iterdir()) == ["a.enc"]
    assert (tmp_path / "store" / "acme" / "a.enc").read_bytes() == b"two"


async def test_s3_creates_the_bucket_and_uploads_big_files_in_parts(
    seaweedfs: SeaweedFS, tmp_path: Path
) -> None:
    bucket = f"fresh-{secrets.token_hex(3)}"
    store = _s3(seaweedfs, bucket, multipart_threshold=5 << 20)
    data = os.urandom(12 << 20)
    key = _key()
    await store.put_file(key, _file(tmp_path, data))
    client = boto3.client(
        "s3",
        endpoint_url=seaweedfs.endpoint_url,
        aws_access_key_id=seaweedfs.access_key,
        aws_secret_access_key=seaweedfs.secret_key,
        region_name="us-east-1",
    )
    client.head_bucket(Bucket=bucket)  # raises if the bucket was not created
    assert client.head_object(Bucket=bucket, Key=key)["ETag"].strip('"').endswith("-3")
    edge = 5 << 20  # a range across the first part boundary
    assert await store.read_range(key, edge - 100, edge + 100) == data[edge - 100 : edge + 100]
    assert b"".join(await _collect(store.iter_range(key, 0, len(data)))) == data


async def test_encrypted_recording_plays_ranges_from_storage(
    storage: RecordingStorage, tmp_path: Path
) -> None:
    plain = os.urandom(500_000)
    key = DataKey("acme/1", os.urandom(32))
    src, enc = _file(tmp_path, plain, "call.opus"), tmp_path / "call.opus.enc"
    encrypt_file(src, enc, key)
    name = _key()
    await storage.put_file(name, enc)
    reader = functools.partial(storage.read_range, name)
    assert await decrypt_range(reader, 200_000, 300_000, key) == plain[200_000:300_000]
    assert await decrypt_range(reader, 0, 1 << 30, key) == plain


async def test_unreachable_s3_is_unhealthy_and_unavailable(tmp_path: Path) -> None:
    store = _dead_s3()
    assert not await store.healthy()
    with pytest.raises(StorageUnavailable):
        await store.put_file(_key(), _file(tmp_path, b"x"))
    with pytest.raises(StorageUnavailable):
        await store.read_range(_key(), 0, 1)


async def test_outbox_keeps_files_while_s3_is_down_and_across_a_restart(
    seaweedfs: SeaweedFS, tmp_path: Path
) -> None:
    data = os.urandom(200_000)
    key = _key()
    source = _file(tmp_path / "rec", data)
    spool = tmp_path / "outbox"
    down = Outbox(spool, _dead_s3())
    assert await down.submit(key, source) is False
    assert not source.exists()  # the outbox owns the file now
    assert [(p.key, p.size) for p in down.pending()] == [(key, len(data))]
    assert await down.drain_once() == 0
    assert isinstance(down.last_error, StorageUnavailable)

    restarted = Outbox(spool, _s3(seaweedfs))  # a new process: only the directory is left
    assert [p.key for p in restarted.pending()] == [key]
    assert await restarted.drain_once() == 1
    assert restarted.pending() == [] and list(spool.iterdir()) == []
    assert await _s3(seaweedfs).read_range(key, 0, 1 << 20) == data


async def test_outbox_uploads_once_the_server_comes_up(tmp_path: Path) -> None:
    server = SeaweedFS(tmp_path / "late-seaweed")  # ports chosen, process not started
    outbox = Outbox(tmp_path / "outbox", _s3(server))
    files = {_key(): os.urandom(100_000 + i) for i in range(3)}
    for i, (key, data) in enumerate(files.items()):
        assert await outbox.submit(key, _file(tmp_path / "rec", data, f"{i}.enc")) is False
    assert [p.key for p in outbox.pending()] == list(files)
    assert await outbox.drain_once() == 0
    try:
        await asyncio.to_thread(server.start)
        assert await outbox.drain_once() == 3
        assert outbox.pending() == []
        for key, data in files.items():
            assert await _s3(server).read_range(key, 0, 1 << 20) == data
    finally:
        await asyncio.to_thread(server.stop)


async def test_outbox_run_retries_with_backoff(tmp_path: Path) -> None:
    blocker = tmp_path / "store"
    blocker.write_text("a file where the storage directory should be")
    outbox = Outbox(tmp_path / "outbox", LocalStorage(blocker))
    task = asyncio.create_task(outbox.run())
    try:
        assert await outbox.submit("acme/r-1.enc", _file(tmp_path / "rec", b"audio")) is False
        await asyncio.sleep(0.2)
        assert len(outbox.pending()) == 1
        blocker.unlink()  # the storage is back
        async with asyncio.timeout(10):
            while outbox.pending():
                await asyncio.sleep(0.05)
        assert (blocker / "acme" / "r-1.enc").read_bytes() == b"audio"
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
