"""API Gateway's usage plans and API keys, locally: the engine that enforces per-key rate limits and quotas.

What it does as API Gateway does (docs/limits.md, "The local emulation"):
* API keys (a value of 20 to 128 characters, unique) and usage plans (the stages they cover, a throttle of
  `rateLimit` requests a second with a bucket of `burstLimit`, a quota of `limit` requests a DAY, WEEK or
  MONTH), with the keys each plan holds; an API key is in at most one plan per stage. They come from the
  template (AWS::ApiGateway::ApiKey, UsagePlan, UsagePlanKey) and from the control plane (`usage_plan_api`),
  which the service's code reaches through boto3 as on AWS.
* On a method that requires an API key, the request's key (the authorizer's `usageIdentifierKey` when the
  API's ApiKeySourceType is AUTHORIZER, else the x-api-key header) must be an enabled key of a plan covering
  the stage, or API Gateway answers INVALID_API_KEY (403). Then the plan's quota (QUOTA_EXCEEDED, 429) and its
  throttle (THROTTLED, 429) are applied to that key alone; a request let through counts against the quota.
* Each key's token bucket starts full; quota periods are calendar periods in UTC (a week from Monday: the
  start AWS documents for WEEK with offset 1, the offset the service's plans use). Time comes from the clock
  the gateway passes, so a test moves it instead of sleeping.

Not emulated: per-method throttles inside a plan, quota offsets other than the period's start, UpdateUsage.
"""

from __future__ import annotations

import secrets
import string
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from archie_local.template import Resolver, resources_of_type

ADMITTED, FORBIDDEN, THROTTLED, QUOTA_EXCEEDED = "admitted", "INVALID_API_KEY", "THROTTLED", "QUOTA_EXCEEDED"
PERIODS = ("DAY", "WEEK", "MONTH")
_ALPHANUMERIC = string.ascii_letters + string.digits


class ControlPlaneError(Exception):
    """An API Gateway error answer: its status and its x-amzn-ErrorType."""

    def __init__(self, status: int, kind: str, message: str) -> None:
        super().__init__(message)
        self.status, self.kind, self.message = status, kind, message


@dataclass
class ApiKey:
    id: str
    value: str
    name: str
    enabled: bool
    created: float


@dataclass
class UsagePlan:
    id: str
    name: str
    stages: set[tuple[str, str]]
    rate_limit: float | None = None
    burst_limit: int | None = None
    quota_limit: int | None = None
    quota_period: str | None = None
    keys: set[str] = field(default_factory=set)


@dataclass
class _Bucket:
    tokens: float
    updated: float


def period_start(period: str, now: float) -> datetime:
    """The first moment (UTC) of the quota period holding `now`."""
    day = datetime.fromtimestamp(now, UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "DAY":
        return day
    if period == "WEEK":
        return day - timedelta(days=day.weekday())
    return day.replace(day=1)


def _new_id(length: int = 10) -> str:
    return "".join(secrets.choice(string.ascii_lowercase + string.digits) for _ in range(length))


class UsagePlans:
    """Every API key and usage plan of the local account, shared by the APIs and the control plane."""

    def __init__(self, known_stages: set[tuple[str, str]] | None = None) -> None:
        self.known_stages = known_stages if known_stages is not None else set()
        self.keys: dict[str, ApiKey] = {}
        self.plans: dict[str, UsagePlan] = {}
        self._buckets: dict[tuple[str, str], _Bucket] = {}
        self._daily: dict[tuple[str, str], dict[str, int]] = {}
        self._lock = threading.Lock()

    # --- the control plane ---------------------------------------------------------------------------------

    def all_keys(self) -> list[ApiKey]:
        with self._lock:
            return list(self.keys.values())

    def all_plans(self) -> list[UsagePlan]:
        with self._lock:
            return list(self.plans.values())

    def create_api_key(self, name: str, value: str | None, enabled: bool, now: float) -> ApiKey:
        value = value if value is not None else "".join(secrets.choice(_ALPHANUMERIC) for _ in range(40))
        if not 20 <= len(value) <= 128 or not value.isascii() or not value.isalnum():
            raise ControlPlaneError(400, "BadRequestException", "API Key value should be at least 20 characters")
        with self._lock:
            if any(key.value == value for key in self.keys.values()):
                raise ControlPlaneError(409, "ConflictException", "API Key already exists")
            key = ApiKey(_new_id(), value, name, enabled, now)
            self.keys[key.id] = key
            return key

    def delete_api_key(self, key_id: str) -> None:
        with self._lock:
            if self.keys.pop(key_id, None) is None:
                raise ControlPlaneError(404, "NotFoundException", "Invalid API Key identifier specified")
            for plan in self.plans.values():
                plan.keys.discard(key_id)

    def create_usage_plan(self, name: str, stages: set[tuple[str, str]], limits: dict[str, Any]) -> UsagePlan:
        self._check_stages(stages)
        plan = UsagePlan(_new_id(), name, set(stages))
        self._apply_limits(plan, limits)
        with self._lock:
            self.plans[plan.id] = plan
        return plan

    def plan(self, plan_id: str) -> UsagePlan:
        found = self.plans.get(plan_id)
        if found is None:
            raise ControlPlaneError(404, "NotFoundException", "Invalid Usage Plan ID specified")
        return found

    def update_usage_plan(self, plan_id: str, operations: list[dict[str, Any]]) -> UsagePlan:
        plan = self.plan(plan_id)
        with self._lock:
            for operation in operations:
                self._patch(plan, operation)
        return plan

    def delete_usage_plan(self, plan_id: str) -> None:
        with self._lock:
            if self.plans.pop(plan_id, None) is None:
                raise ControlPlaneError(404, "NotFoundException", "Invalid Usage Plan ID specified")

    def add_key(self, plan_id: str, key_id: str) -> ApiKey:
        plan = self.plan(plan_id)
        with self._lock:
            key = self.keys.get(key_id)
            if key is None:
                raise ControlPlaneError(404, "NotFoundException", "Invalid API Key identifier specified")
            if key_id in plan.keys:
                raise ControlPlaneError(409, "ConflictException", "Usage Plan Key already exists")
            for other in self.plans.values():
                if other is not plan and key_id in other.keys and other.stages & plan.stages:
                    raise ControlPlaneError(
                        409, "ConflictException", "API Key is already associated with a usage plan for this stage"
                    )
            plan.keys.add(key_id)
            return key

    def remove_key(self, plan_id: str, key_id: str) -> None:
        plan = self.plan(plan_id)
        with self._lock:
            if key_id not in plan.keys:
                raise ControlPlaneError(404, "NotFoundException", "Invalid API Key identifier specified")
            plan.keys.discard(key_id)

    def usage(self, plan_id: str, key_id: str | None, start: str, end: str) -> dict[str, list[list[int]]]:
        """GetUsage's items: for each key, per day from `start` to `end` (YYYY-MM-DD), [used, remaining]."""
        plan = self.plan(plan_id)
        first, last = datetime.fromisoformat(start).date(), datetime.fromisoformat(end).date()
        items: dict[str, list[list[int]]] = {}
        with self._lock:
            for member in sorted(plan.keys if key_id is None else plan.keys & {key_id}):
                daily = self._daily.get((plan.id, member), {})
                rows, day = [], first
                while day <= last:
                    noon = datetime(day.year, day.month, day.day, 12, tzinfo=UTC).timestamp()
                    used_so_far = self._used_in_period(plan, daily, noon, through=day.isoformat())
                    remaining = max(0, plan.quota_limit - used_so_far) if plan.quota_limit is not None else 0
                    rows.append([daily.get(day.isoformat(), 0), remaining])
                    day += timedelta(days=1)
                items[member] = rows
        return items

    def _check_stages(self, stages: set[tuple[str, str]]) -> None:
        unknown = stages - self.known_stages
        if unknown:
            raise ControlPlaneError(404, "NotFoundException", "Invalid stage identifier specified")

    def _apply_limits(self, plan: UsagePlan, limits: dict[str, Any]) -> None:
        throttle, quota = limits.get("throttle") or {}, limits.get("quota") or {}
        if throttle:
            plan.rate_limit = float(throttle["rateLimit"]) if "rateLimit" in throttle else None
            plan.burst_limit = int(throttle["burstLimit"]) if "burstLimit" in throttle else None
        if quota:
            if quota.get("period") not in PERIODS or int(quota.get("limit", -1)) < 0:
                raise ControlPlaneError(400, "BadRequestException", "Invalid quota: a limit and a period are needed")
            plan.quota_limit, plan.quota_period = int(quota["limit"]), str(quota["period"])

    def _patch(self, plan: UsagePlan, operation: dict[str, Any]) -> None:
        op, path, value = operation.get("op"), operation.get("path"), operation.get("value")
        if path == "/apiStages" and op in ("add", "remove") and isinstance(value, str) and ":" in value:
            stage = tuple(value.split(":", 1))
            if op == "add":
                self._check_stages({(stage[0], stage[1])})
                plan.stages.add((stage[0], stage[1]))
            else:
                plan.stages.discard((stage[0], stage[1]))
            return
        settable = {"/throttle/rateLimit", "/throttle/burstLimit", "/quota/limit", "/quota/period", "/name"}
        if op != "replace" or path not in settable:
            raise ControlPlaneError(400, "BadRequestException", f"Invalid patch operation {op} {path}")
        if path == "/name":
            plan.name = str(value)
        elif path == "/throttle/rateLimit":
            plan.rate_limit = float(str(value))
        elif path == "/throttle/burstLimit":
            plan.burst_limit = int(str(value))
        elif path == "/quota/limit":
            plan.quota_limit = int(str(value))
        elif str(value) in PERIODS:
            plan.quota_period = str(value)
        else:
            raise ControlPlaneError(400, "BadRequestException", f"Invalid quota period {value}")

    # --- the data plane --------------------------------------------------------------------------------------

    def admit(self, api_id: str, stage: str, value: str | None, now: float) -> str:
        """The fate of one request on a method that requires an API key: ADMITTED (and counted), or the type
        of API Gateway's refusal."""
        with self._lock:
            key = next((k for k in self.keys.values() if value is not None and k.value == value), None)
            plan = None
            if key is not None and key.enabled:
                plan = next((p for p in self.plans.values() if key.id in p.keys and (api_id, stage) in p.stages), None)
            if key is None or plan is None:
                return FORBIDDEN
            daily = self._daily.setdefault((plan.id, key.id), {})
            if plan.quota_limit is not None and self._used_in_period(plan, daily, now) >= plan.quota_limit:
                return QUOTA_EXCEEDED
            if plan.rate_limit is not None and not self._take(plan, key.id, now):
                return THROTTLED
            today = datetime.fromtimestamp(now, UTC).date().isoformat()
            daily[today] = daily.get(today, 0) + 1
            return ADMITTED

    def _take(self, plan: UsagePlan, key_id: str, now: float) -> bool:
        """One token of the key's bucket: `burstLimit` tokens, refilled at `rateLimit` a second."""
        rate, burst = plan.rate_limit or 0.0, plan.burst_limit if plan.burst_limit is not None else 0
        bucket = self._buckets.setdefault((plan.id, key_id), _Bucket(float(burst), now))
        bucket.tokens = min(float(burst), bucket.tokens + max(0.0, now - bucket.updated) * rate)
        bucket.updated = max(bucket.updated, now)
        if bucket.tokens < 1:
            return False
        bucket.tokens -= 1
        return True

    @staticmethod
    def _used_in_period(plan: UsagePlan, daily: dict[str, int], now: float, through: str | None = None) -> int:
        first = period_start(plan.quota_period or "DAY", now).date().isoformat()
        last = through or datetime.fromtimestamp(now, UTC).date().isoformat()
        return sum(count for day, count in daily.items() if first <= day <= last)


def from_template(template: dict[str, Any], resolver: Resolver, stages: dict[str, tuple[str, str]]) -> UsagePlans:
    """The template's API keys, usage plans and their keys. `stages` maps each API's logical id to its
    (rest api id, stage), so a plan's `ApiStages` may name an API by Ref and its stage by name or by
    `!Ref <Api>.Stage`, as SAM allows."""
    registry = UsagePlans(set(stages.values()))
    by_logical_id: dict[str, str] = {}
    for name, spec in resources_of_type(template, "AWS::ApiGateway::ApiKey", resolver).items():
        props = resolver.resolve(spec.get("Properties", {}))
        enabled = str(props.get("Enabled", "false")).lower() == "true"
        by_logical_id[name] = registry.create_api_key(props.get("Name", name), props.get("Value"), enabled, 0.0).id
    for name, spec in resources_of_type(template, "AWS::ApiGateway::UsagePlan", resolver).items():
        props = spec.get("Properties", {})
        plan_stages = set()
        for entry in resolver.chosen(props.get("ApiStages", [])) or []:  # the entries' Refs name APIs: kept
            api = entry["ApiId"]["Ref"]
            stage_ref = entry["Stage"]
            named = stage_ref.get("Ref", "") if isinstance(stage_ref, dict) else ""
            plan_stages.add(
                (stages[api][0], stages[api][1] if named.endswith(".Stage") else resolver.resolve(stage_ref))
            )
        limits = resolver.resolve({k: v for k, v in props.items() if k in ("Throttle", "Quota")})
        throttle = {k[0].lower() + k[1:]: v for k, v in limits.get("Throttle", {}).items()}
        quota = {k.lower(): v for k, v in limits.get("Quota", {}).items()}
        by_logical_id[name] = registry.create_usage_plan(
            resolver.resolve(props.get("UsagePlanName", name)), plan_stages, {"throttle": throttle, "quota": quota}
        ).id
    for spec in resources_of_type(template, "AWS::ApiGateway::UsagePlanKey", resolver).values():
        props = spec["Properties"]
        registry.add_key(by_logical_id[props["UsagePlanId"]["Ref"]], by_logical_id[props["KeyId"]["Ref"]])
    return registry
