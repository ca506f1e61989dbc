"""People sign in, as the authorizer decides it: a person's ID token on the management API is an Allow of the
routes the matched trust policy's roles grant in the environment the path names, a 401 for any token refused
(the log line and the metric say which check failed, never the token), and undecided (503) when the issuer
cannot be read. The authorizer's own function on the fakes: the sign-in use case (app.person_signin) with the
development issuer in-process (tests/fakes/oidc.py), no sockets, a settable clock. tests/component covers the
same path through the template's gateway and handlers."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from archie_keys.app.issuer_keys import IssuerKeys
from archie_keys.app.oidc_verifier import OidcVerifier
from archie_keys.app.person_signin import PersonSignIn
from archie_keys.aws.metrics import DecisionMetrics, MetricLines
from archie_keys.aws.oidc_discovery import OidcDiscovery
from archie_keys.domain.identity import TOKEN_EXPIRES_FIELD, Identity
from archie_keys.domain.oidc_errors import WrongAudienceError
from archie_keys.edge.authorizer import AUTHORIZER_LOGGER, authorize
from archie_local.authorization import policy_allows
from archie_local.oidc_issuer import LocalOidcIssuer
from tests.fakes.log_lines import LogLines
from tests.fakes.oidc import InProcessInternet
from tests.fakes.services import FakeServices
from tests.logic.conftest import PLACE, READER, new_key, role

ISSUER = "https://sign-in.example"
DASHBOARD = "archie-dashboard"
STACK = "archie-stack"
ALICE = {"email": "alice@example.com", "email_verified": True, "name": "Alice Example", "groups": ["readers"]}
MANAGEMENT = "arn:aws:execute-api:us-east-1:123456789012:mgmt000001/v1"
BASE = f"/projects/{PLACE.project}/environments/{PLACE.environment}"
UNAUTHORIZED, UNDECIDED = "401", "503"


class TrustPolicies:
    """The environment's stored trust policies (services.trust), as the trust use cases store them."""

    def __init__(self) -> None:
        self.items: dict[tuple[str, str], list[dict[str, Any]]] = {}

    def put(self, project: str, environment: str, name: str, policy: dict[str, Any]) -> None:
        stored = {"name": name, "policy": policy, "updated_at": "2026-12-03T12:00:00Z"}
        self.items.setdefault((project, environment), []).append(stored)

    def list(self, project: str, environment: str) -> list[dict[str, Any]]:
        return self.items.get((project, environment), [])


@pytest.fixture
def records() -> Iterator[LogLines]:
    handler = LogLines()
    logging.getLogger(AUTHORIZER_LOGGER).addHandler(handler)
    yield handler
    logging.getLogger(AUTHORIZER_LOGGER).removeHandler(handler)


@pytest.fixture
def internet() -> InProcessInternet:
    return InProcessInternet()


@pytest.fixture
def issuer(internet: InProcessInternet, services: FakeServices) -> LocalOidcIssuer:
    return internet.serve(LocalOidcIssuer(ISSUER, clock=services.clock))


@pytest.fixture
def trust(services: FakeServices, admin: Identity) -> TrustPolicies:
    """shop/prod: the dashboard's readers read keys; a pipeline's policy of the same issuer is no sign-in."""
    role(services, admin, "key-reader", READER)
    policies = TrustPolicies()
    person = {"issuer": ISSUER, "audience": DASHBOARD, "claims": {"groups": "readers"}, "roles": ["key-reader"]}
    policies.put(PLACE.project, PLACE.environment, "readers", person)
    pipeline = {"issuer": ISSUER, "audience": "archie-keys", "subject": "repo:shop/app:**", "roles": ["admin"]}
    policies.put(PLACE.project, PLACE.environment, "deploy", pipeline)
    services.trust = policies  # type: ignore[assignment]
    return policies


@pytest.fixture
def sign_in(services: FakeServices, internet: InProcessInternet, trust: TrustPolicies) -> PersonSignIn:
    verifier = OidcVerifier(IssuerKeys(OidcDiscovery(internet), services.clock), services.clock)
    return PersonSignIn(services, verifier, ISSUER, DASHBOARD)  # type: ignore[arg-type]


class Decider:
    """The authorizer function as the handler calls it, with its refusal metric lines kept."""

    def __init__(self, services: FakeServices, sign_in: Any) -> None:
        self.services, self.sign_in = services, sign_in
        self.lines: list[str] = []
        self.decisions = DecisionMetrics(MetricLines("ArchieKeys", STACK, write=self.lines.append))

    def __call__(self, token: str | None, route: str = f"GET{BASE}/keys", **fields: Any) -> Any:
        """The answer (an Allow or a Deny), UNAUTHORIZED for a 401, UNDECIDED for a 503."""
        usage_namespace = fields.pop("usage_namespace", STACK)
        event = {
            "type": "REQUEST",
            "methodArn": f"{MANAGEMENT}/{route}",
            "headers": {"Authorization": f"Bearer {token}"} if token is not None else {},
            "pathParameters": {"project": PLACE.project, "environment": PLACE.environment},
            "requestContext": {"requestId": "req-1", "extendedRequestId": "ext-1="},
            **fields,
        }
        try:
            return authorize(
                event,
                self.services.verifier,
                self.decisions,
                usage_namespace,
                people=lambda: self.sign_in,
            )
        except Exception as error:
            return UNAUTHORIZED if str(error) == "Unauthorized" else UNDECIDED

    def reasons(self) -> list[str]:
        return [json.loads(line)["Reason"] for line in self.lines]


@pytest.fixture
def decide(services: FakeServices, sign_in: PersonSignIn) -> Decider:
    return Decider(services, sign_in)


def test_a_signed_in_person_gets_the_policys_roles_in_the_environment_the_path_names(decide, issuer) -> None:
    answer = decide(issuer.mint("alice", DASHBOARD, ALICE))

    assert answer["principalId"] == "user:alice@example.com"
    context = answer["context"]
    assert (context["key_id"], context["name"], context["project"], context["environment"]) == (
        "user:alice@example.com",
        "Alice Example",
        PLACE.project,
        PLACE.environment,
    )
    assert json.loads(context["roles"]) == ["key-reader"]
    assert json.loads(context["permissions"]) == [{**READER[0], "role": "key-reader"}]
    # The token's expiry travels with the answer: a handler refuses a cached Allow once it has passed.
    assert Identity.from_authorizer_context(context, now=issuer.clock()).key_id == "user:alice@example.com"
    policy = answer["policyDocument"]
    assert policy_allows(policy, f"{MANAGEMENT}/GET{BASE}/keys")
    assert policy_allows(policy, f"{MANAGEMENT}/GET{BASE}/whoami")
    assert not policy_allows(policy, f"{MANAGEMENT}/POST{BASE}/keys")  # a reader, not a writer
    assert not policy_allows(policy, f"{MANAGEMENT}/GET/projects/shop/environments/dev/keys")
    assert not policy_allows(policy, f"{MANAGEMENT.replace('/v1', '/v2')}/GET{BASE}/keys")
    assert decide.lines == []  # an accepted decision writes no metric line


def test_a_persons_allow_draws_on_the_shared_usage_plan_of_keys_without_limits(decide, issuer) -> None:
    token = issuer.mint("alice", DASHBOARD, ALICE)

    assert decide(token)["usageIdentifierKey"] == "akunlimitedusagekeyarchiestack"
    assert "usageIdentifierKey" not in decide(token, usage_namespace=None)


def test_the_same_token_is_refused_in_an_environment_that_does_not_trust_it(decide, issuer, records) -> None:
    token = issuer.mint("alice", DASHBOARD, ALICE)
    elsewhere = {"pathParameters": {"project": PLACE.project, "environment": "dev"}}

    assert decide(token, "GET/projects/shop/environments/dev/keys", **elsewhere) == UNAUTHORIZED
    assert decide.reasons() == ["token_untrusted"]
    assert records.fields("reason", "detail", "extended_request_id") == [
        {
            "message": "person token refused",
            "reason": "untrusted",
            "detail": "shop/dev trusts no one signing in",
            "extended_request_id": "ext-1=",
        }
    ]


@pytest.mark.parametrize(
    ("path", "detail"),
    [
        (None, "a person's token is accepted only on an environment's routes"),
        ({"project": PLACE.project}, "a person's token is accepted only on an environment's routes"),
        ({"environment": PLACE.environment}, "a person's token is accepted only on an environment's routes"),
        ({"project": "Shop!", "environment": PLACE.environment}, "the path names no valid environment"),
    ],
)
def test_a_route_naming_no_environment_gives_a_person_nothing(decide, issuer, records, path, detail) -> None:
    assert decide(issuer.mint("alice", DASHBOARD, ALICE), pathParameters=path) == UNAUTHORIZED
    assert decide.reasons() == ["token_untrusted"]
    assert [line["detail"] for line in records.fields("detail")] == [detail]


def test_refusals_are_one_401_named_by_the_check_that_failed_and_never_log_the_token(
    decide, issuer, records, caplog
) -> None:
    tokens = {
        "token_audience": issuer.mint("alice", "another-app", ALICE),
        "token_untrusted": issuer.mint("alice", DASHBOARD, {**ALICE, "groups": ["developers"]}),
        "token_claims": issuer.mint("alice", DASHBOARD, {**ALICE, "token_use": "access"}),
        "token_expired": issuer.mint("alice", DASHBOARD, ALICE, issued_at=issuer.clock() - 1000, ttl_seconds=300),
    }

    answers = {reason: decide(token) for reason, token in tokens.items()}

    assert answers == dict.fromkeys(tokens, UNAUTHORIZED)
    assert decide.reasons() == list(tokens)
    assert [record["reason"] for record in records.fields("reason")] == [r.removeprefix("token_") for r in tokens]
    assert all(token not in caplog.text for token in tokens.values())


def test_a_pipelines_token_is_no_bearer_even_where_a_policy_trusts_it(decide, issuer) -> None:
    assert decide(issuer.mint("repo:shop/app:ref:refs/heads/main", "archie-keys")) == UNAUTHORIZED
    assert decide.reasons() == ["token_audience"]


def test_a_refusals_detail_is_bounded_in_the_log(services, records) -> None:
    """The detail may quote the token's own claims: the log line keeps at most 512 characters of it."""

    class Refusing:
        def identity(self, token: str, project: object, environment: object) -> Identity:
            raise WrongAudienceError("a" * 600)

    decide = Decider(services, Refusing())

    assert decide("eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln") == UNAUTHORIZED
    assert [record["detail"] for record in records.fields("detail")] == ["a" * 512]


def test_an_issuer_that_cannot_be_read_is_undecided_never_a_refusal(decide, issuer, internet, records) -> None:
    token = issuer.mint("alice", DASHBOARD, ALICE)
    internet.down = True  # its keys were never fetched: nothing cached to serve

    assert decide(token) == UNDECIDED
    assert decide.reasons() == ["error"]
    assert records.fields("extended_request_id") == [{"message": "key not decided", "extended_request_id": "ext-1="}]


def test_a_token_sent_where_no_person_signs_in_is_no_key_either(decide, issuer) -> None:
    """On a protected API (its stage names an environment) a token is never a person's, and not a key."""
    token = issuer.mint("alice", DASHBOARD, ALICE)
    stage = {"project": PLACE.project, "environment": PLACE.environment}

    assert decide(token, "GET/orders", stageVariables=stage) == UNAUTHORIZED
    assert decide.reasons() == ["malformed"]


def test_a_key_and_a_missing_bearer_are_decided_as_keys_beside_the_person_path(services, admin, decide) -> None:
    key = new_key(services, admin, "ops", ["key-reader"]).value

    assert decide(None) == UNAUTHORIZED
    assert decide.reasons() == ["malformed"]
    answer = decide(key)
    assert answer["principalId"] == key.split("_")[-1][:12] and TOKEN_EXPIRES_FIELD not in answer["context"]
    assert policy_allows(answer["policyDocument"], f"{MANAGEMENT}/GET{BASE}/keys")
