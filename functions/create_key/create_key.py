"""POST /projects/{project}/environments/{environment}/keys: create a key; its value is returned this once.

With an Idempotency-Key header, a retry returns the same response and creates nothing."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.utilities.typing import LambdaContext

from archie_keys.app import idempotent
from archie_keys.app.keys import create_key
from archie_keys.app.views import new_key_response
from archie_keys.edge import schemas
from archie_keys.edge.composition import get_services
from archie_keys.edge.http import caller_from, handle, json_response, logger, make_resolver, place
from archie_keys.edge.models import CreateKeyBody
from archie_keys.edge.openapi import (
    SECURITY,
    EnvironmentPath,
    IdempotencyKeyHeader,
    ProjectPath,
    answers,
    created_key_links,
)

app = make_resolver()


@app.post(
    "/projects/<project>/environments/<environment>/keys",
    summary="Create a key",
    description="Creates a key with the given roles and context; its value is in this answer only. With "
    "`secret_name` the value is also written to that Secrets Manager secret (409 `secret_in_use` when it holds "
    "another live key's value, unless `replace_secret`). With an `Idempotency-Key`, a "
    "retry with the same body returns the same answer (key included) and creates nothing.",
    operation_id="createKey",
    tags=["keys"],
    security=SECURITY,
    responses=answers(
        {201: ("the new key; `key` is shown this once", schemas.NewKey)}, 404, 409, links=created_key_links()
    ),
)
def create(
    project: ProjectPath,
    environment: EnvironmentPath,
    body: CreateKeyBody,
    idempotency_key: IdempotencyKeyHeader = None,
) -> Response[Any]:
    services, caller = get_services(), caller_from(app)
    command = body.to_command(place(project, environment))
    request = idempotent.create_request(command.place, caller, idempotency_key, body.fingerprinted())
    response = idempotent.once(
        services, request, lambda ticket: new_key_response(create_key(services, caller, command, ticket))
    )
    location = f"/projects/{project}/environments/{environment}/keys/{response['key_id']}"
    # no-store: the only copy of the key value must not linger in a proxy or browser cache.
    return json_response(201, response, {"Location": location, "Cache-Control": "no-store"})


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return handle(app, event, context)
