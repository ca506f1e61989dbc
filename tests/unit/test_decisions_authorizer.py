"""The authorizer function as API Gateway calls it: which header carries a key, which stage may use it, the
policy each API and stage gets (never another's, even from the same warm instance), the Deny a refused key
gets (its context is what the audit reads: the key's id and the reason, never its secret), and the 503 of a
decision it could not make."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from archie_keys.domain.keyformat import checksum
from archie_local.gateway import policy_allows
from tests.unit.decision_stack import Environment

MANAGEMENT = "arn:aws:execute-api:us-east-1:123456789012:mgmt000001/v1"
SAMPLE = "arn:aws:execute-api:us-east-1:123456789012:orders0001/dev"


def event(headers: Any, method_arn: str, stage_variables: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "type": "REQUEST",
        "methodArn": method_arn,
        "headers": headers,
        "stageVariables": stage_variables,
        "requestContext": {"requestId": "req-1", "extendedRequestId": "ext-1="},
    }


UNDECIDED = "undecided"  # the authorizer raised something other than "Unauthorized": API Gateway's 503


def authorize(env: Environment, headers: Any, method_arn: str = f"{MANAGEMENT}/GET/x", **stage: str) -> Any:
    """The answer (an Allow or a Deny), None for 401, or UNDECIDED."""
    try:
        return env.stack.functions["AuthorizerFunction"].invoke(event(headers, method_arn, stage or None))
    except Exception as error:
        return None if str(error) == "Unauthorized" else UNDECIDED


def refusal(answer: Any) -> dict[str, str]:
    """The context of an explicit Deny of the whole stage (a refused key), asserting that it is one."""
    assert isinstance(answer, dict), answer
    assert [statement["Effect"] for statement in answer["policyDocument"]["Statement"]] == ["Deny"]
    return dict(answer["context"])


@pytest.mark.parametrize(
    "headers",
    [
        {"Authorization": "Bearer {key}"},
        {"authorization": "bearer {key}"},
        {"AUTHORIZATION": "BEARER {key}"},
        {"Authorization": "  Bearer   {key}  "},
        {"Accept": "application/json", "Authorization": "Bearer {key}"},
    ],
)
def test_a_bearer_key_is_found_however_the_header_is_written(env: Environment, headers) -> None:
    answer = authorize(env, {name: value.format(key=env.admin) for name, value in headers.items()})
    assert answer is not None and answer["principalId"] == env.admin.split("_")[-1][:12]


@pytest.mark.parametrize(
    "headers",
    [
        None,
        {},
        {"Authorization": "{key}"},
        {"Authorization": "Basic {key}"},
        {"Authorization": "Bearer "},
        {"Authorization": "Bearer"},
        {"X-Api-Key": "{key}"},
        {"Authorization": "Token {key}", "authorization": "Bearer {key}"},  # the first Authorization header decides
    ],
)
def test_anything_but_a_bearer_key_is_unauthorized(env: Environment, headers) -> None:
    filled = {n: v.format(key=env.admin) for n, v in headers.items()} if headers is not None else None
    assert authorize(env, filled) is None


def test_a_stage_names_both_project_and_environment_or_it_serves_no_key(env: Environment) -> None:
    headers = {"Authorization": f"Bearer {env.admin}"}
    key_id = env.admin.split("_")[-1][:12]
    # One variable only: the stage is misconfigured, which is no key's fault (503, and the error alarm).
    assert authorize(env, headers, f"{SAMPLE}/GET/orders", project=env.project) == UNDECIDED
    assert authorize(env, headers, f"{SAMPLE}/GET/orders", environment=env.environment) == UNDECIDED
    assert authorize(env, headers, "not-an-arn") == UNDECIDED
    for stage in (
        {"project": env.project, "environment": "other"},
        {"project": "other", "environment": env.environment},
    ):
        answer = authorize(env, headers, f"{SAMPLE}/GET/orders", **stage)
        assert refusal(answer) == {"refusal": "wrong_environment", "claimed_key_id": key_id, **stage}
    assert authorize(env, headers, f"{SAMPLE}/GET/orders", project=env.project, environment=env.environment)


def test_each_api_and_stage_gets_its_own_policy_from_the_same_warm_instance(env: Environment) -> None:
    env.role("reader", {"resource": "orders", "actions": ["read"]}, {"resource": "keys", "actions": ["read"]})
    key = env.key("reader")["key"]
    headers = {"Authorization": f"Bearer {key}"}
    stage = {"project": env.project, "environment": env.environment}
    base = f"/projects/{env.project}/environments/{env.environment}"
    other_sample = SAMPLE.replace("/dev", "/prod")
    answers = {
        "management": authorize(env, headers, f"{MANAGEMENT}/GET{base}/keys"),
        "sample": authorize(env, headers, f"{SAMPLE}/GET/orders", **stage),
        "other stage": authorize(env, headers, f"{other_sample}/GET/orders", **stage),
        "management again": authorize(env, headers, f"{MANAGEMENT}/GET{base}/whoami"),
    }
    policies = {name: answer["policyDocument"] for name, answer in answers.items()}
    assert policy_allows(policies["management"], f"{MANAGEMENT}/GET{base}/keys")
    assert not policy_allows(policies["management"], f"{MANAGEMENT}/GET/orders")
    assert policy_allows(policies["sample"], f"{SAMPLE}/GET/orders/7")
    assert not policy_allows(policies["sample"], f"{SAMPLE}/GET{base}/keys")
    assert not policy_allows(policies["sample"], f"{other_sample}/GET/orders/7")
    assert policy_allows(policies["other stage"], f"{other_sample}/GET/orders/7")
    assert not policy_allows(policies["other stage"], f"{SAMPLE}/GET/orders/7")
    assert policies["management again"] == policies["management"]
    contexts = [answer["context"] for answer in answers.values()]
    assert all(context == contexts[0] for context in contexts)
    assert json.loads(contexts[0]["roles"]) == ["reader"] and contexts[0]["project"] == env.project


class Lines(logging.Handler):
    """The authorizer's log records."""

    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def undecided(self) -> list[dict[str, Any]]:
        fields = ("key_id", "project", "environment", "extended_request_id")
        return [
            {name: getattr(r, name, None) for name in fields}
            for r in self.records
            if r.getMessage() == "key not decided"
        ]


@pytest.fixture
def lines() -> Iterator[Lines]:
    from archie_keys.edge.authorizer import logger

    handler = Lines()
    logging.getLogger(logger.name).addHandler(handler)
    yield handler
    logging.getLogger(logger.name).removeHandler(handler)


def test_a_refused_key_is_denied_naming_its_id_and_reason_for_the_audit_and_never_its_secret(env, lines) -> None:
    key_id = env.admin.split("_")[-1][:12]
    wrong = env.admin[:-28] + "S" * 22
    wrong += checksum(wrong)
    answers = [
        authorize(env, {"Authorization": f"Bearer {wrong}"}),
        authorize(env, {"Authorization": f"Bearer {env.admin}"}, f"{SAMPLE}/GET/o", project="x", environment="y"),
    ]
    assert [refusal(answer) for answer in answers] == [
        {"refusal": "not_found", "claimed_key_id": key_id},
        {"refusal": "wrong_environment", "claimed_key_id": key_id, "project": "x", "environment": "y"},
    ]
    assert authorize(env, {"Authorization": "Bearer garbage"}) is None
    assert authorize(env, {}) is None
    # The access log carries refusals: the authorizer writes no line for them (a flood costs no log bytes).
    assert lines.records == []
    answered = json.dumps(answers)
    assert "S" * 22 not in answered and env.admin[-28:-6] not in answered


def test_a_failure_while_deciding_is_a_503_and_is_logged_as_an_error(env, lines, monkeypatch) -> None:
    from archie_keys.edge.composition import get_services

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("DynamoDB is down")

    monkeypatch.setattr(get_services().verifier.store.client, "query", broken)
    assert authorize(env, {"Authorization": f"Bearer {env.admin}"}) == UNDECIDED
    assert lines.undecided() == [
        {
            "key_id": env.admin.split("_")[-1][:12],
            "project": env.project,
            "environment": env.environment,
            "extended_request_id": "ext-1=",
        }
    ]


def test_each_refusal_is_counted_once_by_its_reason_and_an_accepted_key_not_at_all(env, capsys, monkeypatch) -> None:
    """The operations dashboard draws refusals by reason from these lines (and allowed decisions from Lambda's
    own counts), so each refusal must name why, and a failure must read "error", never a key problem."""
    wrong = env.admin[:-28] + "S" * 22
    wrong += checksum(wrong)
    bearer = {"Authorization": f"Bearer {env.admin}"}
    capsys.readouterr()
    assert authorize(env, {}) is None
    assert authorize(env, {"Authorization": "Bearer garbage"}) is None
    refusal(authorize(env, {"Authorization": f"Bearer {wrong}"}))
    assert authorize(env, bearer, f"{SAMPLE}/GET/orders", project=env.project) == UNDECIDED
    refusal(authorize(env, bearer, f"{SAMPLE}/GET/orders", project="other", environment=env.environment))
    assert "Allow" in json.dumps(authorize(env, bearer))

    from archie_keys.edge import composition

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("DynamoDB is down")

    composition.reset()  # a new instance, which must read the key
    monkeypatch.setattr(composition.get_services().verifier.store.client, "query", broken)
    assert authorize(env, bearer) == UNDECIDED

    every = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith('{"_aws"')]
    # env.admin is the environment's bootstrap key: its accepted use is the break-glass line, and nothing else.
    assert [line["key_id"] for line in every if "BootstrapKeyUsed" in line] == [env.admin.split("_")[-1][:12]]
    lines = [line for line in every if "BootstrapKeyUsed" not in line]
    assert [(line["Refused"], line["Reason"]) for line in lines] == [
        (1, "malformed"),
        (1, "malformed"),
        (1, "not_found"),
        (1, "error"),
        (1, "wrong_environment"),
        (1, "error"),
    ]
