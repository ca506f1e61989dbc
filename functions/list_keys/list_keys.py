"""GET /projects/{project}/environments/{environment}/keys?limit=&next_token=: newest first, paginated."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.utilities.typing import LambdaContext

from archie_keys.app.keys import list_keys
from archie_keys.app.views import key_view
from archie_keys.edge.composition import get_services
from archie_keys.edge.http import caller_from, handle, json_response, logger, make_resolver, page_request, place

app = make_resolver()


@app.get("/projects/<project>/environments/<environment>/keys")
def keys_list(project: str, environment: str) -> Response[Any]:
    keys, next_token = list_keys(get_services(), caller_from(app), place(project, environment), page_request(app))
    return json_response(200, {"keys": [key_view(record) for record in keys], "next_token": next_token})


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return handle(app, event, context)
