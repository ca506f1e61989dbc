"""PATCH /projects/{project}/environments/{environment}/keys/{key_id}: change a key in place.

Answers once the change is in force at every layer (DynamoDB, warm authorizers, API Gateway caches), or names
the stages whose cache could not be flushed (the change holds; those stages may answer the key as it was
until their cached answer expires)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.utilities.typing import LambdaContext

from archie_keys.app.key_updates import update_key
from archie_keys.app.views import key_view
from archie_keys.edge import key_schemas
from archie_keys.edge.composition import get_services
from archie_keys.edge.http import caller_from, handle, logger, make_resolver, place
from archie_keys.edge.key_models import UpdateKeyBody
from archie_keys.edge.openapi import SECURITY, EnvironmentPath, KeyIdPath, ProjectPath, answers
from archie_keys.edge.responses import json_response

app = make_resolver()


@app.patch(
    "/projects/<project>/environments/<environment>/keys/<key_id>",
    summary="Change a key",
    description="Changes any of `name`, `roles`, `context`, `expires_at` (null: never expires), `allowed_cidrs`, "
    "`limits` (null: none) and `enabled`; a field left out stays as it is. A change that could give the "
    "key more (roles, context, a later expiry, enabling it) is checked as a create is (no privilege "
    "escalation, the context its roles read); the caller's filters must cover the key before and after. "
    "`enabled: false` refuses the key everywhere (reason `disabled`) until `enabled: true`; it keeps its "
    "value. The answer comes once the change is in force on every protected API. A key the caller's "
    "filters do not cover answers 404; a revoked, rolled or expired key 409 `key_not_active`. A change of "
    "`limits` moves the key's rotation chain to the usage plan of the new limits first: if API Gateway "
    "fails, 503 with Retry-After and the key unchanged; the account's API keys or usage plans used up, "
    "409 `limits_capacity`.",
    operation_id="updateKey",
    tags=["keys"],
    security=SECURITY,
    responses=answers({200: ("the key as changed", key_schemas.UpdatedKey)}, 404, 409),
)
def key_update(
    project: ProjectPath, environment: EnvironmentPath, key_id: KeyIdPath, body: UpdateKeyBody
) -> Response[Any]:
    command = body.to_command(place(project, environment), key_id)
    update = update_key(get_services(), caller_from(app), command)
    answer = key_view(update.record)
    if update.flush is not None and update.flush.unflushed:
        answer["unflushed_stages"] = list(update.flush.unflushed)  # the change holds; these stages may lag
    return json_response(200, answer)


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return handle(app, event, context)
