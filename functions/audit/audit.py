"""GET /projects/{project}/environments/{environment}/audit?key_id=&actor_key_id=&since=&until=&limit=&next_token=

Newest first, paginated; a page costs the same however many records the key has."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.utilities.typing import LambdaContext

from archie_keys.app.audit import query_audit
from archie_keys.app.commands import AuditQuery
from archie_keys.edge import audit_schemas
from archie_keys.edge.composition import get_services
from archie_keys.edge.http import caller_from, handle, logger, make_resolver, page, place
from archie_keys.edge.openapi import (
    SECURITY,
    EnvironmentPath,
    KeyIdQuery,
    KindQuery,
    LimitQuery,
    ProjectPath,
    TimeQuery,
    TokenQuery,
    answers,
)
from archie_keys.edge.responses import json_response

app = make_resolver()


@app.get(
    "/projects/<project>/environments/<environment>/audit",
    summary="Query the audit trail",
    description="Requests and management events, newest first: by the key they used or are about "
    "(`key_id`), by the key that made a change (`actor_key_id`), in a time range. A filtered `audit` grant "
    "sees only the records of the keys its filters cover.",
    operation_id="queryAudit",
    tags=["audit"],
    security=SECURITY,
    responses=answers({200: ("a page of records", audit_schemas.AuditPage)}, 404),
)
def audit(
    project: ProjectPath,
    environment: EnvironmentPath,
    key_id: KeyIdQuery = None,
    actor_key_id: KeyIdQuery = None,
    since: TimeQuery = None,
    until: TimeQuery = None,
    limit: LimitQuery = None,
    next_token: TokenQuery = None,
    kind: KindQuery = None,
) -> Response[Any]:
    command = AuditQuery(
        kind=kind,
        place=place(project, environment),
        page=page(limit, next_token),
        key_id=key_id or None,
        actor_key_id=actor_key_id or None,
        since=since or None,
        until=until or None,
    )
    return json_response(200, query_audit(get_services(), caller_from(app), command))


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return handle(app, event, context)
