"""Property-based API test: schemathesis drives every operation of the OpenAPI schema.

The node's app runs under a real uvicorn on 127.0.0.1 (seeded like every web
test, on SQLite and on PostgreSQL); schemathesis generates requests from the
app's own OpenAPI document and sends them, with an administrator's API token,
from a worker thread (its client is synchronous, the server shares the
test's event loop).  The one check is ``not_a_server_error``: whatever the
input, no operation may answer 5xx.  Each operation gets a fixed, small
number of derandomised examples, so the run is repeatable and short.

Left out: ``GET /api/v1/events``, a Server-Sent Events stream that never
ends by design (its refusals are tested in ``test_events_stream.py``).
Binary answers (recordings' audio, prompts' audio) are finite and stay in.
"""

from __future__ import annotations

import asyncio
from typing import Any

import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import Case
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.generation import GenerationMode

from tests.web.conftest import World
from tests.web.servers import serve, token_for

EXAMPLES = 6
"""Examples per operation and generation mode."""
EXCLUDED = {("GET", "/api/v1/events")}


def run_schemathesis(document: dict[str, Any], base_url: str, token: str) -> list[str]:
    """Fuzz every operation; the failures, one line each (runs in a worker thread)."""
    schema = schemathesis.openapi.from_dict(document)
    headers = {"Authorization": f"Bearer {token}"}
    failures: list[str] = []
    tried = 0
    for result in schema.get_all_operations():
        if not isinstance(result, Ok):
            failures.append(f"the schema has an invalid operation: {result.err()}")
            continue
        operation = result.ok()
        if (operation.method.upper(), operation.path) in EXCLUDED:
            continue
        tried += 1
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @given(case=operation.as_strategy(mode))
            @settings(
                max_examples=EXAMPLES,
                deadline=None,
                database=None,
                derandomize=True,
                phases=[Phase.explicit, Phase.generate],
                suppress_health_check=list(HealthCheck),
            )
            def check(case: Case[Any]) -> None:
                response = case.call(base_url=base_url, headers=headers, timeout=30)
                case.validate_response(response, checks=[not_a_server_error])

            try:
                check()
            except Unsatisfiable:
                continue  # nothing of this operation can be made invalid (no parameters)
            except (Exception, BaseExceptionGroup) as exc:  # a failure: report, go on
                first = str(exc).strip().splitlines()[:6]
                failures.append(f"{operation.label} ({mode.value}): " + " | ".join(first))
    assert tried > 40, f"only {tried} operations in the schema?"
    return failures


async def test_no_operation_answers_a_server_error(world: World) -> None:
    token = await token_for(world, "administrator")
    document = world.app.openapi()
    async with serve(world.app) as port:
        failures = await asyncio.to_thread(
            run_schemathesis, document, f"http://127.0.0.1:{port}", token
        )
    assert failures == [], "\n".join(failures)
