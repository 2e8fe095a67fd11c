"""Property-based fuzzing of the API from its own OpenAPI document (schemathesis,
in-process ASGI, derandomized, bounded): no 5xx, and every response, problem+json
included, conforms to what the document says."""

from __future__ import annotations

import json

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import checks

from service.app import create_app
from service.settings import Settings
from tests.reliability.conftest import CITES_S1, AlwaysLLM

#: Examples per operation: ~100 in all over the two with real input (POST /v1/analyses,
#: GET /problems/{slug}); /healthz and /readyz take no input and need one or two.
EXAMPLES_PER_OPERATION = 50

app = create_app(
    Settings(model="openai/local", max_text_chars=5_000, _env_file=None),  # type: ignore[call-arg]
    AlwaysLLM(json.dumps(CITES_S1)),
)
schema = schemathesis.openapi.from_asgi("/openapi.json", app)

CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_headers_conformance,
    checks.response_schema_conformance,
]


@schema.parametrize()
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    derandomize=True,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    database=None,
)
def test_api_conforms_to_its_openapi(case: schemathesis.Case) -> None:
    case.call_and_validate(checks=CHECKS)
