"""The published JSON Schema of the IVR API, generated from :mod:`callvault.ivr.models`.

One document (JSON Schema 2020-12) with the request the platform POSTs and
the response the application returns (shared/spec/ivr-api.md, "Request" and
"Response"); ``scripts/export_ivr_schema.py`` writes it to
``docs/ivr-api.schema.json`` and a test keeps that file equal to the models.
Limits JSON Schema cannot express (Session ≤ 16 KiB, Tag Data ≤ 4 KiB, either
``Action`` or ``Actions``) are in the descriptions and enforced by
:func:`callvault.ivr.validate.parse_response`.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic.json_schema import models_json_schema

from callvault.ivr.models import IvrRequest, IvrResponse

DIALECT = "https://json-schema.org/draft/2020-12/schema"


def build_schema() -> dict[str, Any]:
    """The schema document: ``anyOf`` request or response, with every model in ``$defs``."""
    _, defs = models_json_schema(
        [(IvrRequest, "validation"), (IvrResponse, "validation")],
        ref_template="#/$defs/{model}",
    )
    return {
        "$schema": DIALECT,
        "title": "callvault IVR API",
        "description": (
            "Request (platform -> application, POST body) and response "
            "(application -> platform) of the IVR API; see shared/spec/ivr-api.md. "
            "Numbers may be sent as decimal strings and texts as numbers."
        ),
        "anyOf": [{"$ref": "#/$defs/IvrRequest"}, {"$ref": "#/$defs/IvrResponse"}],
        "$defs": defs["$defs"],
    }


def render_schema() -> str:
    """The exact text of ``docs/ivr-api.schema.json``."""
    return json.dumps(build_schema(), indent=2, ensure_ascii=False) + "\n"
