"""Encryption at rest of recordings: envelope keys and a seekable AES-256-GCM file format.

Keys, from the top:

* the operator's **master key** (32 bytes, outside the database) wraps each
  account's **data key** with AES Key Wrap (RFC 3394, NIST SP 800-38F): the
  database keeps only wrapped data keys, and a wrong master key or a damaged
  wrapped key fails KW's integrity check instead of yielding garbage;
* every file gets a fresh random **content key** (AES-256), stored in the
  file's header wrapped either by the account's data key (AES-KW, mode 1) or,
  when the account registered an RSA public key, by that key alone with
  RSA-OAEP-SHA256 (mode 2): then neither the operator nor the server can
  decrypt, only the customer's private key (:func:`decrypt_with_private_key`).

File format (all integers big-endian)::

    "CVREC1" | version u8 | mode u8 | key id length u8 | wrapped key length u16
    | key id (UTF-8) | wrapped content key | base nonce (12) | chunk size u32
    | plaintext length u64 | chunk 0 | chunk 1 | ...

Chunk ``i`` is ``chunk size`` bytes of plaintext (the last may be shorter; an
empty file has one empty chunk) sealed with AES-GCM (NIST SP 800-38D) under
the content key: ciphertext plus a 16-byte tag.  Its nonce is the base nonce
XOR ``i`` (the deterministic construction of SP 800-38D 8.2.1, unique per
chunk; keys are never reused across files anyway) and its additional data is
``SHA-256(header) | i (u64) | last-chunk flag (u8)``, so a changed header,
a dropped, swapped or appended chunk, or a cut file fails authentication.
Chunk ``i`` starts at a computable offset, so a byte range decrypts by
reading only the chunks that cover it (:class:`EncryptedRecording`).
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import struct
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.keywrap import InvalidUnwrap, aes_key_unwrap, aes_key_wrap

MAGIC = b"CVREC1"
VERSION = 1
MODE_DATA_KEY = 1
MODE_PUBLIC_KEY = 2
CHUNK_SIZE = 65536
MAX_CHUNK_SIZE = 16 << 20
TAG_SIZE = 16
NONCE_SIZE = 12
KEY_SIZE = 32
_FIXED = struct.Struct(">6sBBBH")  # magic, version, mode, key id length, wrapped key length
_TAIL = struct.Struct(">12sIQ")  # base nonce, chunk size, plaintext length
_OAEP = padding.OAEP(
    mgf=padding.MGF1(algorithm=hashes.SHA256()), algorithm=hashes.SHA256(), label=None
)


class DecryptError(Exception):
    """The file is damaged, tampered with, cut short, or the key is not the right one."""


@dataclass(frozen=True)
class DataKey:
    """An account's plain 256-bit data key and the id written into each file it seals."""

    key_id: str
    secret: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if len(self.secret) != KEY_SIZE:
            raise ValueError("a data key is 32 bytes (AES-256)")
        if not 0 < len(self.key_id.encode()) < 256:
            raise ValueError("a key id is 1 to 255 bytes of UTF-8")


@dataclass(frozen=True)
class RecipientKey:
    """An account's RSA public key: files sealed to it open only with its private key."""

    public_key: rsa.RSAPublicKey
    key_id: str

    @classmethod
    def from_pem(cls, pem: bytes) -> RecipientKey:
        """Load a PEM public key; its id is ``rsa:`` + 16 bytes of SHA-256 of its DER."""
        key = serialization.load_pem_public_key(pem)
        if not isinstance(key, rsa.RSAPublicKey) or key.key_size < 2048:
            raise ValueError("the account key must be an RSA public key of 2048 bits or more")
        der = key.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return cls(key, "rsa:" + hashlib.sha256(der).hexdigest()[:32])


class KeyRing:
    """The operator's master key; wraps and unwraps account data keys (AES-KW, RFC 3394)."""

    def __init__(self, master_key: bytes) -> None:
        if len(master_key) != KEY_SIZE:
            raise ValueError("the master key is 32 bytes (AES-256)")
        self._master = master_key

    def new_data_key(self) -> tuple[bytes, bytes]:
        """A fresh random data key: ``(plain, wrapped)``; store only ``wrapped`` (40 bytes)."""
        plain = os.urandom(KEY_SIZE)
        return plain, aes_key_wrap(self._master, plain)

    def unwrap(self, wrapped: bytes) -> bytes:
        """The plain data key; :class:`DecryptError` if it was wrapped by another master key."""
        try:
            return aes_key_unwrap(self._master, wrapped)
        except (InvalidUnwrap, ValueError) as exc:
            raise DecryptError("data key does not unwrap with this master key") from exc


@dataclass(frozen=True)
class Header:
    """The fixed part of an encrypted recording, and where each of its chunks lies."""

    mode: int
    key_id: str
    wrapped_key: bytes
    base_nonce: bytes
    chunk_size: int
    plain_length: int

    def encode(self) -> bytes:
        kid = self.key_id.encode()
        fixed = _FIXED.pack(MAGIC, VERSION, self.mode, len(kid), len(self.wrapped_key))
        tail = _TAIL.pack(self.base_nonce, self.chunk_size, self.plain_length)
        return fixed + kid + self.wrapped_key + tail

    @staticmethod
    def size_from_prefix(prefix: bytes) -> int:
        """The header's length, from at least its first 11 bytes."""
        if len(prefix) < _FIXED.size:
            raise DecryptError("file too short for a recording header")
        magic, version, mode, kid_len, wrapped_len = _FIXED.unpack_from(prefix)
        if magic != MAGIC:
            raise DecryptError("not an encrypted callvault recording")
        if version != VERSION or mode not in (MODE_DATA_KEY, MODE_PUBLIC_KEY):
            raise DecryptError(f"unsupported recording format {version}/{mode}")
        return int(_FIXED.size + kid_len + wrapped_len + _TAIL.size)

    @classmethod
    def decode(cls, data: bytes) -> Header:
        """Parse a header from the start of ``data``; :class:`DecryptError` if malformed."""
        size = cls.size_from_prefix(data)
        if len(data) < size:
            raise DecryptError("recording header is cut short")
        _, _, mode, kid_len, wrapped_len = _FIXED.unpack_from(data)
        at = _FIXED.size
        try:
            key_id = data[at : at + kid_len].decode()
        except UnicodeDecodeError as exc:
            raise DecryptError("recording header is damaged") from exc
        wrapped = data[at + kid_len : at + kid_len + wrapped_len]
        nonce, chunk_size, plain_length = _TAIL.unpack_from(data, at + kid_len + wrapped_len)
        if not 0 < chunk_size <= MAX_CHUNK_SIZE:
            raise DecryptError("recording header is damaged")
        return cls(mode, key_id, wrapped, nonce, chunk_size, plain_length)

    @property
    def size(self) -> int:
        return _FIXED.size + len(self.key_id.encode()) + len(self.wrapped_key) + _TAIL.size

    @property
    def chunk_count(self) -> int:
        return max(1, -(-self.plain_length // self.chunk_size))

    def chunk_length(self, index: int) -> int:
        """Plaintext bytes in chunk ``index``."""
        return max(0, min(self.chunk_size, self.plain_length - index * self.chunk_size))

    def chunk_offset(self, index: int) -> int:
        """Where chunk ``index`` starts in the file."""
        return self.size + index * (self.chunk_size + TAG_SIZE)


class _Sealer:
    """AES-GCM with the nonce and additional data of chunk ``i`` (see the module doc)."""

    def __init__(self, header: Header, content_key: bytes) -> None:
        self.header = header
        self._aead = AESGCM(content_key)
        self._digest = hashlib.sha256(header.encode()).digest()
        self._base = int.from_bytes(header.base_nonce, "big")

    def _params(self, index: int) -> tuple[bytes, bytes]:
        nonce = (self._base ^ index).to_bytes(NONCE_SIZE, "big")
        last = index == self.header.chunk_count - 1
        return nonce, self._digest + struct.pack(">QB", index, last)

    def seal(self, index: int, plain: bytes) -> bytes:
        nonce, aad = self._params(index)
        return self._aead.encrypt(nonce, plain, aad)

    def open(self, index: int, sealed: bytes) -> bytes:
        if len(sealed) != self.header.chunk_length(index) + TAG_SIZE:
            raise DecryptError(f"recording is cut short at chunk {index}")
        nonce, aad = self._params(index)
        try:
            return self._aead.decrypt(nonce, sealed, aad)
        except InvalidTag as exc:
            raise DecryptError(f"chunk {index} failed authentication") from exc


def encrypt_file(
    src: Path | str, dst: Path | str, key: DataKey | RecipientKey, *, chunk_size: int = CHUNK_SIZE
) -> Header:
    """Encrypt the finished file ``src`` into ``dst`` under a fresh content key; its header."""
    if not 0 < chunk_size <= MAX_CHUNK_SIZE:
        raise ValueError(f"chunk size must be 1..{MAX_CHUNK_SIZE}")
    content_key = AESGCM.generate_key(bit_length=256)
    if isinstance(key, DataKey):
        mode, wrapped = MODE_DATA_KEY, aes_key_wrap(key.secret, content_key)
    else:
        mode, wrapped = MODE_PUBLIC_KEY, key.public_key.encrypt(content_key, _OAEP)
    with open(src, "rb") as source, open(dst, "wb") as out:
        length = os.fstat(source.fileno()).st_size
        header = Header(mode, key.key_id, wrapped, os.urandom(NONCE_SIZE), chunk_size, length)
        sealer = _Sealer(header, content_key)
        out.write(header.encode())
        for index in range(header.chunk_count):
            plain = source.read(header.chunk_length(index))
            if len(plain) != header.chunk_length(index):
                raise ValueError(f"{src} changed while it was being encrypted")
            out.write(sealer.seal(index, plain))
        if source.read(1):
            raise ValueError(f"{src} changed while it was being encrypted")
        out.flush()
        os.fsync(out.fileno())
    return header


def _content_key(header: Header, key: DataKey | rsa.RSAPrivateKey) -> bytes:
    if header.mode == MODE_DATA_KEY:
        if not isinstance(key, DataKey):
            raise DecryptError("recording is sealed with the account data key, not an RSA key")
        try:
            return aes_key_unwrap(key.secret, header.wrapped_key)
        except (InvalidUnwrap, ValueError) as exc:
            raise DecryptError("wrong data key, or the header was tampered with") from exc
    if isinstance(key, DataKey):
        raise DecryptError("recording is sealed to the account public key: only its private key")
    try:
        content_key = key.decrypt(header.wrapped_key, _OAEP)
    except ValueError as exc:
        raise DecryptError("wrong private key, or the header was tampered with") from exc
    if len(content_key) != KEY_SIZE:
        raise DecryptError("recording header is damaged")
    return content_key


def decrypt_file(src: Path | str, dst: Path | str, key: DataKey | rsa.RSAPrivateKey) -> int:
    """Decrypt all of ``src`` into ``dst`` (written only once every chunk verified); bytes."""
    tmp = Path(f"{dst}.part")
    try:
        with open(src, "rb") as source, tmp.open("wb") as out:
            prefix = source.read(_FIXED.size)
            header = Header.decode(
                prefix + source.read(Header.size_from_prefix(prefix) - len(prefix))
            )
            sealer = _Sealer(header, _content_key(header, key))
            for index in range(header.chunk_count):
                out.write(sealer.open(index, source.read(header.chunk_length(index) + TAG_SIZE)))
            if source.read(1):
                raise DecryptError("unexpected data after the last chunk")
        tmp.replace(dst)
    finally:
        tmp.unlink(missing_ok=True)
    return header.plain_length


def decrypt_with_private_key(
    src: Path | str, dst: Path | str, private_pem: bytes, password: bytes | None = None
) -> int:
    """What the customer's tool runs: decrypt a public-key-sealed recording with its private key."""
    key = serialization.load_pem_private_key(private_pem, password=password)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("not an RSA private key")
    return decrypt_file(src, dst, key)


# Reads encrypted bytes [start, end), shorter at the end: partial(storage.read_range, key)...
RangeReader = Callable[[int, int], Awaitable[bytes]]


def file_reader(path: Path | str) -> RangeReader:
    """A :data:`RangeReader` over a local encrypted file."""

    def read(start: int, end: int) -> bytes:
        with open(path, "rb") as f:
            f.seek(start)
            return f.read(end - start)

    async def read_at(start: int, end: int) -> bytes:
        return await asyncio.to_thread(read, start, end)

    return read_at


class EncryptedRecording:
    """An opened recording: header read, content key unwrapped, chunks fetched on demand.

    For HTTP Range playback: :meth:`iter_range` reads and decrypts only the
    chunks covering the range, ``batch`` chunks per read, and keeps clear
    audio in memory only.
    """

    def __init__(self, reader: RangeReader, header: Header, content_key: bytes) -> None:
        self.reader, self.header = reader, header
        self._sealer = _Sealer(header, content_key)

    @classmethod
    async def open(
        cls, reader: RangeReader, key: DataKey | rsa.RSAPrivateKey
    ) -> EncryptedRecording:
        data = await reader(0, 4096)
        if len(data) < (size := Header.size_from_prefix(data)):
            data = await reader(0, size)
        header = Header.decode(data)
        return cls(reader, header, _content_key(header, key))

    async def iter_range(self, start: int, end: int, *, batch: int = 16) -> AsyncIterator[bytes]:
        """Plaintext ``[start, end)`` (cut at the end), one piece per chunk."""
        if start < 0 or end < start:
            raise ValueError(f"invalid byte range [{start}, {end})")
        header, size = self.header, self.header.chunk_size
        end = min(end, header.plain_length)
        if start >= end:
            return
        first, last = start // size, (end - 1) // size
        for group in range(first, last + 1, batch):
            stop = min(group + batch, last + 1)
            low = header.chunk_offset(group)
            high = header.chunk_offset(stop - 1) + header.chunk_length(stop - 1) + TAG_SIZE
            blob = await self.reader(low, high)
            for index in range(group, stop):
                at = header.chunk_offset(index) - low
                plain = self._sealer.open(
                    index, blob[at : at + header.chunk_length(index) + TAG_SIZE]
                )
                base = index * size
                yield plain[max(start, base) - base : min(end, base + len(plain)) - base]

    async def read_range(self, start: int, end: int) -> bytes:
        """Plaintext ``[start, end)`` as one bytes object."""
        return b"".join([piece async for piece in self.iter_range(start, end)])


async def decrypt_range(
    reader: RangeReader, start: int, end: int, key: DataKey | rsa.RSAPrivateKey
) -> bytes:
    """Plaintext ``[start, end)`` of an encrypted recording, reading only the chunks needed."""
    recording = await EncryptedRecording.open(reader, key)
    return await recording.read_range(start, end)
