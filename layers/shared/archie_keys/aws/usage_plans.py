"""Per-key rate limits and quotas on API Gateway's usage plans (docs/limits.md, "Rate limits and quotas").

One usage plan per distinct `limits` (named by domain.rate_limits.usage_plan_name, found by that name before
one is made), covering every protected stage; one API key per limited rotation chain (its value is
domain.usage_keys.usage_identifier, which the authorizer returns as usageIdentifierKey); one shared API key in
a plan without limits for every key that has none. Every call can be repeated: an API key that exists is found
by its name, a key already in its plan is left there, so a retry after a throttled control plane (CreateApiKey:
5 requests a second per account) converges instead of duplicating.

A ClientError the control plane answers (TooManyRequestsException among them) is left to the caller: the edge
turns a dependency's failure into 503 with Retry-After, and nothing was half done that a retry cannot finish.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from archie_keys.aws.dynamo import aws_error_code
from archie_keys.domain.errors import CapacityExhausted
from archie_keys.domain.rate_limits import (
    Limits,
    QuotaUsage,
    period_bounds,
    quota_usage,
    usage_plan_name,
    used_in_period,
)
from archie_keys.domain.usage_keys import usage_identifier

_PERIODS = {"day": "DAY", "week": "WEEK", "month": "MONTH"}


def plan_settings(limits: Limits | None) -> dict[str, Any]:
    """CreateUsagePlan's throttle and quota for `limits` (nothing for the plan without limits)."""
    settings: dict[str, Any] = {}
    if limits is not None and limits.rate_per_second is not None:
        settings["throttle"] = {"rateLimit": float(limits.rate_per_second), "burstLimit": limits.burst}
    if limits is not None and limits.quota is not None:
        # offset 0: the period starts where domain.rate_limits.period_bounds says (docs/limits.md on WEEK).
        settings["quota"] = {"limit": limits.quota.limit, "offset": 0, "period": _PERIODS[limits.quota.period]}
    return settings


def _pages(call: Callable[..., dict[str, Any]], **kwargs: Any) -> Iterable[dict[str, Any]]:
    while True:
        page = call(**kwargs)
        yield from page.get("items", [])
        if not page.get("position"):
            return
        kwargs["position"] = page["position"]


class UsagePlanLimits:
    """The usage plans and API keys of one stack (`namespace`) in one region. `stages` gives the protected
    stages, (rest api id, stage name), every plan covers."""

    def __init__(self, client: Any, namespace: str, stages: Callable[[], Iterable[tuple[str, str]]]) -> None:
        self.client = client
        self.namespace = namespace
        self.stages = stages
        self._plan_ids: dict[str, str] = {}

    def plan_id(self, limits: Limits | None) -> str:
        """The plan of `limits`, made when it is the first with them. Looked up once per process; a plan found
        is given the protected stages registered since it was made (else a key in it would be refused there,
        INVALID_API_KEY)."""
        name = usage_plan_name(self.namespace, limits)
        if name not in self._plan_ids:
            stages = set(self.stages())
            found = next((p for p in _pages(self.client.get_usage_plans) if p.get("name") == name), None)
            if found is None:
                listed = [{"apiId": api, "stage": stage} for api, stage in sorted(stages)]
                plan_id = str(self.client.create_usage_plan(name=name, apiStages=listed, **plan_settings(limits))["id"])
            else:
                plan_id = str(found["id"])
                covered = {(s.get("apiId"), s.get("stage")) for s in found.get("apiStages", [])}
                missing = [
                    {"op": "add", "path": "/apiStages", "value": f"{a}:{s}"} for a, s in sorted(stages - covered)
                ]
                if missing:
                    self.client.update_usage_plan(usagePlanId=plan_id, patchOperations=missing)
            self._plan_ids[name] = plan_id
        return self._plan_ids[name]

    def attach(self, lineage_id: str | None, limits: Limits | None) -> str:
        """Put the rotation chain's API key (the shared one for None) in the plan of `limits`, out of any other
        plan of this stack; the usageIdentifierKey to return for its keys. CapacityExhausted when API Gateway
        has no room left for another API key or plan (its LimitExceededException)."""
        try:
            return self._attach(lineage_id, limits)
        except Exception as error:
            if aws_error_code(error) == "LimitExceededException":
                raise CapacityExhausted(str(error)) from error
            raise

    def _attach(self, lineage_id: str | None, limits: Limits | None) -> str:
        value = usage_identifier(self.namespace, lineage_id)
        key_id = self._api_key_id(lineage_id, value)
        target = self.plan_id(limits)
        for plan in _pages(self.client.get_usage_plans, keyId=key_id):
            if plan["id"] != target and str(plan.get("name", "")).startswith(f"{self.namespace}-"):
                self.client.delete_usage_plan_key(usagePlanId=plan["id"], keyId=key_id)
        try:
            self.client.create_usage_plan_key(usagePlanId=target, keyId=key_id, keyType="API_KEY")
        except Exception as error:
            if aws_error_code(error) != "ConflictException":  # already in the plan: a repeated call
                raise
        return value

    def detach(self, lineage_id: str) -> None:
        """Delete the chain's API key (its plans forget it): once no key of the chain is live."""
        key_id = self._find_api_key(self._name(lineage_id))
        if key_id is not None:
            self.client.delete_api_key(apiKey=key_id)

    def quota(self, lineage_id: str, limits: Limits, now: float) -> QuotaUsage | None:
        """The chain's quota this period, as GET /keys/{key_id}/usage shows it; None without a quota."""
        if limits.quota is None:
            return None
        key_id = self._find_api_key(self._name(lineage_id))
        used = 0
        if key_id is not None:
            start, _ = period_bounds(limits.quota.period, now)
            answer = self.client.get_usage(
                usagePlanId=self.plan_id(limits),
                keyId=key_id,
                startDate=datetime.fromtimestamp(start, UTC).date().isoformat(),
                endDate=datetime.fromtimestamp(now, UTC).date().isoformat(),
            )
            days = answer.get("items", {}).get(key_id, [])
            first = datetime.fromtimestamp(start, UTC).date().toordinal()
            daily = {datetime.fromordinal(first + i).date().isoformat(): int(day[0]) for i, day in enumerate(days)}
            used = used_in_period(daily, limits.quota.period, now)
        return quota_usage(limits.quota, used, now)

    def _name(self, lineage_id: str | None) -> str:
        return f"{self.namespace}/{'unlimited' if lineage_id is None else lineage_id}"

    def _find_api_key(self, name: str) -> str | None:
        matches = _pages(self.client.get_api_keys, nameQuery=name, includeValues=False)
        return next((k["id"] for k in matches if k.get("name") == name), None)

    def _api_key_id(self, lineage_id: str | None, value: str) -> str:
        name = self._name(lineage_id)
        found = self._find_api_key(name)
        if found is not None:
            return found
        try:
            return str(self.client.create_api_key(name=name, value=value, enabled=True)["id"])
        except Exception as error:
            if aws_error_code(error) != "ConflictException":
                raise
        # Created by a concurrent call between the look-up and ours.
        again = self._find_api_key(name)
        if again is None:
            raise RuntimeError(f"API key {name} exists by value but not by name")
        return again
