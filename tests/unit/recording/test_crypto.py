"""Encryption at rest: envelope keys, the CVREC1 chunked format and its tamper detection."""

from __future__ import annotations

import os
import random
import struct
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from callvault.recording.crypto import (
    CHUNK_SIZE,
    MAGIC,
    TAG_SIZE,
    DataKey,
    DecryptError,
    EncryptedRecording,
    Header,
    KeyRing,
    RangeReader,
    RecipientKey,
    decrypt_file,
    decrypt_range,
    decrypt_with_private_key,
    encrypt_file,
    file_reader,
)

MASTER = bytes(range(32))


@pytest.fixture
def data_key() -> DataKey:
    ring = KeyRing(MASTER)
    _, wrapped = ring.new_data_key()
    return DataKey("acme/1", ring.unwrap(wrapped))


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _pem_public(key: rsa.RSAPrivateKey) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _pem_private(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _sealed(tmp_path: Path, plain: bytes, key: DataKey | RecipientKey, **kw: int) -> Path:
    src, dst = tmp_path / "call.opus", tmp_path / "call.opus.enc"
    src.write_bytes(plain)
    encrypt_file(src, dst, key, **kw)
    return dst


def _tamper(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))


def test_key_ring_wraps_distinct_data_keys() -> None:
    ring = KeyRing(MASTER)
    (plain_a, wrapped_a), (plain_b, wrapped_b) = ring.new_data_key(), ring.new_data_key()
    assert plain_a != plain_b and len(plain_a) == 32
    assert len(wrapped_a) == 40 and plain_a not in wrapped_a
    assert ring.unwrap(wrapped_a) == plain_a
    assert ring.unwrap(wrapped_b) == plain_b


def test_wrong_master_key_does_not_unwrap() -> None:
    _, wrapped = KeyRing(MASTER).new_data_key()
    with pytest.raises(DecryptError):
        KeyRing(os.urandom(32)).unwrap(wrapped)
    with pytest.raises(ValueError):
        KeyRing(b"short")


@pytest.mark.parametrize("size", [0, 1, CHUNK_SIZE - 1, CHUNK_SIZE, CHUNK_SIZE + 1, 200_017])
def test_round_trip(tmp_path: Path, data_key: DataKey, size: int) -> None:
    plain = os.urandom(size)
    enc = _sealed(tmp_path, plain, data_key)
    data = enc.read_bytes()
    header = Header.decode(data)
    assert data.startswith(MAGIC) and header.key_id == "acme/1"
    assert header.plain_length == size and header.chunk_size == CHUNK_SIZE
    assert len(data) == header.size + size + header.chunk_count * TAG_SIZE
    assert plain[:64] not in data or size < 16  # a few random bytes may occur by chance
    assert decrypt_file(enc, tmp_path / "out", data_key) == size
    assert (tmp_path / "out").read_bytes() == plain


async def test_random_ranges_match_the_plaintext(tmp_path: Path, data_key: DataKey) -> None:
    plain = os.urandom(50_000)
    enc = _sealed(tmp_path, plain, data_key, chunk_size=1000)
    recording = await EncryptedRecording.open(file_reader(enc), data_key)
    rng = random.Random(20261125)
    for _ in range(300):
        start = rng.randrange(0, 52_000)
        end = start + rng.choice([0, 1, 999, 1000, 1001, rng.randrange(0, 30_000)])
        assert await recording.read_range(start, end) == plain[start:end]
    assert await decrypt_range(file_reader(enc), 0, 10**9, data_key) == plain


async def test_a_range_reads_only_the_chunks_covering_it(tmp_path: Path, data_key: DataKey) -> None:
    plain = os.urandom(10 * CHUNK_SIZE)
    enc = _sealed(tmp_path, plain, data_key)
    reads: list[tuple[int, int]] = []
    inner = file_reader(enc)

    async def counting(start: int, end: int) -> bytes:
        reads.append((start, end))
        return await inner(start, end)

    reader: RangeReader = counting
    recording = await EncryptedRecording.open(reader, data_key)
    reads.clear()
    start, end = 3 * CHUNK_SIZE + 10, 4 * CHUNK_SIZE + 20  # chunks 3 and 4
    assert await recording.read_range(start, end) == plain[start:end]
    header = recording.header
    assert reads == [(header.chunk_offset(3), header.chunk_offset(5))]


async def test_tampered_byte_is_detected(tmp_path: Path, data_key: DataKey) -> None:
    plain = os.urandom(3 * CHUNK_SIZE)
    enc = _sealed(tmp_path, plain, data_key)
    header = Header.decode(enc.read_bytes())
    _tamper(enc, header.chunk_offset(1) + 100)
    with pytest.raises(DecryptError, match="chunk 1"):
        decrypt_file(enc, tmp_path / "out", data_key)
    assert not (tmp_path / "out").exists()
    with pytest.raises(DecryptError):
        await decrypt_range(file_reader(enc), CHUNK_SIZE, CHUNK_SIZE + 1, data_key)
    # the chunks that were not touched still play
    assert await decrypt_range(file_reader(enc), 0, 100, data_key) == plain[:100]


@pytest.mark.parametrize("field", ["plain_length", "chunk_size", "nonce"])
def test_tampered_header_is_detected(tmp_path: Path, data_key: DataKey, field: str) -> None:
    enc = _sealed(tmp_path, os.urandom(2 * CHUNK_SIZE), data_key)
    header = Header.decode(enc.read_bytes())
    tail = header.size - struct.calcsize(">12sIQ")
    offset = {"nonce": tail, "chunk_size": tail + 12 + 3, "plain_length": tail + 16 + 7}[field]
    _tamper(enc, offset)
    with pytest.raises(DecryptError):
        decrypt_file(enc, tmp_path / "out", data_key)


@pytest.mark.parametrize("cut", [1, TAG_SIZE, CHUNK_SIZE // 2 + TAG_SIZE])
async def test_truncated_file_is_detected(tmp_path: Path, data_key: DataKey, cut: int) -> None:
    plain = os.urandom(2 * CHUNK_SIZE + CHUNK_SIZE // 2)
    enc = _sealed(tmp_path, plain, data_key)
    enc.write_bytes(enc.read_bytes()[:-cut])
    with pytest.raises(DecryptError):
        decrypt_file(enc, tmp_path / "out", data_key)
    with pytest.raises(DecryptError):
        await decrypt_range(file_reader(enc), len(plain) - 10, len(plain), data_key)


def test_dropped_last_chunk_and_appended_data_are_detected(
    tmp_path: Path, data_key: DataKey
) -> None:
    enc = _sealed(tmp_path, os.urandom(3 * CHUNK_SIZE), data_key)
    data = enc.read_bytes()
    header = Header.decode(data)
    enc.write_bytes(data[: header.chunk_offset(2)])  # exactly two whole chunks left
    with pytest.raises(DecryptError):
        decrypt_file(enc, tmp_path / "out", data_key)
    enc.write_bytes(data + b"\x00")
    with pytest.raises(DecryptError, match="after the last chunk"):
        decrypt_file(enc, tmp_path / "out", data_key)


async def test_swapped_chunks_are_detected(tmp_path: Path, data_key: DataKey) -> None:
    enc = _sealed(tmp_path, os.urandom(4 * CHUNK_SIZE), data_key)
    data = enc.read_bytes()
    header = Header.decode(data)
    one = slice(header.chunk_offset(1), header.chunk_offset(2))
    two = slice(header.chunk_offset(2), header.chunk_offset(3))
    enc.write_bytes(data[: one.start] + data[two] + data[one] + data[two.stop :])
    with pytest.raises(DecryptError):
        decrypt_file(enc, tmp_path / "out", data_key)
    with pytest.raises(DecryptError):
        await decrypt_range(file_reader(enc), CHUNK_SIZE, CHUNK_SIZE + 10, data_key)


def test_wrong_data_key_and_not_a_recording(tmp_path: Path, data_key: DataKey) -> None:
    enc = _sealed(tmp_path, b"hello", data_key)
    other = DataKey("acme/1", os.urandom(32))
    with pytest.raises(DecryptError, match="wrong data key"):
        decrypt_file(enc, tmp_path / "out", other)
    (tmp_path / "plain.wav").write_bytes(b"RIFF" + bytes(100))
    with pytest.raises(DecryptError, match="not an encrypted"):
        decrypt_file(tmp_path / "plain.wav", tmp_path / "out", data_key)


async def test_public_key_mode_opens_only_with_the_private_key(
    tmp_path: Path, data_key: DataKey, rsa_key: rsa.RSAPrivateKey
) -> None:
    recipient = RecipientKey.from_pem(_pem_public(rsa_key))
    plain = os.urandom(CHUNK_SIZE * 2 + 5)
    enc = _sealed(tmp_path, plain, recipient)
    header = Header.decode(enc.read_bytes())
    assert header.key_id == recipient.key_id and header.key_id.startswith("rsa:")
    assert len(header.wrapped_key) == 256  # RSA-2048 OAEP, not an AES-KW blob

    out = tmp_path / "clear.opus"
    assert decrypt_with_private_key(enc, out, _pem_private(rsa_key)) == len(plain)
    assert out.read_bytes() == plain
    assert await decrypt_range(file_reader(enc), 5, 70_000, rsa_key) == plain[5:70_000]

    with pytest.raises(DecryptError, match="public key"):
        decrypt_file(enc, tmp_path / "x", data_key)  # the operator's keys do not open it
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with pytest.raises(DecryptError, match="wrong private key"):
        decrypt_with_private_key(enc, tmp_path / "x", _pem_private(stranger))
    assert not (tmp_path / "x").exists()


def test_password_protected_private_key(tmp_path: Path, rsa_key: rsa.RSAPrivateKey) -> None:
    enc = _sealed(tmp_path, b"secret call", RecipientKey.from_pem(_pem_public(rsa_key)))
    pem = rsa_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"pw"),
    )
    decrypt_with_private_key(enc, tmp_path / "out", pem, password=b"pw")
    assert (tmp_path / "out").read_bytes() == b"secret call"


def test_small_rsa_keys_are_refused() -> None:
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    with pytest.raises(ValueError, match="2048"):
        RecipientKey.from_pem(_pem_public(small))
