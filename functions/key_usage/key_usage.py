"""GET /projects/{project}/environments/{environment}/keys/{key_id}/usage?since=: requests per hour."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.utilities.typing import LambdaContext

from archie_keys.app.audit import key_usage
from archie_keys.edge import key_schemas
from archie_keys.edge.composition import get_services
from archie_keys.edge.http import caller_from, handle, logger, make_resolver, place
from archie_keys.edge.openapi import SECURITY, EnvironmentPath, KeyIdPath, ProjectPath, TimeQuery, answers
from archie_keys.edge.responses import json_response

app = make_resolver()


@app.get(
    "/projects/<project>/environments/<environment>/keys/<key_id>/usage",
    summary="A key's usage",
    description="Requests per hour (allowed and refused) since `since` (default: the last 24 hours, at most "
    "90 days back) and the time of its last accepted request.",
    operation_id="keyUsage",
    tags=["keys"],
    security=SECURITY,
    responses=answers({200: ("requests per hour", key_schemas.Usage)}, 404),
)
def usage(
    project: ProjectPath, environment: EnvironmentPath, key_id: KeyIdPath, since: TimeQuery = None
) -> Response[Any]:
    answer = key_usage(get_services(), caller_from(app), place(project, environment), key_id, since or None)
    return json_response(200, answer)


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return handle(app, event, context)
