"""PUT|GET /projects/{project}/environments/{environment}: declare (idempotent) and read an environment."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body
from aws_lambda_powertools.utilities.typing import LambdaContext

from archie_keys.app.environments import declare_environment, get_environment
from archie_keys.edge import environment_schemas
from archie_keys.edge.composition import get_services
from archie_keys.edge.environment_models import EnvironmentBody
from archie_keys.edge.http import caller_from, handle, logger, make_resolver, place
from archie_keys.edge.openapi import SECURITY, EnvironmentPath, ProjectPath, answers
from archie_keys.edge.responses import json_response

app = make_resolver()


@app.put(
    "/projects/<project>/environments/<environment>",
    summary="Declare the environment",
    description="Idempotent: 201 when it is declared now, 200 when it already was (nothing changes then, unless "
    "the body sets another `on_leak` or `legacy_keys`; refusing legacy keys while one is active is 409 "
    "`legacy_keys_active`).",
    operation_id="declareEnvironment",
    tags=["environments"],
    security=SECURITY,
    responses=answers(
        {
            201: ("declared now", environment_schemas.Environment),
            200: ("already declared", environment_schemas.Environment),
        }
    ),
)
def put_environment(
    project: ProjectPath, environment: EnvironmentPath, body: Annotated[EnvironmentBody | None, Body()] = None
) -> Response[Any]:
    on_leak = body.on_leak if body is not None else None
    legacy_keys = body.legacy_keys if body is not None else None
    record, created = declare_environment(
        get_services(), caller_from(app), place(project, environment), on_leak, legacy_keys
    )
    return json_response(201 if created else 200, record)


@app.get(
    "/projects/<project>/environments/<environment>",
    summary="Read the environment",
    operation_id="getEnvironment",
    tags=["environments"],
    security=SECURITY,
    responses=answers({200: ("the declaration", environment_schemas.Environment)}, 404),
)
def read_environment(project: ProjectPath, environment: EnvironmentPath) -> Response[Any]:
    return json_response(200, get_environment(get_services(), caller_from(app), place(project, environment)))


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return handle(app, event, context)
