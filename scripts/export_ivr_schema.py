#!/usr/bin/env python3
"""Write the IVR API JSON Schema, generated from the models, to ``docs/ivr-api.schema.json``.

Run after changing :mod:`callvault.ivr.models`; ``--check`` only compares and
exits 1 when the file is stale (tests/unit/ivr/test_models.py checks the same).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from callvault.ivr.schema import render_schema

OUT = Path(__file__).resolve().parents[1] / "docs" / "ivr-api.schema.json"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="only check the file is current")
    args = parser.parse_args()
    text = render_schema()
    if args.check:
        current = OUT.read_text(encoding="utf-8") if OUT.exists() else ""
        if current != text:
            print(f"{OUT} is stale: run scripts/export_ivr_schema.py", file=sys.stderr)
            return 1
        return 0
    OUT.write_text(text, encoding="utf-8")
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
