"""In-band DTMF detection by the Goertzel measure (ITU-T Q.23/Q.24 tones).

Some peers (old gateways, analogue adapters) send key presses as audio
tones instead of RFC 4733 events.  :class:`InbandDtmfDetector` takes 8 kHz
16-bit PCM in 20 ms frames, measures the energy at the eight DTMF
frequencies, and reports a key once it has been present for two frames in a
row (40 ms, Q.24's minimum) with one row and one column tone clearly above
the rest and a sane twist; the key must drop out before it can repeat.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

SAMPLE_RATE = 8000
ROWS = (697.0, 770.0, 852.0, 941.0)
COLUMNS = (1209.0, 1336.0, 1477.0, 1633.0)
KEYS = ("123A", "456B", "789C", "*0#D")
_FREQS = np.array(ROWS + COLUMNS)


class InbandDtmfDetector:
    """Streaming DTMF tone detector; feed it 160-sample frames."""

    def __init__(
        self,
        *,
        min_level: float = 1e-4,
        dominance: float = 6.0,
        max_twist_db: float = 8.0,
        frames_to_confirm: int = 2,
    ) -> None:
        self.min_level = min_level
        self.dominance = dominance
        self.max_twist = 10 ** (max_twist_db / 10)
        self.frames_to_confirm = frames_to_confirm
        self._candidate: str | None = None
        self._count = 0
        self._reported: str | None = None
        self._basis: npt.NDArray[np.complex128] | None = None
        self._frame_len = 0

    def _basis_for(self, n: int) -> npt.NDArray[np.complex128]:
        if self._basis is None or self._frame_len != n:
            t = np.arange(n) / SAMPLE_RATE
            self._basis = np.exp(-2j * np.pi * np.outer(_FREQS, t))
            self._frame_len = n
        return self._basis

    def energies(self, samples: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """Power at the 8 DTMF frequencies (the Goertzel result, as one matrix product).

        Normalised so a sine of amplitude A reads A**2 / 2, the same scale
        as the frame's mean power.
        """
        n = len(samples)
        spectrum = self._basis_for(n) @ samples
        return np.asarray(2.0 * np.abs(spectrum) ** 2 / (n * n), dtype=np.float64)

    def _classify(self, pcm: bytes) -> str | None:
        samples = np.frombuffer(pcm, dtype="<i2").astype(np.float64) / 32768.0
        if len(samples) == 0:
            return None
        total = float(np.dot(samples, samples)) / len(samples)
        if total < self.min_level:
            return None
        power = self.energies(samples)
        rows, cols = power[:4], power[4:]
        r, c = int(np.argmax(rows)), int(np.argmax(cols))
        row_power, col_power = rows[r], cols[c]
        # the two tones must carry most of the frame's energy (speech spreads it)
        if row_power + col_power < 0.6 * total:
            return None
        others_row = np.delete(rows, r)
        others_col = np.delete(cols, c)
        if row_power < self.dominance * others_row.max() or col_power < self.dominance * (
            others_col.max()
        ):
            return None
        twist = row_power / col_power
        if twist > self.max_twist or twist < 1 / self.max_twist:
            return None
        return KEYS[r][c]

    def feed(self, pcm: bytes) -> str | None:
        """One frame of 16-bit PCM; returns a key when a press is confirmed."""
        key = self._classify(pcm)
        if key is None:
            self._candidate = None
            self._count = 0
            self._reported = None
            return None
        if key == self._candidate:
            self._count += 1
        else:
            self._candidate = key
            self._count = 1
        if self._count >= self.frames_to_confirm and self._reported != key:
            self._reported = key
            return key
        return None
