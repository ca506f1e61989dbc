"""Role CRUD under /projects/{project}/environments/{environment}/roles."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.utilities.typing import LambdaContext

from archie_keys.app.roles import delete_role, get_role, list_roles, put_role
from archie_keys.app.views import role_view
from archie_keys.edge.composition import get_services
from archie_keys.edge.http import caller_from, handle, json_response, logger, make_resolver, page_request, place
from archie_keys.edge.models import RoleBody

app = make_resolver()
BASE = "/projects/<project>/environments/<environment>/roles"


@app.get(BASE)
def roles_list(project: str, environment: str) -> Response[Any]:
    roles, next_token = list_roles(get_services(), caller_from(app), place(project, environment), page_request(app))
    return json_response(200, {"roles": [role_view(r) for r in roles], "next_token": next_token})


@app.put(BASE + "/<role>")
def role_put(project: str, environment: str, role: str, body: RoleBody) -> Response[Any]:
    command = body.to_command(place(project, environment), role)
    stored, created, flush = put_role(get_services(), caller_from(app), command)
    answer = role_view(stored)
    if flush is not None and flush.unflushed:
        answer["unflushed_stages"] = list(flush.unflushed)  # the edit holds; these stages may serve it late
    return json_response(201 if created else 200, answer)


@app.get(BASE + "/<role>")
def role_get(project: str, environment: str, role: str) -> Response[Any]:
    return json_response(200, role_view(get_role(get_services(), caller_from(app), place(project, environment), role)))


@app.delete(BASE + "/<role>")
def role_delete(project: str, environment: str, role: str) -> Response[Any]:
    delete_role(get_services(), caller_from(app), place(project, environment), role)
    return json_response(204, None)


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return handle(app, event, context)
