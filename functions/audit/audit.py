"""GET /projects/{project}/environments/{environment}/audit?key_id=&actor_key_id=&since=&until=&limit=&next_token=

Newest first, paginated; a page costs the same however many records the key has."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.utilities.typing import LambdaContext

from archie_keys.app.audit import query_audit
from archie_keys.app.commands import AuditQuery
from archie_keys.edge.composition import get_services
from archie_keys.edge.http import (
    caller_from,
    handle,
    json_response,
    logger,
    make_resolver,
    page_request,
    place,
    query_value,
)

app = make_resolver()


@app.get("/projects/<project>/environments/<environment>/audit")
def audit(project: str, environment: str) -> Response[Any]:
    command = AuditQuery(
        place=place(project, environment),
        page=page_request(app),
        key_id=query_value(app, "key_id"),
        actor_key_id=query_value(app, "actor_key_id"),
        since=query_value(app, "since"),
        until=query_value(app, "until"),
    )
    records, next_token = query_audit(get_services(), caller_from(app), command)
    return json_response(200, {"records": records, "next_token": next_token})


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return handle(app, event, context)
