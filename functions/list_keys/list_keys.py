"""GET /projects/{project}/environments/{environment}/keys?limit=&next_token=&name=&status=: newest first, paginated."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.utilities.typing import LambdaContext

from archie_keys.app.key_listing import list_keys
from archie_keys.app.views import key_view
from archie_keys.edge import key_schemas
from archie_keys.edge.composition import get_services
from archie_keys.edge.http import caller_from, handle, logger, make_resolver, page, place
from archie_keys.edge.openapi import (
    SECURITY,
    EnvironmentPath,
    LimitQuery,
    NameQuery,
    ProjectPath,
    StatusQuery,
    TokenQuery,
    answers,
)
from archie_keys.edge.responses import json_response

app = make_resolver()


@app.get(
    "/projects/<project>/environments/<environment>/keys",
    summary="List keys",
    description="The keys of the environment, newest first, that the caller's `keys` read covers (a filtered "
    "grant lists only the keys whose context it covers), in the statuses `status` names (default: every status "
    "but revoked), optionally only those whose name contains `name`. Never a key's value or hash.",
    operation_id="listKeys",
    tags=["keys"],
    security=SECURITY,
    responses=answers({200: ("a page of keys", key_schemas.KeyPage)}, 404),
)
def keys_list(
    project: ProjectPath,
    environment: EnvironmentPath,
    limit: LimitQuery = None,
    next_token: TokenQuery = None,
    name: NameQuery = None,
    status: StatusQuery = None,
) -> Response[Any]:
    request = page(limit, next_token, name)
    statuses = status.split(",") if status is not None else None
    keys, token = list_keys(get_services(), caller_from(app), place(project, environment), request, statuses)
    return json_response(200, {"keys": [key_view(record) for record in keys], "next_token": token})


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return handle(app, event, context)
