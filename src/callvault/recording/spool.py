"""Crash-safe capture spool: the raw audio of a recording while the call lasts.

A spool is an append-only file.  Its first line is a JSON header
(``magic``, ``version``, ``call_id``, ``recording_id``, ``sample_rate``,
``started_at``); after it come records, each a 7-byte head and a payload::

    [1 byte kind][4 bytes sample offset since start, big-endian][2 bytes payload length]

Kinds ``0`` and ``1`` are audio of one direction (0 = the caller, 1 = the
other side) whose payload is 16-bit little-endian PCM at ``sample_rate``;
``0xFF`` (pause), ``0xFE`` (resume) and ``0xFD`` (close; a non-zero offset
extends the recording past its last frame) are markers without payload.  A spool without a close
marker was not closed cleanly: the process crashed or was killed.

:class:`SpoolWriter` buffers records in memory and writes + fsyncs them at
least once a second, so a crash loses at most the last second of audio.
:func:`scan_spool` indexes a spool without loading its audio (what the
finisher uses); :func:`read_spool` returns the frames themselves.  Both stop
at a truncated or damaged tail instead of failing.
"""

from __future__ import annotations

import json
import mmap
import os
import struct
import time
from array import array
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

MAGIC = "callvault-spool"
VERSION = 1
SPOOL_SUFFIX = ".spool"
PAUSE, RESUME, CLOSE = 0xFF, 0xFE, 0xFD
_RECORD = struct.Struct(">BIH")
_pack = _RECORD.pack
_MAX_PAYLOAD = 0xFFFE  # the largest even length in 2 bytes: 32767 samples per frame
_MAX_OFFSET = 0xFFFFFFFF
_MAX_HEADER = 4096


class SpoolError(Exception):
    """A file is not a spool (missing or unreadable header)."""


@dataclass(frozen=True, slots=True)
class SpoolHeader:
    """What a spool's first line says about the recording."""

    call_id: str
    recording_id: str
    sample_rate: int
    started_at: float
    version: int = VERSION


@dataclass(frozen=True, slots=True)
class PauseInterval:
    """Samples ``[start, end)`` during which recording was paused; end None = never resumed."""

    start: int
    end: int | None


@dataclass(frozen=True, slots=True)
class Frame:
    """One audio record: 16-bit LE PCM placed at ``offset`` samples from the start."""

    offset: int
    pcm: bytes


@dataclass(frozen=True)
class ChannelIndex:
    """Where one direction's frames are in the file, in write order."""

    offsets: npt.NDArray[np.int64]  # sample offset of each frame
    positions: npt.NDArray[np.int64]  # byte position of each payload in the file
    lengths: npt.NDArray[np.int64]  # samples in each frame


@dataclass(frozen=True)
class SpoolIndex:
    """A spool scanned without its audio: enough to rebuild it chunk by chunk."""

    header: SpoolHeader
    channels: tuple[ChannelIndex, ChannelIndex]
    pauses: tuple[PauseInterval, ...]
    complete: bool  # a close marker was found
    end_offset: int  # the recording's length in samples
    valid_bytes: int  # bytes up to the last whole record
    size_bytes: int

    @property
    def truncated_bytes(self) -> int:
        """Trailing bytes that did not form a whole record (a crash mid-write)."""
        return 0 if self.complete else self.size_bytes - self.valid_bytes


@dataclass(frozen=True)
class SpoolContents:
    """A spool read back: header, per-direction frames in write order, pauses."""

    header: SpoolHeader
    frames: tuple[list[Frame], list[Frame]]
    pauses: tuple[PauseInterval, ...]
    complete: bool
    end_offset: int
    truncated_bytes: int

    @property
    def duration_s(self) -> float:
        """Seconds captured."""
        return self.end_offset / self.header.sample_rate


class SpoolWriter:
    """Appends a recording's frames to a spool; cheap per frame, fsynced once a second.

    The owner calls :meth:`write` for every frame of each direction (the hot
    path: it only appends to a buffer) and :meth:`tick` about once a second;
    buffered data older than ``max_buffer_age_s`` is written and fsynced on
    the next write or tick.  Frames that start at or after a pause's offset
    while paused are dropped (the finisher also zeroes anything that lands
    inside a pause).  Not thread-safe: one owner, e.g. one event loop.
    ``flush`` fsyncs, which may block for a few milliseconds.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        call_id: str,
        recording_id: str,
        sample_rate: int = 8000,
        started_at: float,
        max_buffer_age_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.path = Path(path)
        self.header = SpoolHeader(call_id, recording_id, sample_rate, started_at)
        self._max_age = max_buffer_age_s
        self._clock = clock
        self._buf = bytearray()
        self._buffered_since: float | None = None
        self._paused_at: int | None = None
        self._gated = False  # paused or closed: every write takes the slow path
        line = json.dumps({"magic": MAGIC, **asdict(self.header)}, separators=(",", ":"))
        if len(line) >= _MAX_HEADER:
            raise ValueError("spool header too long")
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND
        self._fd = os.open(self.path, flags, 0o640)
        self._buf += line.encode() + b"\n"
        try:
            self.flush()
            fsync_dir(self.path.parent)  # make the new directory entry durable too
        except BaseException:
            os.close(self._fd)
            self._fd = -1
            raise

    def write(self, channel: int, offset_samples: int, pcm: bytes | bytearray | memoryview) -> None:
        """Buffer one frame of ``channel`` (0 caller, 1 other side) at ``offset_samples``."""
        n = len(pcm)
        if n & 1 or not 0 < n <= _MAX_PAYLOAD or channel not in (0, 1) or self._gated:
            self._write_unusual(channel, offset_samples, pcm)
            return
        try:
            self._buf += _pack(channel, offset_samples, n)
        except struct.error:
            raise ValueError(f"bad frame offset {offset_samples}") from None
        self._buf += pcm
        now = self._clock()
        since = self._buffered_since
        if since is None:
            self._buffered_since = now
        elif now - since >= self._max_age:
            self.flush()

    def _write_unusual(
        self, channel: int, offset_samples: int, pcm: bytes | bytearray | memoryview
    ) -> None:
        """The slow path of :meth:`write`: refusals, empty frames, frames while paused."""
        n = len(pcm)
        if (
            channel not in (0, 1)
            or n & 1
            or n > _MAX_PAYLOAD
            or not 0 <= offset_samples <= _MAX_OFFSET
        ):
            raise ValueError(f"bad frame: channel {channel}, offset {offset_samples}, {n} bytes")
        if self._fd < 0:
            raise ValueError("spool writer is closed")
        if n and (self._paused_at is None or offset_samples < self._paused_at):
            self._append(_pack(channel, offset_samples, n) + pcm)

    def pause(self, offset_samples: int) -> None:
        """Mark the start of a pause; nothing from here to :meth:`resume` is kept."""
        self._marker(PAUSE, offset_samples)
        if self._paused_at is None:
            self._paused_at = offset_samples
        self._gated = True

    def resume(self, offset_samples: int) -> None:
        """Mark the end of a pause."""
        self._marker(RESUME, offset_samples)
        self._paused_at = None
        self._gated = self._fd < 0

    def tick(self) -> None:
        """Flush if the buffered data is older than the limit; call about once a second."""
        since = self._buffered_since
        if since is not None and self._clock() - since >= self._max_age:
            self.flush()

    def flush(self) -> None:
        """Write the buffer to the file and fsync it."""
        if self._fd < 0:
            return
        if self._buf:
            written = 0
            view = memoryview(self._buf)
            try:
                while written < len(view):
                    written += os.write(self._fd, view[written:])
            finally:
                view.release()
                del self._buf[:written]  # a retry must not repeat what reached the file
            os.fsync(self._fd)
        self._buffered_since = None

    def take_buffer(self) -> bytes:
        """Hand the buffered records to a background flusher (see :meth:`write_out`)."""
        data = bytes(self._buf)
        self._buf.clear()
        self._buffered_since = None
        return data

    def write_out(self, data: bytes) -> None:
        """Append ``data`` from :meth:`take_buffer` and fsync; safe to run in a worker thread
        while the owner keeps calling :meth:`write` (they touch different buffers)."""
        if self._fd < 0 or not data:
            return
        view = memoryview(data)
        written = 0
        while written < len(view):
            written += os.write(self._fd, view[written:])
        os.fsync(self._fd)

    def close(self, end_offset: int = 0) -> None:
        """Append the close marker; ``end_offset`` extends the recording past its last frame."""
        if self._fd < 0:
            return
        self._gated = True
        self._buf += _pack(CLOSE, min(max(end_offset, 0), _MAX_OFFSET), 0)
        try:
            self.flush()
        finally:
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> SpoolWriter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _marker(self, kind: int, offset_samples: int) -> None:
        if self._fd < 0 or not 0 <= offset_samples <= _MAX_OFFSET:
            raise ValueError(f"cannot mark offset {offset_samples} (bad, or writer closed)")
        self._append(_pack(kind, offset_samples, 0))

    def _append(self, record: bytes) -> None:
        self._buf += record
        if self._buffered_since is None:
            self._buffered_since = self._clock()
        self.tick()


def fsync_dir(path: Path) -> None:
    """Fsync a directory, so that entries created or renamed in it survive a crash."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _parse_header(raw: bytes) -> SpoolHeader:
    try:
        data: Any = json.loads(raw)
        if not isinstance(data, dict) or data.get("magic") != MAGIC:
            raise SpoolError("not a callvault spool")
        if data.get("version") != VERSION:
            raise SpoolError(f"unsupported spool version {data.get('version')!r}")
        header = SpoolHeader(
            call_id=str(data["call_id"]),
            recording_id=str(data["recording_id"]),
            sample_rate=int(data["sample_rate"]),
            started_at=float(data["started_at"]),
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise SpoolError(f"unreadable spool header: {exc}") from exc
    if header.sample_rate <= 0:
        raise SpoolError(f"bad sample rate {header.sample_rate}")
    return header


def scan_spool(path: str | os.PathLike[str]) -> SpoolIndex:
    """Index a spool's records; stop quietly at a truncated or damaged tail.

    Raises :class:`SpoolError` only when the header itself is missing or bad.
    """
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        if size == 0:
            raise SpoolError(f"{path}: empty file")
        with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mm:
            newline = mm.find(b"\n", 0, _MAX_HEADER)
            if newline < 0:
                raise SpoolError(f"{path}: no header line")
            header = _parse_header(mm[:newline])
            # per direction: offsets, payload positions, lengths (compact: 8 bytes an entry)
            cols = tuple(tuple(array("q") for _ in range(3)) for _ in range(2))
            pauses: list[PauseInterval] = []
            paused_at: int | None = None
            complete = False
            end = 0
            pos = newline + 1
            unpack = _RECORD.unpack_from
            while pos + 7 <= size:
                kind, offset, n = unpack(mm, pos)
                if kind <= 1:
                    if n & 1 or n == 0 or pos + 7 + n > size:
                        break  # torn (or, for n == 0, zero-filled) tail
                    col = cols[kind]
                    col[0].append(offset)
                    col[1].append(pos + 7)
                    col[2].append(n >> 1)
                    end = max(end, offset + (n >> 1))
                elif n != 0 or kind not in (PAUSE, RESUME, CLOSE):
                    break  # damage: nothing after it can be trusted
                else:
                    end = max(end, offset)
                    if kind == PAUSE:
                        paused_at = offset if paused_at is None else paused_at
                    elif kind == RESUME:
                        if paused_at is not None and offset > paused_at:
                            pauses.append(PauseInterval(paused_at, offset))
                        paused_at = None
                    else:
                        complete = True
                pos += 7 + n
                if complete:
                    break
    if paused_at is not None:
        pauses.append(PauseInterval(paused_at, None))
    c0, c1 = (ChannelIndex(*(np.frombuffer(v, dtype=np.int64) for v in col)) for col in cols)
    return SpoolIndex(header, (c0, c1), tuple(pauses), complete, end, pos, size)


def read_spool(path: str | os.PathLike[str]) -> SpoolContents:
    """Read a spool's header, frames (per direction, in write order) and pauses."""
    index = scan_spool(path)
    with open(path, "rb") as f:
        data = f.read(index.valid_bytes)
    frames: tuple[list[Frame], list[Frame]] = ([], [])
    for channel, ch in enumerate(index.channels):
        for offset, position, length in zip(
            ch.offsets.tolist(), ch.positions.tolist(), ch.lengths.tolist(), strict=True
        ):
            frames[channel].append(Frame(offset, data[position : position + 2 * length]))
    return SpoolContents(
        index.header, frames, index.pauses, index.complete, index.end_offset, index.truncated_bytes
    )
