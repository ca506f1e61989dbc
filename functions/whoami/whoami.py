"""GET /projects/{project}/environments/{environment}/whoami: the caller's resolved identity."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.utilities.typing import LambdaContext

from archie_keys.app.key_introspection import whoami
from archie_keys.edge import schemas
from archie_keys.edge.http import caller_from, handle, json_response, logger, make_resolver, place
from archie_keys.edge.openapi import SECURITY, EnvironmentPath, ProjectPath, answers

app = make_resolver()


@app.get(
    "/projects/<project>/environments/<environment>/whoami",
    summary="Who am I",
    description="The calling key's resolved identity: id, name, roles, permissions with filters filled from "
    "its context. Any valid key may ask; never the key or its hash.",
    operation_id="whoami",
    tags=["verify"],
    security=SECURITY,
    responses=answers({200: ("the caller", schemas.Identity)}, reaches_aws=False),
)
def who(project: ProjectPath, environment: EnvironmentPath) -> Response[Any]:
    return json_response(200, whoami(caller_from(app), place(project, environment)))


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return handle(app, event, context)
