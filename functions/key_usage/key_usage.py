"""GET /projects/{project}/environments/{environment}/keys/{key_id}/usage?since=: requests per hour."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.utilities.typing import LambdaContext

from archie_keys.app.audit import key_usage
from archie_keys.edge.composition import get_services
from archie_keys.edge.http import caller_from, handle, json_response, logger, make_resolver, place, query_value

app = make_resolver()


@app.get("/projects/<project>/environments/<environment>/keys/<key_id>/usage")
def usage(project: str, environment: str, key_id: str) -> Response[Any]:
    since = query_value(app, "since")
    answer = key_usage(get_services(), caller_from(app), place(project, environment), key_id, since)
    return json_response(200, answer)


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return handle(app, event, context)
