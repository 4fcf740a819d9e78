#!/usr/bin/env python3
"""Generate the demo prompt library with espeak-ng (English and Polish).

Each prompt is synthesised, converted to 8 kHz mono 16-bit PCM with sox,
trimmed of leading/trailing silence and normalised to -3 dBFS peak, then
written to ``src/callvault/demo/sounds/<lang>/<name>.wav``.  Re-running
rewrites the files; ``--check`` only verifies that every file exists.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "src" / "callvault" / "demo" / "sounds"

VOICES = {"en": "en-us", "pl": "pl"}
DIGITS = {
    "en": ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"],
    "pl": [
        "zero",
        "jeden",
        "dwa",
        "trzy",
        "cztery",
        "pięć",
        "sześć",
        "siedem",
        "osiem",
        "dziewięć",
    ],
}
PROMPTS: dict[str, dict[str, str]] = {
    "greeting": {
        "en": "Welcome to callvault. This is a test call. Goodbye.",
        "pl": "Witamy w callvault. To jest połączenie testowe. Do widzenia.",
    },
    "enter-digits": {
        "en": "Please enter up to four digits, then press the hash key.",
        "pl": "Wprowadź do czterech cyfr i naciśnij krzyżyk.",
    },
    "you-entered": {"en": "You entered", "pl": "Wprowadzono"},
    "no-digits": {"en": "No digits were entered.", "pl": "Nie wprowadzono żadnych cyfr."},
    "goodbye": {"en": "Goodbye.", "pl": "Do widzenia."},
    "star": {"en": "star", "pl": "gwiazdka"},
    "hash": {"en": "hash", "pl": "krzyżyk"},
    "echo": {
        "en": "Echo test. You will hear yourself.",
        "pl": "Test echa. Usłyszysz swój głos.",
    },
    "connecting": {"en": "Connecting your call.", "pl": "Łączę rozmowę."},
    "queue-welcome": {
        "en": "All our consultants are busy. Please stay on the line.",
        "pl": "Wszyscy konsultanci są zajęci. Prosimy pozostać na linii.",
    },
    "queue-position": {
        "en": "Your position in the queue is",
        "pl": "Twoje miejsce w kolejce to",
    },
    "menu-choose": {
        "en": "Please choose an option.",
        "pl": "Wybierz opcję.",
    },
    "menu-invalid": {
        "en": "That is not a valid option.",
        "pl": "Nie ma takiej opcji.",
    },
    "call-busy": {"en": "The number is busy.", "pl": "Numer jest zajęty."},
    "call-no-answer": {
        "en": "There is no answer.",
        "pl": "Abonent nie odbiera.",
    },
    "menu-no-input": {
        "en": "We did not receive your choice.",
        "pl": "Nie wybrano żadnej opcji.",
    },
}
# Non-speech prompts made with sox: name -> sox synth arguments (same in every language).
TONES: dict[str, list[str]] = {
    # ringback as Polish exchanges give it (425 Hz, 1 s on, 4 s off), for callers already answered
    "ringback": ["synth", "1", "sine", "425", "pad", "0", "4"],
    # a calm arpeggio loop (C major / A minor / F major / G major), 8 s, for callers on hold
    "hold-music": [
        "synth",
        "1",
        "pluck",
        "C4",
        "pluck",
        "E4",
        "pluck",
        "G4",
        ":",
        "synth",
        "1",
        "pluck",
        "E4",
        "pluck",
        "G4",
        "pluck",
        "C5",
        ":",
        "synth",
        "1",
        "pluck",
        "A3",
        "pluck",
        "C4",
        "pluck",
        "E4",
        ":",
        "synth",
        "1",
        "pluck",
        "C4",
        "pluck",
        "E4",
        "pluck",
        "A4",
        ":",
        "synth",
        "1",
        "pluck",
        "F3",
        "pluck",
        "A3",
        "pluck",
        "C4",
        ":",
        "synth",
        "1",
        "pluck",
        "A3",
        "pluck",
        "C4",
        "pluck",
        "F4",
        ":",
        "synth",
        "1",
        "pluck",
        "G3",
        "pluck",
        "B3",
        "pluck",
        "D4",
        ":",
        "synth",
        "1",
        "pluck",
        "B3",
        "pluck",
        "D4",
        "pluck",
        "G4",
    ],
}
for _lang, _words in DIGITS.items():
    for _i, _word in enumerate(_words):
        PROMPTS.setdefault(f"digit-{_i}", {})[_lang] = _word


def expected_files() -> list[Path]:
    """Every file the library must hold."""
    return [OUT / lang / f"{name}.wav" for name in [*PROMPTS, *TONES] for lang in VOICES]


def make_tone(arguments: list[str], target: Path) -> None:
    """sox synth → 8 kHz mono 16-bit, -6 dBFS peak (music sits under speech)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["sox", "-n", "-r", "8000", "-c", "1", "-b", "16", str(target), *arguments,
         "gain", "-n", "-6"],
        check=True,
    )  # fmt: skip


def synthesise(text: str, lang: str, target: Path) -> None:
    """espeak-ng → sox: 8 kHz mono 16-bit, trimmed, -3 dBFS peak."""
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "raw.wav"
        subprocess.run(
            ["espeak-ng", "-v", VOICES[lang], "-s", "150", "-w", str(raw), text], check=True
        )
        target.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [
                "sox",
                str(raw),
                "-r",
                "8000",
                "-c",
                "1",
                "-b",
                "16",
                str(target),
                "silence",
                "1",
                "0.02",
                "0.5%",
                "reverse",
                "silence",
                "1",
                "0.02",
                "0.5%",
                "reverse",
                "pad",
                "0.05",
                "0.05",
                "gain",
                "-n",
                "-3",
            ],
            check=True,
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only verify the files exist")
    parser.add_argument(
        "--missing", action="store_true", help="only generate files that do not exist yet"
    )
    args = parser.parse_args(argv)
    if args.check:
        missing = [p for p in expected_files() if not p.exists()]
        for path in missing:
            print(f"missing: {path.relative_to(ROOT)}", file=sys.stderr)
        return 1 if missing else 0
    for tool in ("espeak-ng", "sox"):
        if shutil.which(tool) is None:
            print(f"{tool} not found: apt-get install espeak-ng sox", file=sys.stderr)
            return 2
    total = (len(PROMPTS) + len(TONES)) * len(VOICES)
    done = 0
    for name in [*PROMPTS, *TONES]:
        for lang in VOICES:
            target = OUT / lang / f"{name}.wav"
            done += 1
            if args.missing and target.exists():
                continue
            if name in TONES:
                make_tone(TONES[name], target)
            else:
                synthesise(PROMPTS[name][lang], lang, target)
            print(f"\r[{done}/{total}] {lang}/{name}".ljust(40), end="", file=sys.stderr)
    print(file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
