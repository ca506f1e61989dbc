"""GET /projects/{project}/environments/{environment}/keys/{key_id}: one key, never its value or hash."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.utilities.typing import LambdaContext

from archie_keys.app.key_lookup import get_key
from archie_keys.app.views import key_view
from archie_keys.edge import key_schemas
from archie_keys.edge.composition import get_services
from archie_keys.edge.http import caller_from, handle, logger, make_resolver, place
from archie_keys.edge.openapi import SECURITY, EnvironmentPath, KeyIdPath, ProjectPath, answers
from archie_keys.edge.responses import json_response

app = make_resolver()


@app.get(
    "/projects/<project>/environments/<environment>/keys/<key_id>",
    summary="Read a key",
    description="One key in any status, never its value or hash: a revoked key is shown (with `revoked_at`, "
    "`revoked_by`, `revoked_reason`) for 30 days. Unknown and uncovered keys answer 404 alike.",
    operation_id="getKey",
    tags=["keys"],
    security=SECURITY,
    responses=answers({200: ("the key", key_schemas.Key)}, 404),
)
def key_get(project: ProjectPath, environment: EnvironmentPath, key_id: KeyIdPath) -> Response[Any]:
    record = get_key(get_services(), caller_from(app), place(project, environment), key_id)
    return json_response(200, key_view(record))


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return handle(app, event, context)
