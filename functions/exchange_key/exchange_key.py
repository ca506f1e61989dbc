"""POST /projects/{project}/environments/{environment}/keys/exchange: a pipeline's OIDC token for a short-lived
key. No API key: the token is the credential, checked against the environment's trust policies."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.utilities.typing import LambdaContext

from archie_keys.app.commands import Place
from archie_keys.app.exchange import ExchangeToken, exchange_token
from archie_keys.app.views import new_key_response
from archie_keys.domain import limits
from archie_keys.domain.oidc_errors import TokenRefusedError
from archie_keys.edge import key_schemas
from archie_keys.edge.composition import get_services
from archie_keys.edge.federation_models import ExchangeBody
from archie_keys.edge.http import handle, logger, make_resolver
from archie_keys.edge.openapi import EnvironmentPath, ProjectPath, answers
from archie_keys.edge.responses import error_response, json_response

app = make_resolver()


def _refused(error: TokenRefusedError) -> Response[Any]:
    # The client hears one answer whatever failed; which check it was goes to the operator (never the token).
    logger.warning("oidc token refused", extra={"reason": error.reason, "detail": error.detail})
    return error_response(error)


app.exception_handler(TokenRefusedError)(_refused)  # by call: Powertools' decorator is unannotated


@app.post(
    "/projects/<project>/environments/<environment>/keys/exchange",
    summary="Exchange a pipeline's OIDC token for a short-lived key",
    description="Needs no key: the token (GitHub Actions, GitLab CI, any OIDC issuer a trust policy names) is "
    "verified with its issuer's published keys and matched with the environment's trust policies; the most "
    "specific match gives the key its roles and context, and its life (`ttl_seconds`, at most the policy's "
    "`max_ttl_seconds`, 15 minutes by default). A token is usable once. Every refusal is 401 `unauthorized` "
    '"the token was refused"; an issuer that cannot be read, 503 with Retry-After. At most '
    f"{limits.EXCHANGES_PER_ENVIRONMENT_PER_MINUTE} exchanges of trusted tokens a minute per environment (429 "
    "`rate_limited`).",
    operation_id="exchangeToken",
    tags=["federation"],
    security=[],
    responses=answers({201: ("the new key; `key` is shown this once", key_schemas.NewKey)}, 409, authenticated=False),
)
def exchange(project: ProjectPath, environment: EnvironmentPath, body: ExchangeBody) -> Response[Any]:
    command = ExchangeToken(Place(project, environment), body.token, body.name, body.ttl_seconds)
    services = get_services()
    created = exchange_token(services, services.oidc_verifier, command)
    logger.info(
        "oidc token exchanged",
        extra={"key_id": created.record.key_id, "actor": created.record.created_by},
    )
    location = f"/projects/{project}/environments/{environment}/keys/{created.record.key_id}"
    return json_response(201, new_key_response(created), {"Location": location, "Cache-Control": "no-store"})


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return handle(app, event, context)
