"""Role CRUD under /projects/{project}/environments/{environment}/roles."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.utilities.typing import LambdaContext

from archie_keys.app.roles import delete_role, get_role, list_roles, put_role
from archie_keys.app.views import role_view
from archie_keys.edge import environment_schemas
from archie_keys.edge.composition import get_services
from archie_keys.edge.environment_models import RoleBody
from archie_keys.edge.http import caller_from, handle, logger, make_resolver, page, place
from archie_keys.edge.openapi import (
    SECURITY,
    EnvironmentPath,
    LimitQuery,
    ProjectPath,
    RolePath,
    TokenQuery,
    answers,
)
from archie_keys.edge.responses import json_response

app = make_resolver()
BASE = "/projects/<project>/environments/<environment>/roles"


@app.get(
    BASE,
    summary="List roles",
    description="The roles of the environment, by name, with how many keys hold each (`key_count`, null "
    "unless the caller may read every key).",
    operation_id="listRoles",
    tags=["roles"],
    security=SECURITY,
    responses=answers({200: ("a page of roles", environment_schemas.RolePage)}, 404),
)
def roles_list(
    project: ProjectPath, environment: EnvironmentPath, limit: LimitQuery = None, next_token: TokenQuery = None
) -> Response[Any]:
    roles, token = list_roles(get_services(), caller_from(app), place(project, environment), page(limit, next_token))
    return json_response(200, {"roles": [role_view(r) for r in roles], "next_token": token})


@app.put(
    BASE + "/<role>",
    summary="Create or replace a role",
    description="A caller may define only what its own key covers (else 403 `privilege_escalation`). "
    "Replacing a role flushes the authorizer caches, so keys holding it lose what it no longer grants at once.",
    operation_id="putRole",
    tags=["roles"],
    security=SECURITY,
    responses=answers(
        {201: ("created", environment_schemas.Role), 200: ("replaced", environment_schemas.Role)}, 404, 409
    ),
)
def role_put(project: ProjectPath, environment: EnvironmentPath, role: RolePath, body: RoleBody) -> Response[Any]:
    command = body.to_command(place(project, environment), role)
    stored, created, flush = put_role(get_services(), caller_from(app), command)
    answer = role_view(stored)
    if flush is not None and flush.unflushed:
        answer["unflushed_stages"] = list(flush.unflushed)  # the edit holds; these stages may serve it late
    return json_response(201 if created else 200, answer)


@app.get(
    BASE + "/<role>",
    summary="Read a role",
    operation_id="getRole",
    tags=["roles"],
    security=SECURITY,
    responses=answers({200: ("the role", environment_schemas.Role)}, 404),
)
def role_get(project: ProjectPath, environment: EnvironmentPath, role: RolePath) -> Response[Any]:
    return json_response(200, role_view(get_role(get_services(), caller_from(app), place(project, environment), role)))


@app.delete(
    BASE + "/<role>",
    summary="Delete a role",
    description="Only a role no key holds (else 409 `role_in_use`; rolling a key keeps its roles).",
    operation_id="deleteRole",
    tags=["roles"],
    security=SECURITY,
    responses=answers({204: ("deleted", None)}, 404, 409),
)
def role_delete(project: ProjectPath, environment: EnvironmentPath, role: RolePath) -> Response[Any]:
    delete_role(get_services(), caller_from(app), place(project, environment), role)
    return json_response(204, None)


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return handle(app, event, context)
