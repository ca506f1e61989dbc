"""The API Gateway REQUEST authorizer: presented key -> IAM policy + context. Fails closed, in three ways:

* no key, or not a key at all (wrong shape, bad checksum): raise "Unauthorized", API Gateway's 401;
* a key refused for a reason (revoked, expired, unknown, another environment's, ...): an explicit Deny whose
  context names the key and the reason. API Gateway answers 403 and caches the Deny like an Allow, so every
  later request with the same header is refused from its cache and still reaches the access log with the
  key id and the reason (an uncached-looking 401 would reach the audit without either);
* no decision possible (DynamoDB or Secrets Manager failing, a bug): raise anything but "Unauthorized".
  API Gateway answers AUTHORIZER_FAILURE, which the template maps to 503 with Retry-After, and caches
  nothing, so the client retries instead of concluding that its key is bad.

Two kinds of API use it:
* the management API (no stage variables): the policy covers the key's own /projects/{p}/environments/{e}
  routes that its roles grant;
* protected APIs whose stage sets the stage variables `project` and `environment`: a key of another project
  or environment is refused before any I/O, and the policy covers /<resource> and /<resource>/* for the
  methods its actions grant.
The policy is built from the key and the stage only, never from the route being called, so API Gateway's
result cache (keyed on the identity sources) can serve it for every route of the stage.

A person's OIDC token (a JWT: three base64url segments, never shaped like a key) is accepted as the bearer on
the management API only (docs/federation.md, "People sign in"): from the stack's sign-in issuer, for the
dashboard's client id only (SIGN_IN_ISSUER, SIGN_IN_CLIENT_ID), it is verified and matched with the trust
policies of the environment the request's path names (app.person_signin), and the matched policy's roles and
context are the caller's, as a key's would be. The policy answered covers that one environment's routes, so
the cached answer serves the token there only (a token is for one environment: the dashboard signs in per
environment). A refused token is a 401 (cached, as a malformed key's); an issuer or table that cannot be read
is undecided (503, never cached). Nothing of the token path is imported for a key.

Per-key limits (docs/limits.md): a key with `allowed_cidrs` is refused from outside them
(`source_ip_not_allowed`, on the request's `requestContext.identity.sourceIp`, never a header) and on a stage
that does not declare its cache keyed on that address (`source_ip_not_cache_keyed`); every Allow carries the
`usageIdentifierKey` of the key's usage plan (its rotation chain's API key, or the one every key without
limits shares), so API Gateway applies the key's rate limit and quota, on cache hits too.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from archie_keys.app.authorization_witness import AuthorizationWitness
from archie_keys.app.verification import KeyVerifier, VerifiedKey
from archie_keys.aws.metrics import DecisionMetrics
from archie_keys.domain.audit import PROVEN_REFUSALS, UNDECIDED_MESSAGE
from archie_keys.domain.errors import KeyRefusedError
from archie_keys.domain.keyformat import MalformedKeyError, ParsedKey, parse_key
from archie_keys.domain.network import source_ip_refusal, stage_keys_cache_on_source_ip
from archie_keys.domain.policy import build_policy, data_paths, deny_policy, management_paths, stage_arn_prefix
from archie_keys.domain.usage_keys import usage_identifier
from archie_keys.edge.log_lines import json_logger

if TYPE_CHECKING:
    from archie_keys.app.person_signin import PersonSignIn

# The logger of the authorizer's log lines (the local stack ships this one to the authorizer's log group).
AUTHORIZER_LOGGER = "archie-keys.authorizer"
# Structured JSON, one line per decision that could not be made (never per refusal: the access log has those).
logger = json_logger(AUTHORIZER_LOGGER)

UNAUTHORIZED = "Unauthorized"  # the exact message API Gateway turns into a 401
# Any other message is an authorizer failure to API Gateway (never cached, 503 by the template's responses).
UNDECIDED = "the key could not be checked now"
# A compact JWS: a base64url JSON header ("{" encodes as "eyJ"), claims, and a signature (empty for alg none,
# which is then refused as an algorithm, not as a shape). A key's parts are joined by "_" and hold no ".".
_JWT_SHAPE = re.compile(r"eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*\Z")
# The log line of a refused person token: which check failed (never the token), for the operator.
PERSON_REFUSED_MESSAGE = "person token refused"


class Unauthorized(Exception):
    def __init__(self) -> None:
        super().__init__(UNAUTHORIZED)


class Undecided(Exception):
    """The authorizer could not decide: a dependency failed, or something unexpected happened."""

    def __init__(self) -> None:
        super().__init__(UNDECIDED)


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


def authorizer_response(
    verified: VerifiedKey, arn_prefix: str, data_api: bool, usage_namespace: str | None = None
) -> dict[str, Any]:
    memo_key = ("authorizer", arn_prefix, data_api, usage_namespace)
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
        if usage_namespace is not None:
            response["usageIdentifierKey"] = usage_identifier(usage_namespace, verified.limits_lineage)
        verified.memo[memo_key] = response
    return response


# arn prefix -> its Deny policy: a flood of refusals builds it once per stage (bounded: a stage set per API).
_DENIALS: dict[str, dict[str, Any]] = {}
_DENIALS_MAX = 100


def refusal_response(
    token: str, refusal: KeyRefusedError, arn_prefix: str, stage_place: tuple[str, str] | None
) -> dict[str, Any]:
    """The explicit Deny of a refused key, for every route of the stage. Its context is what the access log
    records: the reason, and the key id, attributed (`key_id`, with the key's own project and environment)
    only when the secret was proven, else only claimed (`claimed_key_id`, with the place of the protected
    stage it was sent to, from the stage's own variables; none on the management API, whose path says it)."""
    # A refusal with a reason is given only to a token that parses (the verifier hands its parts over).
    parsed = refusal.key if isinstance(refusal.key, ParsedKey) else parse_key(token)
    reason = refusal.reason
    context: dict[str, str] = {"refusal": reason}
    if reason in PROVEN_REFUSALS:
        # On a protected stage the key's place is the stage's: another environment's key never gets this far.
        context.update(key_id=parsed.key_id, project=parsed.project, environment=parsed.environment)
        principal = parsed.key_id
    else:
        context["claimed_key_id"] = parsed.key_id
        if stage_place is not None:
            context.update(project=stage_place[0], environment=stage_place[1])
        principal = "refused"
    policy = _DENIALS.get(arn_prefix)
    if policy is None:
        policy = deny_policy(arn_prefix)
        if len(_DENIALS) < _DENIALS_MAX:
            _DENIALS[arn_prefix] = policy
    return {"principalId": principal, "policyDocument": policy, "context": context}


def authorize(
    event: dict[str, Any],
    verifier: KeyVerifier,
    decisions: DecisionMetrics | None = None,
    usage_namespace: str | None = None,
    witness: AuthorizationWitness | None = None,
    people: Callable[[], PersonSignIn] | None = None,
) -> dict[str, Any]:
    """Decide one REQUEST authorizer event: an Allow, a Deny (a refused key), or raise (module docstring).
    Each refusal is one metric line (`decisions`): Refused with its reason ("error" when undecided); an
    accepted decision writes nothing (Lambda's Invocations minus Errors count those), except for an
    environment's bootstrap admin key: BootstrapKeyUsed, whose alarm pages (break-glass, docs/operations.md).
    `usage_namespace` (the stack's name) names the usage plans' API keys: with it, every Allow carries a
    usageIdentifierKey. A key's Allow is recorded by `witness` first (app.authorization_witness): unrecorded,
    it is not given (undecided). `people` builds the person sign-in on first use (a JWT on the management API),
    so a key's decision never imports or builds it."""
    token = bearer_token(event.get("headers"), event.get("multiValueHeaders"))
    stage_variables = event.get("stageVariables") or {}
    project, environment = stage_variables.get("project"), stage_variables.get("environment")
    data_api = bool(project or environment)
    if token is not None and people is not None and not data_api and _JWT_SHAPE.match(token):
        return authorize_person(event, token, people, decisions, usage_namespace)
    try:
        arn_prefix = stage_arn_prefix(str(event.get("methodArn", "")))
        if token is None:
            raise KeyRefusedError("malformed")
        if data_api and not (project and environment):
            # A stage with only one of the two variables is misconfigured: never guess, and never blame the
            # key (the operator's mistake answers 503 and raises the authorizer's error alarm).
            raise ValueError("a protected stage must set both the project and environment stage variables")
        verified = verifier.verify(token, project=project, environment=environment)
        # After the key is proven, on every invocation: the address is the request's, the cached key is not.
        source_ip = ((event.get("requestContext") or {}).get("identity") or {}).get("sourceIp")
        refused_from = source_ip_refusal(
            verified.allow_list, source_ip, stage_keys_cache_on_source_ip(event.get("stageVariables"))
        )
        if refused_from is not None:
            raise KeyRefusedError(refused_from)
        if verified.break_glass and decisions is not None:
            identity = verified.identity
            decisions.break_glass(identity.key_id, identity.project, identity.environment)
        if witness is not None:
            identity = verified.identity
            witness.authorized(identity.project, identity.environment, identity.key_id)
        return authorizer_response(verified, arn_prefix, data_api, usage_namespace)
    except KeyRefusedError as refusal:
        if decisions is not None:
            decisions.refused(refusal.reason)
        if refusal.reason == "malformed" or token is None:
            raise Unauthorized() from None
        stage_place = (str(project), str(environment)) if data_api else None
        return refusal_response(token, refusal, arn_prefix, stage_place)
    except Exception:
        # DynamoDB down, secret unreadable, a bug: no decision, so no access, and no cached answer either.
        request_context = event.get("requestContext") or {}
        logger.exception(
            UNDECIDED_MESSAGE,
            extra={"extended_request_id": request_context.get("extendedRequestId"), **_key_place(token)},
        )
        if decisions is not None:
            decisions.refused("error")
        raise Undecided() from None


def authorize_person(
    event: dict[str, Any],
    token: str,
    people: Callable[[], PersonSignIn],
    decisions: DecisionMetrics | None,
    usage_namespace: str | None,
) -> dict[str, Any]:
    """A person's token on the management API: an Allow of the routes the matched trust policy's roles grant
    in the environment the path names, 401 for a token refused for any reason (one answer; the log line and
    the metric say which check failed), or undecided (503) when the issuer or the table cannot be read."""
    from archie_keys.domain.oidc_errors import TokenRefusedError

    request_context = event.get("requestContext") or {}
    try:
        arn_prefix = stage_arn_prefix(str(event.get("methodArn", "")))
        path = event.get("pathParameters") or {}
        identity = people().identity(token, path.get("project"), path.get("environment"))
    except TokenRefusedError as refusal:
        logger.info(
            PERSON_REFUSED_MESSAGE,
            extra={
                "reason": refusal.reason,
                "detail": refusal.detail[:512],
                "extended_request_id": request_context.get("extendedRequestId"),
            },
        )
        if decisions is not None:
            decisions.refused(f"token_{refusal.reason}")
        raise Unauthorized() from None
    except Exception:
        # The issuer's keys or the trust policies unreadable, or a bug: no decision, no access, nothing cached.
        logger.exception(UNDECIDED_MESSAGE, extra={"extended_request_id": request_context.get("extendedRequestId")})
        if decisions is not None:
            decisions.refused("error")
        raise Undecided() from None
    response: dict[str, Any] = {
        "principalId": identity.key_id,
        "policyDocument": build_policy(
            arn_prefix, management_paths(identity.grants, identity.project, identity.environment)
        ),
        "context": identity.to_authorizer_context(),
    }
    if usage_namespace is not None:
        response["usageIdentifierKey"] = usage_identifier(usage_namespace, None)
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
