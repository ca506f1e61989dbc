"""POST /projects/{project}/environments/{environment}/verify: check a key (and optionally one permission)
for callers that are not behind API Gateway: a queue consumer, another gateway."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.utilities.typing import LambdaContext

from archie_keys.app.key_introspection import verify_key
from archie_keys.edge import schemas
from archie_keys.edge.composition import get_services
from archie_keys.edge.http import caller_from, handle, json_response, logger, make_resolver, place
from archie_keys.edge.models import VerifyBody
from archie_keys.edge.openapi import SECURITY, EnvironmentPath, ProjectPath, answers

app = make_resolver()


@app.post(
    "/projects/<project>/environments/<environment>/verify",
    summary="Verify a key",
    description="Whether a presented key is valid in this environment (and may do `action` on `resource`), "
    "with its resolved identity when it is. An unknown key and a wrong secret both answer `not_found`.",
    operation_id="verifyKey",
    tags=["verify"],
    security=SECURITY,
    responses=answers({200: ("the verdict", schemas.Verdict)}),
)
def verify(project: ProjectPath, environment: EnvironmentPath, body: VerifyBody) -> Response[Any]:
    answer = verify_key(get_services(), caller_from(app), body.to_command(place(project, environment)))
    return json_response(200, answer, {"Cache-Control": "no-store"})


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return handle(app, event, context)
