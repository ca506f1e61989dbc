"""The local gateway's usage plans: per-key rate limits and quotas enforced as API Gateway enforces them, on a
clock the test moves (no sleeping). The API is a fake one (tests/fakes/gateway_api.py) whose authorizer returns
each key's usageIdentifierKey, as archie-keys' will."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from archie_local.gateway import Gateway
from archie_local.usage_plans import UsagePlans
from tests.fakes.gateway_api import API_ID, STAGE, Clock, FakeAuthorizer, FakeKey, call, fake_api

NOON = datetime(2026, 11, 26, 12, tzinfo=UTC).timestamp()


def limited(rate: float | None = None, burst: int | None = None, quota: tuple[int, str] | None = None) -> dict:
    limits: dict = {}
    if rate is not None:
        limits["throttle"] = {"rateLimit": rate, "burstLimit": burst}
    if quota is not None:
        limits["quota"] = {"limit": quota[0], "period": quota[1]}
    return limits


@pytest.fixture
def clock() -> Clock:
    return Clock(NOON)


@pytest.fixture
def authorizer() -> FakeAuthorizer:
    return FakeAuthorizer({"a": FakeKey("akvalue0000000000000000a"), "b": FakeKey("akvalue0000000000000000b")})


def plan_with(plans: UsagePlans, limits: dict, *values: str) -> str:
    plan = plans.create_usage_plan("plan", {(API_ID, STAGE)}, limits)
    for value in values:
        plans.add_key(plan.id, plans.create_api_key(value, value, True, NOON).id)
    return plan.id


def statuses(gateway: Gateway, key: str, count: int) -> list[int]:
    return [call(gateway.api, key, gateway=gateway).status for _ in range(count)]


def test_a_key_limited_to_2_requests_a_second_gets_429_past_them_and_another_key_does_not(clock, authorizer) -> None:
    api = fake_api(authorizer, clock, api_key_required=True)
    assert api.usage_plans is not None
    plan_with(api.usage_plans, limited(rate=2, burst=2), "akvalue0000000000000000a")
    plan_with(api.usage_plans, limited(rate=100, burst=100), "akvalue0000000000000000b")
    gateway = Gateway(api)
    assert statuses(gateway, "a", 3) == [200, 200, 429]
    assert statuses(gateway, "b", 10) == [200] * 10
    throttled = call(api, "a", gateway=gateway)
    assert (throttled.status, throttled.headers["Retry-After"]) == (429, "1")
    assert json.loads(throttled.body)["code"] == "rate_limited"


def test_a_throttled_key_gets_a_request_back_as_its_bucket_refills(clock, authorizer) -> None:
    api = fake_api(authorizer, clock, api_key_required=True)
    assert api.usage_plans is not None
    plan_with(api.usage_plans, limited(rate=2, burst=2), "akvalue0000000000000000a")
    gateway = Gateway(api)
    assert statuses(gateway, "a", 3) == [200, 200, 429]
    clock.now += 0.49
    assert statuses(gateway, "a", 1) == [429]
    clock.now += 0.01
    assert statuses(gateway, "a", 2) == [200, 429]
    clock.now += 10  # a bucket never holds more than its burst
    assert statuses(gateway, "a", 3) == [200, 200, 429]


def test_the_limits_hold_when_the_decision_comes_from_the_authorizer_cache(clock, authorizer) -> None:
    api = fake_api(authorizer, clock, api_key_required=True, ttl_seconds=300)
    assert api.usage_plans is not None
    plan_with(api.usage_plans, limited(rate=1, burst=1), "akvalue0000000000000000a")
    gateway = Gateway(api)
    assert statuses(gateway, "a", 2) == [200, 429]
    assert authorizer.invocations == 1


def test_a_quota_used_up_answers_429_until_its_period_ends(clock, authorizer) -> None:
    api = fake_api(authorizer, clock, api_key_required=True)
    assert api.usage_plans is not None
    plan_with(api.usage_plans, limited(quota=(3, "DAY")), "akvalue0000000000000000a", "akvalue0000000000000000b")
    gateway = Gateway(api)
    assert statuses(gateway, "a", 4) == [200, 200, 200, 429]
    exhausted = call(api, "a", gateway=gateway)
    assert (exhausted.headers["Retry-After"], json.loads(exhausted.body)["code"]) == ("3600", "quota_exhausted")
    assert statuses(gateway, "b", 3) == [200] * 3  # each key of a plan has its own quota
    clock.now = datetime(2026, 11, 26, 23, 59, 59, tzinfo=UTC).timestamp()
    assert statuses(gateway, "a", 1) == [429]
    clock.now = datetime(2026, 11, 27, tzinfo=UTC).timestamp()
    assert statuses(gateway, "a", 4) == [200, 200, 200, 429]


@pytest.mark.parametrize(
    ("period", "last_moment", "next_period"),
    [
        ("WEEK", datetime(2026, 11, 29, 23, 59, tzinfo=UTC), datetime(2026, 11, 30, tzinfo=UTC)),  # Sunday, Monday
        ("MONTH", datetime(2026, 11, 30, 23, 59, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC)),
    ],
)
def test_weekly_and_monthly_quotas_last_until_the_calendar_period_ends(
    clock, authorizer, period: str, last_moment: datetime, next_period: datetime
) -> None:
    api = fake_api(authorizer, clock, api_key_required=True)
    assert api.usage_plans is not None
    plan_with(api.usage_plans, limited(quota=(1, period)), "akvalue0000000000000000a")
    gateway = Gateway(api)
    assert statuses(gateway, "a", 2) == [200, 429]
    clock.now = last_moment.timestamp()
    assert statuses(gateway, "a", 1) == [429]
    clock.now = next_period.timestamp()
    assert statuses(gateway, "a", 2) == [200, 429]


def test_a_throttled_request_does_not_use_up_the_quota(clock, authorizer) -> None:
    api = fake_api(authorizer, clock, api_key_required=True)
    assert api.usage_plans is not None
    plan_id = plan_with(api.usage_plans, limited(rate=1, burst=1, quota=(5, "DAY")), "akvalue0000000000000000a")
    gateway = Gateway(api)
    assert statuses(gateway, "a", 4) == [200, 429, 429, 429]
    key_id = next(iter(api.usage_plans.plan(plan_id).keys))
    assert api.usage_plans.usage(plan_id, key_id, "2026-11-26", "2026-11-26") == {key_id: [[1, 4]]}


def test_a_key_in_no_plan_of_the_stage_is_refused_as_api_gateway_refuses_it(clock, authorizer) -> None:
    api = fake_api(authorizer, clock, api_key_required=True)
    assert api.usage_plans is not None
    api.usage_plans.known_stages.add(("otherapi99", "prod"))
    other = api.usage_plans.create_usage_plan("elsewhere", {("otherapi99", "prod")}, {})
    api.usage_plans.add_key(other.id, api.usage_plans.create_api_key("a", "akvalue0000000000000000a", True, NOON).id)
    refused = call(api, "a")
    assert (refused.status, refused.body) == (403, b'{"message":"Forbidden"}')


def test_an_authorizer_that_names_no_usage_key_gets_403_on_a_method_that_needs_one(clock) -> None:
    api = fake_api(FakeAuthorizer({"a": FakeKey(None)}), clock, api_key_required=True)
    assert call(api, "a").status == 403


def test_a_disabled_api_key_is_refused(clock, authorizer) -> None:
    api = fake_api(authorizer, clock, api_key_required=True)
    assert api.usage_plans is not None
    plan = api.usage_plans.create_usage_plan("plan", {(API_ID, STAGE)}, {})
    api.usage_plans.add_key(plan.id, api.usage_plans.create_api_key("a", "akvalue0000000000000000a", False, NOON).id)
    assert call(api, "a").status == 403


def test_a_method_that_needs_no_api_key_is_never_limited(clock, authorizer) -> None:
    api = fake_api(authorizer, clock, api_key_required=False)
    assert api.usage_plans is not None
    plan_with(api.usage_plans, limited(rate=1, burst=1), "akvalue0000000000000000a")
    assert statuses(Gateway(api), "a", 5) == [200] * 5


def test_without_the_templates_responses_api_gateways_own_429_bodies_are_answered(clock, authorizer) -> None:
    api = fake_api(authorizer, clock, api_key_required=True)
    api.responses = {}
    assert api.usage_plans is not None
    plan_with(api.usage_plans, limited(rate=1, burst=1, quota=(1, "DAY")), "akvalue0000000000000000a")
    plan_with(api.usage_plans, limited(rate=1, burst=1), "akvalue0000000000000000b")
    gateway = Gateway(api)
    assert call(api, "a", gateway=gateway).status == 200
    assert call(api, "a", gateway=gateway).body == b'{"message":"Limit Exceeded"}'
    assert call(api, "b", gateway=gateway).status == 200
    assert call(api, "b", gateway=gateway).body == b'{"message":"Too Many Requests"}'


def test_the_access_log_names_the_usage_plans_refusal(clock, authorizer) -> None:
    api = fake_api(authorizer, clock, api_key_required=True)
    api.access_log_format = '{"status":"$context.status","error":"$context.error.responseType"}'
    assert api.usage_plans is not None
    plan_with(api.usage_plans, limited(rate=1, burst=1), "akvalue0000000000000000a")
    lines: list[dict] = []
    gateway = Gateway(api, lambda _api, line: lines.append(json.loads(line)))
    statuses(gateway, "a", 2)
    assert lines[-1] == {"status": "429", "error": "THROTTLED"}


def test_an_api_key_is_in_at_most_one_plan_per_stage() -> None:
    from archie_local.usage_plans import ControlPlaneError

    plans = UsagePlans({(API_ID, STAGE)})
    key = plans.create_api_key("a", "akvalue0000000000000000a", True, NOON)
    first, second = (plans.create_usage_plan(n, {(API_ID, STAGE)}, {}) for n in ("one", "two"))
    plans.add_key(first.id, key.id)
    with pytest.raises(ControlPlaneError) as conflict:
        plans.add_key(second.id, key.id)
    assert conflict.value.kind == "ConflictException"


@pytest.mark.parametrize("period", ["day", "week", "month"])
@pytest.mark.parametrize(
    "moment", ["2026-11-26T12:00:00", "2026-11-30T00:00:00", "2026-12-31T23:59:59", "2028-02-29T08:00:00"]
)
def test_the_emulators_quota_periods_are_the_ones_the_usage_read_reports(period: str, moment: str) -> None:
    from archie_keys.domain.rate_limits import period_bounds
    from archie_local.usage_plans import period_start

    now = datetime.fromisoformat(moment).replace(tzinfo=UTC).timestamp()
    start, end = period_bounds(period, now)
    assert period_start(period.upper(), now).timestamp() == start
    assert period_start(period.upper(), end).timestamp() == end  # the next period starts where resets_at says
