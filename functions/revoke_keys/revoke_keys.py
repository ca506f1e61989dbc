"""POST /projects/{project}/environments/{environment}/keys/revocations: revoke every active key whose context
holds given values, in seconds, whatever their number; GET .../keys/revocations/{revocation_id}: its progress.

The POST answers 202 once every key it covers is refused on every layer (the rule written, every stage
flushed after the authorizers' cache TTL); the keys are marked revoked in the background. With an
Idempotency-Key, a retry answers the same revocation."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.utilities.typing import LambdaContext

from archie_keys.app import idempotent
from archie_keys.app.mass_revocation import replay, revocation_status, revoke_keys
from archie_keys.edge import key_schemas
from archie_keys.edge.composition import get_services
from archie_keys.edge.http import caller_from, handle, logger, make_resolver, place
from archie_keys.edge.key_models import RevokeKeysBody
from archie_keys.edge.openapi import (
    SECURITY,
    EnvironmentPath,
    IdempotencyKeyHeader,
    ProjectPath,
    RevocationIdPath,
    answers,
)
from archie_keys.edge.responses import json_response

app = make_resolver()


@app.post(
    "/projects/<project>/environments/<environment>/keys/revocations",
    summary="Revoke every key with given context values",
    description="Revokes every active key of the environment whose context holds all the given values (`{}`: "
    "every key; an unfiltered `keys` delete grant only), however many: from the 202 on, every protected API "
    "refuses them all. The keys are then marked revoked in the background, each with its own `key.deleted` "
    "event naming the revocation; follow it with the GET below. A filtered caller revokes only within its "
    "rows (its filter fields, with its own values, in `context`): else 403 `privilege_escalation`. "
    "20 may run at once in an environment (409 `too_many_revocations`). With an `Idempotency-Key`, a retry "
    "answers the same revocation.",
    operation_id="revokeKeys",
    tags=["keys"],
    security=SECURITY,
    responses=answers(
        {202: ("every key it covers is refused everywhere; they are being marked", key_schemas.RevocationStarted)},
        404,
        409,
        links={
            "GetRevocation": {
                "operationId": "getRevocation",
                "parameters": {
                    "project": "$request.path.project",
                    "environment": "$request.path.environment",
                    "revocation_id": "$response.body#/revocation_id",
                },
                "description": "its progress",
            }
        },
    ),
)
def start(
    project: ProjectPath,
    environment: EnvironmentPath,
    body: RevokeKeysBody,
    idempotency_key: IdempotencyKeyHeader = None,
) -> Response[Any]:
    services, caller = get_services(), caller_from(app)
    command = body.to_command(place(project, environment))
    request = idempotent.request_for(command.place, caller, "revoke_keys", idempotency_key, body.fingerprinted())
    answer = idempotent.once(
        services, request, lambda ticket: revoke_keys(services, caller, command, ticket), replay=replay
    )
    location = f"/projects/{project}/environments/{environment}/keys/revocations/{answer['revocation_id']}"
    return json_response(202, answer, {"Location": location})


@app.get(
    "/projects/<project>/environments/<environment>/keys/revocations/<revocation_id>",
    summary="Read a mass revocation's progress",
    description="`running` while its keys are marked (each is refused all the same), then `done`. A revocation "
    "the caller's `keys` read does not cover answers 404 as if it did not exist.",
    operation_id="getRevocation",
    tags=["keys"],
    security=SECURITY,
    responses=answers({200: ("the revocation", key_schemas.Revocation)}, 404),
)
def progress(project: ProjectPath, environment: EnvironmentPath, revocation_id: RevocationIdPath) -> Response[Any]:
    view = revocation_status(get_services(), caller_from(app), place(project, environment), revocation_id)
    return json_response(200, view)


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return handle(app, event, context)
