"""Trust policies under /projects/{project}/environments/{environment}/trust: which pipelines' OIDC tokens
become which short-lived keys (docs/federation.md)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.utilities.typing import LambdaContext

from archie_keys.app.trust import delete_trust_policy, get_trust_policy, list_trust_policies, put_trust_policy
from archie_keys.domain import limits
from archie_keys.edge import federation_schemas
from archie_keys.edge.composition import get_services
from archie_keys.edge.federation_models import TrustPolicyBody
from archie_keys.edge.http import caller_from, handle, logger, make_resolver, place
from archie_keys.edge.openapi import SECURITY, EnvironmentPath, ProjectPath, TrustPolicyPath, answers
from archie_keys.edge.responses import json_response

app = make_resolver()
BASE = "/projects/<project>/environments/<environment>/trust"


@app.get(
    BASE,
    summary="List trust policies",
    description="Every trust policy of the environment, by name (at most 50, so one page).",
    operation_id="listTrustPolicies",
    tags=["federation"],
    security=SECURITY,
    responses=answers({200: ("the environment's trust policies", federation_schemas.TrustPolicyList)}, 404),
)
def trust_list(project: ProjectPath, environment: EnvironmentPath) -> Response[Any]:
    policies = list_trust_policies(get_services(), caller_from(app), place(project, environment))
    return json_response(200, {"trust_policies": policies})


@app.put(
    BASE + "/<name>",
    summary="Create or replace a trust policy",
    description="Tokens of `issuer` for `audience` whose `sub` matches `subject` and whose claims match "
    "`claims` may be exchanged for a key with `roles` and `context` living at most `max_ttl_seconds`. Needs "
    "`trust` write, and the caller must be able to create that key itself (else 403 `privilege_escalation`). "
    "A subject with wildcards must name a whole repository or project; the issuer must be https. At most "
    f"{limits.TRUST_CHANGES_PER_ENVIRONMENT_PER_MINUTE} changes a minute per environment (429 `rate_limited`).",
    operation_id="putTrustPolicy",
    tags=["federation"],
    security=SECURITY,
    responses=answers(
        {201: ("created", federation_schemas.TrustPolicy), 200: ("replaced", federation_schemas.TrustPolicy)},
        404,
        409,
        429,
    ),
)
def trust_put(
    project: ProjectPath, environment: EnvironmentPath, name: TrustPolicyPath, body: TrustPolicyBody
) -> Response[Any]:
    services = get_services()
    view, created = put_trust_policy(
        services,
        caller_from(app),
        place(project, environment),
        name,
        body.as_body(),
        allow_loopback_http=services.config.oidc_allow_loopback_http,
    )
    return json_response(201 if created else 200, view)


@app.get(
    BASE + "/<name>",
    summary="Read a trust policy",
    operation_id="getTrustPolicy",
    tags=["federation"],
    security=SECURITY,
    responses=answers({200: ("the trust policy", federation_schemas.TrustPolicy)}, 404),
)
def trust_get(project: ProjectPath, environment: EnvironmentPath, name: TrustPolicyPath) -> Response[Any]:
    return json_response(200, get_trust_policy(get_services(), caller_from(app), place(project, environment), name))


@app.delete(
    BASE + "/<name>",
    summary="Delete a trust policy",
    description="No token matches it from now on; keys it made live out their short lives unless deleted.",
    operation_id="deleteTrustPolicy",
    tags=["federation"],
    security=SECURITY,
    responses=answers({204: ("deleted", None)}, 404, 409, 429),
)
def trust_delete(project: ProjectPath, environment: EnvironmentPath, name: TrustPolicyPath) -> Response[Any]:
    delete_trust_policy(get_services(), caller_from(app), place(project, environment), name)
    return json_response(204, None)


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return handle(app, event, context)
