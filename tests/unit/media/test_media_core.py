"""RTP/RTCP packets, G.711, RFC 4733 events, WAV loading and in-band DTMF detection."""

from __future__ import annotations

import contextlib
import io
import re
import struct
import wave

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from callvault.media.dtmf import DtmfReceiver, DtmfSender, TelephoneEvent, parse_dtmf_relay
from callvault.media.g711 import PCMA, PCMU, codec_by_name
from callvault.media.goertzel import COLUMNS, KEYS, ROWS, InbandDtmfDetector
from callvault.media.rtp import MediaParseError, RtpPacket, RtpParseError, is_rtcp, parse_rtcp
from callvault.media.wav import WavFormatError, decode_wav_8k

# a real PCMU packet: V=2, M=1, PT=0, seq 4660, ts 0x01020304, SSRC 0xdeadbeef, 4 payload bytes
PCMU_PACKET = bytes.fromhex("8080123401020304deadbeef") + b"\xff\xfe\xfd\xfc"
# SR (1 report block) + SDES + BYE, as a softphone sends them
RTCP_COMPOUND = (
    bytes.fromhex("81c8000c" "deadbeef") + b"\x00" * 20 + b"\x11" * 24
    + bytes.fromhex("81ca0003" "deadbeef" "01046a616e00")  + b"\x00" * 2
    + bytes.fromhex("81cb0001" "deadbeef")
)  # fmt: skip


def test_rtp_packet_fields_and_round_trip() -> None:
    packet = RtpPacket.parse(PCMU_PACKET)
    assert (packet.payload_type, packet.sequence_number, packet.timestamp) == (
        0,
        0x1234,
        0x01020304,
    )
    assert packet.ssrc == 0xDEADBEEF and packet.marker and packet.payload == b"\xff\xfe\xfd\xfc"
    assert packet.serialize() == PCMU_PACKET


def test_rtp_with_csrc_extension_and_padding_round_trips() -> None:
    packet = RtpPacket(
        payload_type=8, sequence_number=1, timestamp=2, ssrc=3, payload=b"abc",
        csrc=[7, 8], extension_profile=0xBEDE, extension_data=b"\x10\x01\x00\x00", padding=4,
    )  # fmt: skip
    assert RtpPacket.parse(packet.serialize()) == packet


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (PCMU_PACKET[:7], "RTP packet truncated: 7 bytes, header needs 12"),
        (b"\x40" + PCMU_PACKET[1:], "RTP version 1 unsupported (expected 2)"),
        (b"\x83" + PCMU_PACKET[1:], "3 CSRCs need 24 bytes"),
        (b"\x90" + PCMU_PACKET[1:12] + b"\x00\x01\x00\x09", "extension of 9 words runs past"),
        (b"\xa0" + PCMU_PACKET[1:-1] + b"\x40", "invalid RTP padding length 64"),
    ],
)
def test_rtp_hostile_input_has_precise_errors(data: bytes, message: str) -> None:
    with pytest.raises(RtpParseError, match=re.escape(message)):
        RtpPacket.parse(data)


def test_rtcp_compound_is_split_and_demuxed() -> None:
    assert is_rtcp(RTCP_COMPOUND) and not is_rtcp(PCMU_PACKET)
    packets = parse_rtcp(RTCP_COMPOUND)
    assert [p.packet_type for p in packets] == [200, 202, 203]
    assert all(p.ssrc == 0xDEADBEEF for p in packets)
    assert parse_rtcp(b"".join(p.serialize() for p in packets)) == packets


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=80))
def test_any_bytes_yield_a_packet_or_the_media_parse_error(data: bytes) -> None:
    for parser in (RtpPacket.parse, parse_rtcp, TelephoneEvent.parse):
        with contextlib.suppress(MediaParseError):
            parser(data)


def _sine(freq: float, seconds: float, rate: int, level: float = 0.5) -> npt.NDArray[np.float64]:
    t = np.arange(int(seconds * rate)) / rate
    return level * np.sin(2 * np.pi * freq * t)


@pytest.mark.parametrize("codec", [PCMA, PCMU])
def test_g711_round_trip_stays_within_companding_error(codec: object) -> None:
    assert codec in (PCMA, PCMU)
    chosen = codec_by_name("pcma" if codec is PCMA else "PCMU")
    pcm = (_sine(440, 0.1, 8000) * 32767).astype("<i2")
    decoded = np.frombuffer(chosen.decode(chosen.encode(pcm.tobytes())), dtype="<i2")
    error = np.abs(decoded.astype(int) - pcm.astype(int))
    assert error.max() <= np.abs(pcm.astype(int)).max() / 16 + 8  # ~4 % at the top segment
    silence = np.frombuffer(chosen.decode(chosen.silence(160)), dtype="<i2")
    assert np.abs(silence).max() <= 8


def test_dtmf_sender_to_receiver_reports_each_key_once() -> None:
    sender, receiver = DtmfSender(), DtmfReceiver()
    heard = ""
    for index, key in enumerate("0123456789*#ABCD"):
        packets = sender.packets(key, 120)
        assert sum(1 for payload, _, _ in packets if TelephoneEvent.parse(payload).end) == 3
        assert packets[0][1], "the first packet of an event carries the marker"
        for payload, marker, _ in packets:
            digit = receiver.feed(1000 * (index + 1), payload, marker)
            heard += digit or ""
    assert heard == "0123456789*#ABCD"


def test_a_new_press_reusing_a_timestamp_counts_again() -> None:
    receiver = DtmfReceiver()
    train = DtmfSender().packets("4", 100)
    heard = [receiver.feed(5000, p, m) for p, m, _ in train + train]
    assert [d for d in heard if d] == ["4", "4"]


@pytest.mark.parametrize(
    ("body", "content_type", "digit"),
    [
        ("Signal=5\r\nDuration=160\r\n", "application/dtmf-relay", "5"),
        ("Signal=10\r\nDuration=160\r\n", "application/dtmf-relay", "*"),
        ("Signal=11\r\n", "application/dtmf-relay", "#"),
        ("9", "application/dtmf", "9"),
        ("Signal=Z", "application/dtmf-relay", None),
        ("hello", "text/plain", None),
    ],
)
def test_sip_info_dtmf_bodies(body: str, content_type: str, digit: str | None) -> None:
    assert parse_dtmf_relay(body, content_type) == digit


def _wav(samples: npt.NDArray[np.float64], rate: int, width: int, channels: int = 1) -> bytes:
    frames = np.repeat(samples[:, None], channels, axis=1).reshape(-1)
    if width == 1:
        raw = ((frames * 127) + 128).astype(np.uint8).tobytes()
    elif width == 3:
        ints = (frames * 8388607).astype("<i4")
        raw = b"".join(struct.pack("<i", int(v))[:3] for v in ints)
    else:
        raw = (frames * 32767).astype("<i2").tobytes()
    out = io.BytesIO()
    with wave.open(out, "wb") as writer:
        writer.setnchannels(channels)
        writer.setsampwidth(width)
        writer.setframerate(rate)
        writer.writeframes(raw)
    return out.getvalue()


def _peak_hz(pcm: bytes) -> float:
    samples = np.frombuffer(pcm, dtype="<i2").astype(float)
    spectrum = np.abs(np.fft.rfft(samples))
    return float(np.fft.rfftfreq(len(samples), 1 / 8000)[np.argmax(spectrum)])


@pytest.mark.parametrize(
    ("rate", "width", "channels"), [(44100, 3, 2), (16000, 2, 1), (8000, 1, 1)]
)
def test_wav_of_any_rate_width_becomes_8k_mono(rate: int, width: int, channels: int) -> None:
    pcm = decode_wav_8k(_wav(_sine(1000, 0.5, rate), rate, width, channels))
    assert len(pcm) == 2 * 4000
    assert abs(_peak_hz(pcm) - 1000) < 5


def test_resampling_removes_what_would_alias() -> None:
    mixed = _sine(1000, 0.5, 44100, 0.4) + _sine(6000, 0.5, 44100, 0.4)
    pcm = np.frombuffer(decode_wav_8k(_wav(mixed, 44100, 2)), dtype="<i2").astype(float)
    spectrum = np.abs(np.fft.rfft(pcm))
    freqs = np.fft.rfftfreq(len(pcm), 1 / 8000)
    wanted = spectrum[np.argmin(np.abs(freqs - 1000))]
    alias = spectrum[np.argmin(np.abs(freqs - 2000))]  # 6 kHz folds to 2 kHz at 8 kHz
    assert 20 * np.log10(wanted / max(alias, 1e-9)) > 40


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"this is a text file, not audio", "not a RIFF/WAVE file"),
        (b"RIFF\x00\x00\x00\x00WAVE", "no fmt chunk"),
    ],
)
def test_malformed_wav_is_refused_with_a_reason(data: bytes, reason: str) -> None:
    with pytest.raises(WavFormatError, match=reason):
        decode_wav_8k(data)


def test_truncated_wav_and_odd_width_are_refused() -> None:
    good = _wav(_sine(440, 0.2, 8000), 8000, 2)
    with pytest.raises(WavFormatError, match="data chunk truncated"):
        decode_wav_8k(good[:-100])
    odd = bytearray(good)
    odd[34:36] = struct.pack("<H", 12)
    with pytest.raises(WavFormatError, match="unsupported sample width 12 bits"):
        decode_wav_8k(bytes(odd))


def _tones(keys: str) -> bytes:
    parts = []
    for key in keys:
        row = next(i for i, r in enumerate(KEYS) if key in r)
        col = KEYS[row].index(key)
        parts += [
            _sine(ROWS[row], 0.08, 8000, 0.2) + _sine(COLUMNS[col], 0.08, 8000, 0.2),
            np.zeros(400),
        ]
    noise = np.random.default_rng(7).normal(0, 0.005, sum(len(p) for p in parts))
    return ((np.concatenate(parts) + noise) * 32767).astype("<i2").tobytes()


def test_goertzel_detects_every_key_once() -> None:
    detector = InbandDtmfDetector()
    pcm = _tones("159D*0#A")
    heard = "".join(detector.feed(pcm[i : i + 320]) or "" for i in range(0, len(pcm), 320))
    assert heard == "159D*0#A"


def test_goertzel_ignores_speech_like_noise_and_single_tones() -> None:
    detector = InbandDtmfDetector()
    rng = np.random.default_rng(3)
    noise = np.convolve(rng.normal(0, 0.2, 8000 * 3), np.ones(4) / 4, "same")
    single = _sine(770, 1.0, 8000, 0.4)
    pcm = (np.concatenate([noise, single]) * 32767).clip(-32768, 32767).astype("<i2").tobytes()
    assert all(detector.feed(pcm[i : i + 320]) is None for i in range(0, len(pcm), 320))
