"""What every route of the management API declares for the OpenAPI document: its parameters with their bounds,
the bearer security scheme, and its answers (status, description, model).

The document is generated from the resolvers in functions/ (`make openapi`, merged by Powertools'
OpenAPIMerge) and committed as docs/openapi.json; tests hold it, the template's Events and the policy's
MANAGEMENT_ROUTES together.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from aws_lambda_powertools.event_handler.openapi.params import Body, Header, Path, Query

from archie_keys.domain import limits
from archie_keys.domain.keyformat import KEY_ID_LENGTH, KEY_ID_PATTERN
from archie_keys.edge import schemas
from archie_keys.edge.leak_alerts import LeakedTokenModel

# Either an API key or a person's sign-in token (docs/federation.md, People sign in): alternatives.
SECURITY: list[dict[str, list[str]]] = [{"bearerAuth": []}, {"personToken": []}]


def security_schemes() -> dict[str, Any]:
    """The bearers the management API takes, in the `Authorization: Bearer` header."""
    from aws_lambda_powertools.event_handler.openapi.models import HTTPBearer

    return {
        "bearerAuth": HTTPBearer(
            bearerFormat="archie_<project>_<environment>_<key id><secret>", description="an API key"
        ),
        "personToken": HTTPBearer(
            bearerFormat="JWT",
            description="a person's OIDC ID token from the stack's sign-in issuer (the dashboard's Sign in with "
            "SSO): accepted on an environment's routes when one of its trust policies matches the token, with "
            "that policy's roles",
        ),
    }


_SLUG = f"1-{limits.SLUG_MAX_LENGTH} of [a-z0-9]"
ProjectPath = Annotated[str, Path(pattern=limits.SLUG_PATTERN, description=f"the project ({_SLUG})")]
EnvironmentPath = Annotated[str, Path(pattern=limits.SLUG_PATTERN, description=f"the environment ({_SLUG})")]
KeyIdPath = Annotated[
    str, Path(pattern=KEY_ID_PATTERN, description=f"the key's id (public, {KEY_ID_LENGTH} letters and digits)")
]
RolePath = Annotated[str, Path(pattern=limits.ROLE_NAME_PATTERN, description="the role's name")]
WebhookPath = Annotated[str, Path(pattern=limits.WEBHOOK_NAME_PATTERN, description="the webhook's name")]
TrustPolicyPath = Annotated[str, Path(pattern=limits.TRUST_POLICY_NAME_PATTERN, description="the trust policy's name")]
RevocationIdPath = Annotated[
    str, Path(pattern=KEY_ID_PATTERN, description="the revocation's id (the `revocation_id` its 202 answered)")
]
LimitQuery = Annotated[
    str | None,
    Query(
        pattern=limits.LIST_LIMIT_PATTERN,
        description=f"page size, 1-{limits.LIST_LIMIT_MAX} (default {limits.LIST_LIMIT_DEFAULT})",
    ),
]
TokenQuery = Annotated[
    str | None,
    Query(max_length=limits.NEXT_TOKEN_MAX_LENGTH, description="the next_token of the previous page, as given"),
]
KeyIdQuery = Annotated[str | None, Query(pattern=KEY_ID_PATTERN, description="a key's id")]
TimeQuery = Annotated[
    str | None,
    Query(
        max_length=limits.TIME_QUERY_MAX_LENGTH,
        description=f"ISO 8601 with a time zone (Z or +hh:mm), years {limits.TIME_MIN_YEAR}-{limits.TIME_MAX_YEAR}",
    ),
]
NameQuery = Annotated[
    str | None,
    Query(
        min_length=1,
        max_length=limits.KEY_NAME_MAX_LENGTH,
        description="only keys whose name contains this, ignoring case",
    ),
]
StatusQuery = Annotated[
    str | None,
    Query(
        max_length=limits.STATUS_QUERY_MAX_LENGTH,
        description="only keys in this status: active, disabled, rolled, expired, revoked (comma-separated for "
        "several); default every status but revoked",
    ),
]
KindQuery = Annotated[Literal["request", "event"] | None, Query(description="only requests, or only management events")]
UnusedForQuery = Annotated[
    str | None,
    Query(
        pattern=limits.GUARD_WINDOW_PATTERN,
        description="revoke only if the key has had no accepted request for this many seconds (else 409 key_in_use)",
    ),
]
LeakAlertBody = Annotated[
    list[LeakedTokenModel],
    Body(min_length=1, max_length=limits.LEAK_TOKENS_MAX, description="GitHub's alert: the tokens it found"),
]
GithubKeyIdHeader = Annotated[
    str | None,
    Header(
        alias="Github-Public-Key-Identifier",
        max_length=limits.GITHUB_KEY_ID_MAX_LENGTH,
        description="which of GitHub's keys signed the body",
    ),
]
GithubSignatureHeader = Annotated[
    str | None,
    Header(
        alias="Github-Public-Key-Signature",
        max_length=limits.GITHUB_SIGNATURE_MAX_LENGTH,
        description="base64 ECDSA P-256 / SHA-256 signature of the raw body",
    ),
]
IdempotencyKeyHeader = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        pattern=limits.IDEMPOTENCY_KEY_PATTERN,
        description="makes a retry return the same answer (the same key, the same revocation) instead of a second "
        f"one (remembered {limits.IDEMPOTENCY_TTL_SECONDS // 3600} h)",
    ),
]

_ERRORS = {
    401: "no valid key or sign-in token in `Authorization: Bearer ...` (missing, malformed, unknown, expired, "
    "revoked, or a token no trust policy of the environment matches), or for "
    "the secret scanning route no valid GitHub signature",
    403: "the key may not do this here: `forbidden`, `privilege_escalation`, `secret_not_owned`",
    404: "`not_found`: no such environment, key or role (the same answer whether it exists elsewhere or not)",
    409: "the change conflicts with the stored state (see the error table of the API guide, docs/api.md)",
    413: f"`payload_too_large`: the body is over {limits.BODY_MAX_BYTES // 1024} KiB",
    422: "the request is invalid: `validation_error` (with `errors`), `invalid_json`, or a named rule",
    429: "`rate_limited`: the environment's limit a minute on this route is reached; retry after `Retry-After` seconds",
    500: "`internal_error`: a bug on our side (never caused by what a client sends)",
    503: "`service_unavailable`: a dependency failed and nothing changed; retry after `Retry-After` seconds",
}
_RETRY_AFTER = {"Retry-After": {"description": "seconds to wait before retrying", "schema": {"type": "integer"}}}


def _error(status: int) -> dict[str, Any]:
    answer: dict[str, Any] = {"description": _ERRORS[status], "content": {"application/json": {"model": schemas.Error}}}
    if status in (429, 503):
        answer["headers"] = _RETRY_AFTER
    return answer


def created_key_links() -> dict[str, Any]:
    """From a created key to what can be done with it next (client generators and stateful testers follow
    these): its id is the answer's `key_id`, its place the request's path."""
    place = {"project": "$request.path.project", "environment": "$request.path.environment"}
    key = {**place, "key_id": "$response.body#/key_id"}
    return {
        "GetKey": {"operationId": "getKey", "parameters": key, "description": "read the new key"},
        "RollKey": {"operationId": "rollKey", "parameters": key, "description": "rotate it"},
        "KeyUsage": {"operationId": "keyUsage", "parameters": key, "description": "its requests per hour"},
        "DeleteKey": {"operationId": "deleteKey", "parameters": key, "description": "revoke it"},
    }


def answers(
    success: dict[int, tuple[str, Any]],
    *errors: int,
    links: dict[str, Any] | None = None,
    reaches_aws: bool = True,
    authenticated: bool = True,
) -> dict[int, Any]:
    """The `responses` of a route: its successes {status: (description, model or None)} and, besides the
    errors every route can answer (401, 403, 413, 422, 500, and 503 when it reaches AWS), the extra `errors`
    it names (404, 409). `links` go on the first success."""
    declared: dict[int, Any] = {}
    for status, (description, model) in success.items():
        # No model: no body at all (an empty content map; without one Powertools would document a JSON body).
        content = {"application/json": {"model": model}} if model is not None else {}
        declared[status] = {"description": description, "content": content}
        if links and len(declared) == 1:
            declared[status]["links"] = links
    base = {401, 403, 413, 422, 500} if authenticated else {401, 413, 422, 500}
    for status in sorted(base | set(errors) | ({503} if reaches_aws else set())):
        declared[status] = _error(status)
    return declared
