"""The usage-plan engine end to end, locally: aws.usage_plans drives API Gateway's control plane through boto3
(the local control plane on 127.0.0.1, as AWS_ENDPOINT_URL_API_GATEWAY points the stack's functions at it), and
the local gateway enforces what it set up on each key's requests."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from archie_keys.aws.usage_plans import UsagePlanLimits
from archie_keys.domain.rate_limits import parse_limits
from archie_keys.domain.usage_keys import usage_identifier
from archie_local.control_plane import control_plane
from archie_local.gateway import Gateway
from archie_local.http_server import HttpService
from archie_local.lambdas import FunctionRegistry
from tests.fakes.gateway_api import API_ID, STAGE, Clock, FakeAuthorizer, FakeKey, call, fake_api

NAMESPACE = "archie-test"
NOON = datetime(2026, 11, 26, 12, tzinfo=UTC).timestamp()


class Stack:
    def __init__(self) -> None:
        self.clock = Clock(NOON)
        self.authorizer = FakeAuthorizer(
            {
                "limited": FakeKey(usage_identifier(NAMESPACE, "chain1")),
                "free": FakeKey(usage_identifier(NAMESPACE, None)),
            }
        )
        self.api = fake_api(self.authorizer, self.clock, api_key_required=True)
        self.gateway = Gateway(self.api)
        # No function to invoke: only API Gateway's calls are served.
        self.service = HttpService(control_plane({"FakeApi": self.api}, FunctionRegistry({})), 0).start()
        self.client: Any = boto3.client(
            "apigateway",
            endpoint_url=self.service.url,
            region_name="us-east-1",
            aws_access_key_id="local",
            aws_secret_access_key="local",
        )
        self.engine = UsagePlanLimits(self.client, NAMESPACE, lambda: [(API_ID, STAGE)])

    def statuses(self, key: str, count: int) -> list[int]:
        return [call(self.api, key, gateway=self.gateway).status for _ in range(count)]


@pytest.fixture
def stack() -> Iterator[Stack]:
    made = Stack()
    yield made
    made.service.stop()


def test_a_key_given_2_requests_a_second_is_throttled_and_a_key_without_limits_is_not(stack: Stack) -> None:
    stack.engine.attach("chain1", parse_limits({"rate_per_second": 2}))
    stack.engine.attach(None, None)
    assert stack.statuses("limited", 3) == [200, 200, 429]
    assert stack.statuses("free", 20) == [200] * 20


def test_new_limits_move_the_key_to_their_plan_and_its_quota_reads_back(stack: Stack) -> None:
    stack.engine.attach("chain1", parse_limits({"rate_per_second": 2}))
    quota = parse_limits({"quota": {"limit": 3, "period": "day"}})
    assert quota is not None
    stack.engine.attach("chain1", quota)
    assert stack.statuses("limited", 4) == [200, 200, 200, 429]
    assert stack.engine.quota("chain1", quota, NOON) == {
        "limit": 3,
        "period": "day",
        "used": 3,
        "left": 0,
        "resets_at": "2026-11-27T00:00:00.000Z",
    }
    names = sorted(plan["name"] for plan in stack.client.get_usage_plans()["items"])
    assert names == [f"{NAMESPACE}-q3day", f"{NAMESPACE}-r2b2"]
    assert [p["name"] for p in stack.client.get_usage_plans(keyId=_key_id(stack, "chain1"))["items"]] == [
        f"{NAMESPACE}-q3day"
    ]


def test_attaching_again_changes_nothing(stack: Stack) -> None:
    limits = parse_limits({"rate_per_second": 5})
    first = stack.engine.attach("chain1", limits)
    again = UsagePlanLimits(stack.client, NAMESPACE, lambda: [(API_ID, STAGE)]).attach("chain1", limits)
    assert first == again == usage_identifier(NAMESPACE, "chain1")
    assert len(stack.client.get_api_keys()["items"]) == 1
    assert len(stack.client.get_usage_plans()["items"]) == 1


def test_keys_with_the_same_limits_share_a_plan_but_not_a_bucket(stack: Stack) -> None:
    stack.authorizer.keys["other"] = FakeKey(usage_identifier(NAMESPACE, "chain2"))
    for chain in ("chain1", "chain2"):
        stack.engine.attach(chain, parse_limits({"rate_per_second": 1}))
    assert len(stack.client.get_usage_plans()["items"]) == 1
    assert stack.statuses("limited", 2) == [200, 429]
    assert stack.statuses("other", 2) == [200, 429]


def test_a_detached_chain_is_refused_by_the_gateway(stack: Stack) -> None:
    stack.engine.attach("chain1", parse_limits({"rate_per_second": 2}))
    stack.engine.detach("chain1")
    assert stack.statuses("limited", 1) == [403]
    assert stack.client.get_api_keys()["items"] == []


def test_the_local_control_plane_answers_errors_as_api_gateway_does(stack: Stack) -> None:
    stack.client.create_api_key(name="one", value="v" * 30, enabled=True)
    with pytest.raises(ClientError) as conflict:
        stack.client.create_api_key(name="two", value="v" * 30, enabled=True)
    assert conflict.value.response["Error"]["Code"] == "ConflictException"
    with pytest.raises(ClientError) as missing:
        stack.client.get_usage_plan(usagePlanId="nope")
    assert missing.value.response["Error"]["Code"] == "NotFoundException"
    with pytest.raises(ClientError) as unknown_stage:
        stack.client.create_usage_plan(name="x", apiStages=[{"apiId": "nope", "stage": "prod"}])
    assert unknown_stage.value.response["Error"]["Code"] == "NotFoundException"


def _key_id(stack: Stack, chain: str) -> str:
    return next(k["id"] for k in stack.client.get_api_keys()["items"] if k["name"] == f"{NAMESPACE}/{chain}")


def test_a_registered_stage_is_added_to_a_plan_and_its_limits_can_be_replaced(stack: Stack) -> None:
    plan_id = stack.engine.plan_id(parse_limits({"rate_per_second": 1}))
    stack.engine.attach("chain1", parse_limits({"rate_per_second": 1}))
    assert stack.statuses("limited", 2) == [200, 429]
    stack.client.update_usage_plan(
        usagePlanId=plan_id, patchOperations=[{"op": "replace", "path": "/throttle/burstLimit", "value": "3"}]
    )
    stack.clock.now += 10
    assert stack.statuses("limited", 4) == [200, 200, 200, 429]
    with pytest.raises(ClientError) as unknown:
        stack.client.update_usage_plan(
            usagePlanId=plan_id, patchOperations=[{"op": "add", "path": "/apiStages", "value": "nope:prod"}]
        )
    assert unknown.value.response["Error"]["Code"] == "NotFoundException"
    assert stack.api.usage_plans is not None
    stack.api.usage_plans.known_stages.add(("otherapi99", "prod"))
    stack.client.update_usage_plan(
        usagePlanId=plan_id, patchOperations=[{"op": "add", "path": "/apiStages", "value": "otherapi99:prod"}]
    )
    stages = stack.client.get_usage_plan(usagePlanId=plan_id)["apiStages"]
    assert {(s["apiId"], s["stage"]) for s in stages} == {(API_ID, STAGE), ("otherapi99", "prod")}


def test_a_plan_made_before_a_stage_was_registered_covers_it_once_a_process_finds_the_plan(stack: Stack) -> None:
    limits = parse_limits({"rate_per_second": 1})
    plan_id = stack.engine.plan_id(limits)
    assert stack.api.usage_plans is not None
    stack.api.usage_plans.known_stages.add(("otherapi99", "prod"))  # a team registers its stage
    registered = [(API_ID, STAGE), ("otherapi99", "prod")]
    later = UsagePlanLimits(stack.client, NAMESPACE, lambda: registered)  # another process, a cold start
    assert later.plan_id(limits) == plan_id
    stages = stack.client.get_usage_plan(usagePlanId=plan_id)["apiStages"]
    assert {(s["apiId"], s["stage"]) for s in stages} == set(registered)
