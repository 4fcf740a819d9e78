"""Where finished (encrypted) recordings live: a local directory or an S3 bucket.

Both backends speak :class:`RecordingStorage`, an async protocol keyed by
relative paths such as ``acme/2026/11/25/r-01JD5Z.opus.enc``.  Byte ranges are
half-open, ``[start, end)``, like Python slices (an HTTP ``Range: bytes=a-b``
is ``start=a, end=b + 1``); a range past the end is cut short, never an error.
``delete`` of a missing key is not an error either, so retries are safe.
Blocking work (file system, boto3) runs in threads so the event loop that
carries media is never stalled.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import threading
from collections.abc import AsyncIterator, Callable
from pathlib import Path, PurePosixPath
from typing import Any, Protocol, TypeVar

import boto3
from boto3.exceptions import S3UploadFailedError
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

CHUNK = 65536
T = TypeVar("T")


class StorageError(Exception):
    """A storage operation failed."""


class StorageUnavailable(StorageError):
    """The backend could not be reached (down, refused, timed out): retry later."""


class ObjectNotFound(StorageError):
    """No recording is stored under this key."""


class InvalidKey(StorageError, ValueError):
    """The key is not a clean relative path (absolute, ``..``, empty segment...)."""


def validate_key(key: str) -> str:
    """``key`` itself if it is a clean relative POSIX path; else :class:`InvalidKey`."""
    if not key or key.startswith("/") or "\\" in key or "\x00" in key:
        raise InvalidKey(f"invalid recording key {key!r}")
    parts = key.split("/")
    if any(part in ("", ".", "..") for part in parts):
        raise InvalidKey(f"invalid recording key {key!r}")
    return key


def _check_range(start: int, end: int) -> None:
    if start < 0 or end < start:
        raise ValueError(f"invalid byte range [{start}, {end})")


class RecordingStorage(Protocol):
    """The operations the recorder, the outbox and playback need from a store."""

    async def put_file(self, key: str, path: Path) -> None:
        """Store the content of the local file ``path`` under ``key`` (all or nothing)."""

    async def read_range(self, key: str, start: int, end: int) -> bytes:
        """Bytes ``[start, end)`` of the object (fewer at its end)."""

    def iter_range(
        self, key: str, start: int, end: int, chunk: int = CHUNK
    ) -> AsyncIterator[bytes]:
        """Bytes ``[start, end)`` of the object as pieces of at most ``chunk`` bytes."""

    async def size(self, key: str) -> int:
        """Length of the object in bytes."""

    async def delete(self, key: str) -> None:
        """Remove the object; a missing one is fine."""

    async def exists(self, key: str) -> bool:
        """Whether an object is stored under ``key``."""

    async def healthy(self) -> bool:
        """Whether the backend answers and accepts writes, without raising."""


class LocalStorage:
    """Recordings as files under ``root``; writes are temp file + fsync + rename."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)

    def _path(self, key: str) -> Path:
        return self.root.joinpath(*PurePosixPath(validate_key(key)).parts)

    def _put(self, key: str, source: Path) -> None:
        target = self._path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
        try:
            with os.fdopen(fd, "wb") as out, source.open("rb") as src:
                while block := src.read(1 << 20):
                    out.write(block)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        dir_fd = os.open(target.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)

    def _read(self, key: str, start: int, end: int) -> bytes:
        _check_range(start, end)
        try:
            with self._path(key).open("rb") as f:
                f.seek(start)
                return f.read(end - start)
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError) as exc:
            raise ObjectNotFound(key) from exc

    async def put_file(self, key: str, path: Path) -> None:
        """Copy ``path`` to ``root/key`` atomically: readers see the old or the new file."""
        await asyncio.to_thread(self._put, key, Path(path))

    async def read_range(self, key: str, start: int, end: int) -> bytes:
        """Bytes ``[start, end)`` of ``root/key``."""
        return await asyncio.to_thread(self._read, key, start, end)

    async def iter_range(
        self, key: str, start: int, end: int, chunk: int = CHUNK
    ) -> AsyncIterator[bytes]:
        """Bytes ``[start, end)`` of ``root/key``, ``chunk`` bytes per read."""
        _check_range(start, end)
        size = await self.size(key)
        position, end = start, min(end, size)
        while position < end:
            block = await self.read_range(key, position, min(position + chunk, end))
            if not block:
                return
            position += len(block)
            yield block

    async def size(self, key: str) -> int:
        """Size of ``root/key`` in bytes."""
        path = self._path(key)
        try:
            stat = await asyncio.to_thread(path.stat)
        except (FileNotFoundError, NotADirectoryError) as exc:
            raise ObjectNotFound(key) from exc
        return stat.st_size

    async def delete(self, key: str) -> None:
        """Unlink ``root/key`` if it exists."""
        await asyncio.to_thread(self._path(key).unlink, missing_ok=True)

    async def exists(self, key: str) -> bool:
        """Whether ``root/key`` is a file."""
        return await asyncio.to_thread(self._path(key).is_file)

    async def healthy(self) -> bool:
        """Whether ``root`` exists (or can be made) and is writable."""

        def check() -> bool:
            try:
                self.root.mkdir(parents=True, exist_ok=True)
            except OSError:
                return False
            return os.access(self.root, os.W_OK | os.X_OK)

        return await asyncio.to_thread(check)


def _not_found(exc: ClientError) -> bool:
    error = exc.response.get("Error", {})
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return status == 404 or error.get("Code") in ("404", "NoSuchKey", "NoSuchBucket", "NotFound")


class S3Storage:
    """Recordings in an S3 bucket (AWS, SeaweedFS, MinIO...) through boto3 in threads.

    Reads are ranged GETs; uploads go through boto3's ``upload_file``, which
    switches to a multipart upload above ``multipart_threshold`` bytes.  The
    bucket is created on first use when it does not exist.
    """

    def __init__(
        self,
        endpoint_url: str,
        bucket: str,
        access_key: str,
        secret_key: str,
        region: str = "us-east-1",
        *,
        multipart_threshold: int = 16 << 20,
        connect_timeout: float = 3.0,
        read_timeout: float = 30.0,
    ) -> None:
        self.endpoint_url = endpoint_url
        self.bucket = bucket
        self._client = boto3.client(
            "s3",
            endpoint_url=endpoint_url,
            aws_access_key_id=access_key,
            aws_secret_access_key=secret_key,
            region_name=region,
            config=Config(
                connect_timeout=connect_timeout,
                read_timeout=read_timeout,
                retries={"mode": "standard", "max_attempts": 2},
                s3={"addressing_style": "path"},
            ),
        )
        self._transfer = TransferConfig(
            multipart_threshold=multipart_threshold,
            multipart_chunksize=max(5 << 20, multipart_threshold),
            use_threads=False,
        )
        self._bucket_ready = False
        self._bucket_lock = threading.Lock()

    def _ensure_bucket(self) -> None:
        with self._bucket_lock:
            if self._bucket_ready:
                return
            try:
                self._client.head_bucket(Bucket=self.bucket)
            except ClientError as exc:
                if not _not_found(exc):
                    raise
                try:
                    self._client.create_bucket(Bucket=self.bucket)
                except ClientError as create_exc:
                    code = create_exc.response.get("Error", {}).get("Code")
                    if code not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                        raise
            self._bucket_ready = True

    async def _run(self, key: str | None, fn: Callable[..., T], *args: Any, **kw: Any) -> T:
        """Run a boto3 call in a thread, the bucket ensured, errors mapped to ours."""

        def call() -> T:
            self._ensure_bucket()
            return fn(*args, **kw)

        try:
            return await asyncio.to_thread(call)
        except ClientError as exc:
            if key is not None and _not_found(exc):
                raise ObjectNotFound(key) from exc
            raise StorageError(f"S3 {self.endpoint_url}: {exc}") from exc
        except (BotoCoreError, S3UploadFailedError, OSError) as exc:
            raise StorageUnavailable(f"S3 {self.endpoint_url}: {exc}") from exc

    async def put_file(self, key: str, path: Path) -> None:
        """Upload ``path`` (multipart when big); S3 makes the object visible only when done."""
        validate_key(key)
        await self._run(
            None, self._client.upload_file, str(path), self.bucket, key, Config=self._transfer
        )

    async def _get(self, key: str, start: int, end: int) -> Any:
        """The streaming body of a ranged GET, or None for an empty range."""
        validate_key(key)
        _check_range(start, end)
        if start == end:
            await self.size(key)
            return None
        try:
            response = await self._run(
                key,
                self._client.get_object,
                Bucket=self.bucket,
                Key=key,
                Range=f"bytes={start}-{end - 1}",
            )
        except StorageError as exc:
            cause = exc.__cause__
            if isinstance(cause, ClientError) and cause.response.get("Error", {}).get("Code") in (
                "InvalidRange",
                "416",
            ):
                return None  # start at or past the end of the object
            raise
        return response["Body"]

    async def read_range(self, key: str, start: int, end: int) -> bytes:
        """Bytes ``[start, end)`` with one ranged GET."""
        body = await self._get(key, start, end)
        if body is None:
            return b""
        try:
            data: bytes = await asyncio.to_thread(body.read)
        except (BotoCoreError, OSError) as exc:
            raise StorageUnavailable(f"S3 {self.endpoint_url}: {exc}") from exc
        finally:
            body.close()
        return data

    async def iter_range(
        self, key: str, start: int, end: int, chunk: int = CHUNK
    ) -> AsyncIterator[bytes]:
        """Bytes ``[start, end)`` streamed from one ranged GET, ``chunk`` bytes per read."""
        body = await self._get(key, start, end)
        if body is None:
            return
        try:
            while True:
                try:
                    block: bytes = await asyncio.to_thread(body.read, chunk)
                except (BotoCoreError, OSError) as exc:
                    raise StorageUnavailable(f"S3 {self.endpoint_url}: {exc}") from exc
                if not block:
                    return
                yield block
        finally:
            body.close()

    async def size(self, key: str) -> int:
        """``Content-Length`` of a HEAD on the object."""
        validate_key(key)
        head = await self._run(key, self._client.head_object, Bucket=self.bucket, Key=key)
        return int(head["ContentLength"])

    async def delete(self, key: str) -> None:
        """DELETE the object (S3 answers the same whether it existed or not)."""
        validate_key(key)
        await self._run(key, self._client.delete_object, Bucket=self.bucket, Key=key)

    async def exists(self, key: str) -> bool:
        """Whether a HEAD on the object finds it."""
        try:
            await self.size(key)
        except ObjectNotFound:
            return False
        return True

    async def healthy(self) -> bool:
        """Whether the endpoint answers and the bucket exists (or could be created)."""
        try:
            await self._run(None, self._client.head_bucket, Bucket=self.bucket)
        except StorageError:
            return False
        return True
