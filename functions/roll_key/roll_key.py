"""POST /projects/{project}/environments/{environment}/keys/{key_id}/roll: rotate a key.

The successor (same name, prefix, roles, context) is returned once; the old key expires after
grace_seconds. With secret_name, the successor is also written to that Secrets Manager secret."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.utilities.typing import LambdaContext

from archie_keys.app.keys import key_view, new_key_response, roll_key
from archie_keys.edge.composition import get_services
from archie_keys.edge.http import caller_from, handle, json_response, logger, make_resolver, place
from archie_keys.edge.models import RollKeyBody

app = make_resolver()


@app.post("/projects/<project>/environments/<environment>/keys/<key_id>/roll")
def roll(project: str, environment: str, key_id: str, body: RollKeyBody) -> Response[Any]:
    command = body.to_command(place(project, environment), key_id)
    successor, old = roll_key(get_services(), caller_from(app), command)
    response = {**new_key_response(successor), "rolled_from": key_view(old)}
    return json_response(201, response, {"Cache-Control": "no-store"})


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return handle(app, event, context)
