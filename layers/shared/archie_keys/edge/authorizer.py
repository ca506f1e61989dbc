"""The API Gateway REQUEST authorizer: presented key -> IAM policy + context, or 401. Fails closed.

Two kinds of API use it:
* the management API (no stage variables): the policy covers the key's own /projects/{p}/environments/{e}
  routes that its roles grant;
* protected APIs whose stage sets the stage variables `project` and `environment`: a key of another project
  or environment is refused before any I/O, and the policy covers /<resource> and /<resource>/* for the
  methods its actions grant.
The policy is built from the key and the stage only, never from the route being called, so API Gateway's
result cache (keyed on the identity sources) can serve it for every route of the stage.
"""

from __future__ import annotations

from typing import Any

from archie_keys.app.verification import KeyVerifier, VerifiedKey
from archie_keys.aws.metrics import DecisionMetrics
from archie_keys.domain.audit import REFUSAL_MESSAGE
from archie_keys.domain.errors import KeyRefusedError
from archie_keys.domain.keyformat import MalformedKeyError, parse_key
from archie_keys.domain.policy import build_policy, data_paths, management_paths, stage_arn_prefix
from archie_keys.edge.log_lines import json_logger

# The logger of the authorizer's log lines (the local stack ships this one to the authorizer's log group).
AUTHORIZER_LOGGER = "archie-keys.authorizer"
# Structured JSON: the audit pipeline reads the "key refused" lines (request id, key id, reason) from this
# function's log group to attribute refused requests, which API Gateway's access log cannot do.
logger = json_logger(AUTHORIZER_LOGGER)

UNAUTHORIZED = "Unauthorized"  # the exact message API Gateway turns into a 401


class Unauthorized(Exception):
    def __init__(self) -> None:
        super().__init__(UNAUTHORIZED)


def _authorization_values(headers: Any) -> list[Any]:
    if not isinstance(headers, dict):
        return []
    return [value for name, value in headers.items() if isinstance(name, str) and name.lower() == "authorization"]


def bearer_token(headers: Any, multi_value_headers: Any = None) -> str | None:
    """The key of the request's one `Authorization: Bearer <key>` header, else None (refused as malformed).

    A request with two Authorization headers is refused whatever API Gateway makes of them: its result cache
    is keyed on one value while `headers` keeps another (the last of one spelling; a second spelling is a
    second name), so an Allow for the real key could be cached under the other value and served to whoever
    sends that alone. `multiValueHeaders` holds every value sent; it must agree with `headers`."""
    single = _authorization_values(headers)
    multiple = [
        value
        for listed in _authorization_values(multi_value_headers)
        for value in (listed if isinstance(listed, list) else [None])
    ]
    if len(single) != 1 or multiple not in ([], single) or not isinstance(single[0], str):
        return None
    scheme, _, token = single[0].strip().partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return None


def authorizer_response(verified: VerifiedKey, arn_prefix: str, data_api: bool) -> dict[str, Any]:
    memo_key = ("authorizer", arn_prefix, data_api)
    response = verified.memo.get(memo_key)
    if response is None:
        identity = verified.identity
        routes = (
            data_paths(identity.grants)
            if data_api
            else management_paths(identity.grants, identity.project, identity.environment)
        )
        response = {
            "principalId": identity.key_id,
            "policyDocument": build_policy(arn_prefix, routes),
            "context": identity.to_authorizer_context(),
        }
        verified.memo[memo_key] = response
    return response


def authorize(event: dict[str, Any], verifier: KeyVerifier, decisions: DecisionMetrics | None = None) -> dict[str, Any]:
    """Decide one REQUEST authorizer event. Raises Unauthorized for every refusal and every failure. Each
    refusal is one metric line (`decisions`): Refused with its reason ("error" for a failure); an accepted
    decision writes nothing (Lambda's Invocations minus Errors count those).

    Lambda counts every refusal as a function error (the 401 is an exception), so these metrics, not
    Lambda's Errors, tell refusals from failures."""
    request_context = event.get("requestContext") or {}
    # The audit keys its records on the extended request id (no client can set it; a client can choose the
    # request id with an x-amzn-RequestId header), so a refusal is merged into the right record.
    ids = {
        "request_id": request_context.get("requestId"),
        "extended_request_id": request_context.get("extendedRequestId"),
    }
    token = bearer_token(event.get("headers"), event.get("multiValueHeaders"))
    stage_variables = event.get("stageVariables") or {}
    project, environment = stage_variables.get("project"), stage_variables.get("environment")
    data_api = bool(project or environment)
    try:
        if token is None:
            raise KeyRefusedError("malformed")
        if data_api and not (project and environment):
            # A stage with only one of the two variables is misconfigured: never guess.
            raise KeyRefusedError("wrong_environment")
        arn_prefix = stage_arn_prefix(str(event.get("methodArn", "")))
        verified = verifier.verify(token, project=project, environment=environment)
        response = authorizer_response(verified, arn_prefix, data_api)
    except KeyRefusedError as refusal:
        place = _key_place(token)
        # Only a key with an id is worth a line (the audit attributes the refusal to it); a flood of
        # malformed strings costs no logging, and API Gateway's access log records those requests anyway.
        if place:
            logger.info(REFUSAL_MESSAGE, extra={**ids, "reason": refusal.reason, **place})
        if decisions is not None:
            decisions.refused(refusal.reason)
        raise Unauthorized() from None
    except Exception:
        # DynamoDB down, secret unreadable, a bug: deny. Never allow, never leak the key.
        logger.exception(REFUSAL_MESSAGE, extra={**ids, "reason": "error", **_key_place(token)})
        if decisions is not None:
            decisions.refused("error")
        raise Unauthorized() from None
    return response


def _key_place(token: str | None) -> dict[str, str]:
    """The public parts of a presented key (id, project, environment) for the log; never the secret."""
    if not token:
        return {}
    try:
        parsed = parse_key(token)
    except MalformedKeyError:
        return {}
    return {"key_id": parsed.key_id, "project": parsed.project, "environment": parsed.environment}
