"""DELETE /projects/{project}/environments/{environment}/keys/{key_id}: revoke a key.

Answers 204 once the key is refused at every layer (DynamoDB, warm authorizers, API Gateway caches), or 202
naming the stages whose cache could not be flushed (the revocation holds; those stages may accept the key
until their cached answer expires)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.utilities.typing import LambdaContext

from archie_keys.app.revocation import revoke_key
from archie_keys.edge import key_schemas
from archie_keys.edge.composition import get_services
from archie_keys.edge.http import caller_from, handle, logger, make_resolver, place
from archie_keys.edge.openapi import SECURITY, EnvironmentPath, KeyIdPath, ProjectPath, UnusedForQuery, answers
from archie_keys.edge.responses import json_response

app = make_resolver()


@app.delete(
    "/projects/<project>/environments/<environment>/keys/<key_id>",
    summary="Revoke a key",
    description="Revokes the key: from the answer on, every layer (DynamoDB, warm authorizers, API Gateway's "
    "caches) refuses it. A key the caller's filters do not cover answers 404 as if it did not exist. With "
    "`if_unused_for`, only a key with no accepted request for that many seconds up to the moment the DELETE "
    "arrived: else 409 `key_in_use`, naming its last use and recent request count, or 503 with Retry-After "
    "when that cannot be proven within a few seconds (neither the authorizer's record of the key's last "
    "authorization nor the audit proves it); in both cases nothing changes.",
    operation_id="deleteKey",
    tags=["keys"],
    security=SECURITY,
    responses=answers(
        {
            204: ("revoked and refused everywhere", None),
            202: ("revoked; some stages' caches could not be flushed and are named", key_schemas.Revoked),
        },
        404,
        409,
    ),
)
def key_delete(
    project: ProjectPath, environment: EnvironmentPath, key_id: KeyIdPath, if_unused_for: UnusedForQuery = None
) -> Response[Any]:
    idle = int(if_unused_for) if if_unused_for else None
    revocation = revoke_key(get_services(), caller_from(app), place(project, environment), key_id, idle)
    if revocation.flush.unflushed:
        return json_response(
            202,
            {
                "key_id": key_id,
                "revoked_at": revocation.record.revoked_at,
                "unflushed_stages": list(revocation.flush.unflushed),
                "message": "the key is revoked; these stages' caches could not be flushed and may accept it "
                "until their cached answer expires (ReauthorizeEvery)",
            },
        )
    return json_response(204, None)


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return handle(app, event, context)
