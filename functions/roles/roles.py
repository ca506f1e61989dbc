"""Role CRUD under /projects/{project}/environments/{environment}/roles."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.utilities.typing import LambdaContext

from archie_keys.http import caller_from, handle, json_response, logger, make_resolver, query_limit, query_token
from archie_keys.models import RoleBody
from archie_keys.roles import delete_role, get_role, list_roles, put_role, role_view
from archie_keys.runtime import get_audit_log, get_store
from archie_keys.settings import get_settings

app = make_resolver()
BASE = "/projects/<project>/environments/<environment>/roles"


@app.get(BASE)
def roles_list(project: str, environment: str) -> Response[Any]:
    page = list_roles(get_store(), caller_from(app), project, environment, query_limit(app), query_token(app))
    return json_response(200, {"roles": [role_view(r) for r in page.items], "next_token": page.next_token})


@app.put(BASE + "/<role>")
def role_put(project: str, environment: str, role: str, body: RoleBody) -> Response[Any]:
    stored, created = put_role(
        get_store(), get_settings(), caller_from(app), project, environment, role, body, get_audit_log()
    )
    return json_response(201 if created else 200, role_view(stored))


@app.get(BASE + "/<role>")
def role_get(project: str, environment: str, role: str) -> Response[Any]:
    return json_response(200, role_view(get_role(get_store(), caller_from(app), project, environment, role)))


@app.delete(BASE + "/<role>")
def role_delete(project: str, environment: str, role: str) -> Response[Any]:
    delete_role(get_store(), caller_from(app), project, environment, role, get_audit_log())
    return json_response(204, None)


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return handle(app, event, context)
