"""POST /projects/{project}/environments/{environment}/keys/{key_id}/roll: rotate a key.

The successor (same name, prefix, roles, context) is returned once; the old key expires after
grace_seconds. With secret_name, the successor is also written to that Secrets Manager secret. With an
Idempotency-Key header, a retry returns the same successor and rolls nothing again."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.utilities.typing import LambdaContext

from archie_keys.app import idempotent
from archie_keys.app.rotation import roll_key
from archie_keys.app.views import key_view, new_key_response
from archie_keys.edge import schemas
from archie_keys.edge.composition import get_services
from archie_keys.edge.http import caller_from, handle, json_response, logger, make_resolver, place
from archie_keys.edge.models import RollKeyBody
from archie_keys.edge.openapi import (
    SECURITY,
    EnvironmentPath,
    IdempotencyKeyHeader,
    KeyIdPath,
    ProjectPath,
    answers,
    created_key_links,
)

app = make_resolver()


@app.post(
    "/projects/<project>/environments/<environment>/keys/<key_id>/roll",
    summary="Roll (rotate) a key",
    description="Creates a successor with the same name, prefix, roles and context (its value in this answer "
    "only) and makes the old key expire after `grace_seconds`. An expiring key's successor keeps its lifetime "
    "unless `expires_at` is given. With `secret_name` the successor is written to that secret (the old key's "
    "own secret, or another key's with `replace_secret`).",
    operation_id="rollKey",
    tags=["keys"],
    security=SECURITY,
    responses=answers(
        {201: ("the successor; `key` is shown this once", schemas.RolledKey)}, 404, 409, links=created_key_links()
    ),
)
def roll(
    project: ProjectPath,
    environment: EnvironmentPath,
    key_id: KeyIdPath,
    body: RollKeyBody,
    idempotency_key: IdempotencyKeyHeader = None,
) -> Response[Any]:
    services, caller = get_services(), caller_from(app)
    command = body.to_command(place(project, environment), key_id)
    request = idempotent.roll_request(command.place, caller, key_id, idempotency_key, body.fingerprinted())

    def roll_once(ticket: idempotent.Ticket | None) -> dict[str, Any]:
        successor, old, flush = roll_key(services, caller, command, ticket)
        answer = {**new_key_response(successor), "old_key": key_view(old)}
        if flush is not None and flush.unflushed:
            answer["unflushed_stages"] = list(flush.unflushed)  # the roll holds; these stages may serve it late
        return answer

    answer = idempotent.once(services, request, roll_once)
    # An answer stored for a replay (24 h) before the old key was called `old_key` names it `rolled_from`: the
    # replay answers it as it would be answered today.
    if isinstance(answer.get("rolled_from"), dict):
        answer["old_key"] = answer.pop("rolled_from")
    return json_response(201, answer, {"Cache-Control": "no-store"})


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return handle(app, event, context)
