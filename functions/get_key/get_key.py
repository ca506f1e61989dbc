"""GET /projects/{project}/environments/{environment}/keys/{key_id}: one key, never its value or hash."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.utilities.typing import LambdaContext

from archie_keys.app.keys import get_key
from archie_keys.app.views import key_view
from archie_keys.edge.composition import get_services
from archie_keys.edge.http import caller_from, handle, json_response, logger, make_resolver, place

app = make_resolver()


@app.get("/projects/<project>/environments/<environment>/keys/<key_id>")
def key_get(project: str, environment: str, key_id: str) -> Response[Any]:
    record = get_key(get_services(), caller_from(app), place(project, environment), key_id)
    return json_response(200, key_view(record))


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return handle(app, event, context)
