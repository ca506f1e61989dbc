"""The API Gateway control-plane calls of usage plans and API keys, served locally in API Gateway's REST shapes,
so boto3's apigateway client (through AWS_ENDPOINT_URL_API_GATEWAY) works unchanged: CreateApiKey, GetApiKeys,
GetApiKey, DeleteApiKey, CreateUsagePlan, GetUsagePlans, GetUsagePlan, UpdateUsagePlan, DeleteUsagePlan,
CreateUsagePlanKey, GetUsagePlanKeys, DeleteUsagePlanKey and GetUsage. On the wire a list is `item` and
GetUsage's map `values` (botocore's model names them so: `items` is only the SDK's name). Errors carry
x-amzn-ErrorType, which botocore reads as the error code (NotFoundException, ConflictException,
BadRequestException)."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote

from archie_local.http_server import HttpRequest, HttpResponse
from archie_local.usage_plans import ApiKey, ControlPlaneError, UsagePlan, UsagePlans

Route = tuple[str, re.Pattern[str], Callable[..., tuple[int, Any]]]


def _key_shape(key: ApiKey, with_value: bool) -> dict[str, Any]:
    shape: dict[str, Any] = {
        "id": key.id,
        "name": key.name,
        "enabled": key.enabled,
        "createdDate": int(key.created),
        "lastUpdatedDate": int(key.created),
        "stageKeys": [],
    }
    if with_value:
        shape["value"] = key.value
    return shape


def _plan_shape(plan: UsagePlan) -> dict[str, Any]:
    shape: dict[str, Any] = {
        "id": plan.id,
        "name": plan.name,
        "apiStages": [{"apiId": api, "stage": stage} for api, stage in sorted(plan.stages)],
    }
    if plan.rate_limit is not None or plan.burst_limit is not None:
        shape["throttle"] = {
            k: v for k, v in (("rateLimit", plan.rate_limit), ("burstLimit", plan.burst_limit)) if v is not None
        }
    if plan.quota_limit is not None:
        shape["quota"] = {"limit": plan.quota_limit, "offset": 0, "period": plan.quota_period}
    return shape


def _plan_key_shape(key: ApiKey) -> dict[str, Any]:
    return {"id": key.id, "type": "API_KEY", "name": key.name, "value": key.value}


def _stages(body: dict[str, Any]) -> set[tuple[str, str]]:
    return {(str(entry["apiId"]), str(entry["stage"])) for entry in body.get("apiStages", [])}


def _first(request: HttpRequest, name: str) -> str | None:
    """The first value of a query parameter, as API Gateway's control plane reads a repeated one."""
    values = request.query.get(name)
    return values[0] if values else None


class _ControlPlane:
    """API Gateway's usage-plan and API-key operations, over the local plans."""

    def __init__(self, plans: UsagePlans, clock: Callable[[], float]) -> None:
        self.plans = plans
        self.clock = clock

    def create_key(self, request: HttpRequest, body: dict[str, Any]) -> tuple[int, Any]:
        key = self.plans.create_api_key(
            str(body.get("name", "")), body.get("value"), bool(body.get("enabled")), self.clock()
        )
        return 201, _key_shape(key, with_value=True)

    def list_keys(self, request: HttpRequest, body: dict[str, Any]) -> tuple[int, Any]:
        name = _first(request, "name")
        values = (request.query.get("includeValues") or ["false"])[0] == "true"
        chosen = [k for k in self.plans.all_keys() if name is None or k.name.startswith(name)]
        return 200, {"item": [_key_shape(k, values) for k in chosen]}

    def get_key(self, request: HttpRequest, body: dict[str, Any], key_id: str) -> tuple[int, Any]:
        key = self.plans.keys.get(key_id)
        if key is None:
            raise ControlPlaneError(404, "NotFoundException", "Invalid API Key identifier specified")
        return 200, _key_shape(key, (request.query.get("includeValue") or ["false"])[0] == "true")

    def delete_key(self, request: HttpRequest, body: dict[str, Any], key_id: str) -> tuple[int, Any]:
        self.plans.delete_api_key(key_id)
        return 202, None

    def create_plan(self, request: HttpRequest, body: dict[str, Any]) -> tuple[int, Any]:
        return 201, _plan_shape(self.plans.create_usage_plan(str(body.get("name", "")), _stages(body), body))

    def list_plans(self, request: HttpRequest, body: dict[str, Any]) -> tuple[int, Any]:
        key_id = _first(request, "keyId")
        chosen = [p for p in self.plans.all_plans() if key_id is None or key_id in p.keys]
        return 200, {"item": [_plan_shape(p) for p in chosen]}

    def get_plan(self, request: HttpRequest, body: dict[str, Any], plan_id: str) -> tuple[int, Any]:
        return 200, _plan_shape(self.plans.plan(plan_id))

    def update_plan(self, request: HttpRequest, body: dict[str, Any], plan_id: str) -> tuple[int, Any]:
        return 200, _plan_shape(self.plans.update_usage_plan(plan_id, list(body.get("patchOperations", []))))

    def delete_plan(self, request: HttpRequest, body: dict[str, Any], plan_id: str) -> tuple[int, Any]:
        self.plans.delete_usage_plan(plan_id)
        return 202, None

    def add_plan_key(self, request: HttpRequest, body: dict[str, Any], plan_id: str) -> tuple[int, Any]:
        return 201, _plan_key_shape(self.plans.add_key(plan_id, str(body.get("keyId", ""))))

    def list_plan_keys(self, request: HttpRequest, body: dict[str, Any], plan_id: str) -> tuple[int, Any]:
        members = [k for k in self.plans.all_keys() if k.id in self.plans.plan(plan_id).keys]
        return 200, {"item": [_plan_key_shape(k) for k in members]}

    def remove_plan_key(self, request: HttpRequest, body: dict[str, Any], plan_id: str, key_id: str) -> tuple[int, Any]:
        self.plans.remove_key(plan_id, key_id)
        return 202, None

    def usage(self, request: HttpRequest, body: dict[str, Any], plan_id: str) -> tuple[int, Any]:
        start, end = (request.query.get(n, [""])[0] for n in ("startDate", "endDate"))
        if not (start and end):
            raise ControlPlaneError(400, "BadRequestException", "startDate and endDate are required")
        key_id = _first(request, "keyId")
        items = self.plans.usage(plan_id, key_id, start, end)
        return 200, {"usagePlanId": plan_id, "startDate": start, "endDate": end, "values": items}


def routes(plans: UsagePlans, clock: Callable[[], float]) -> list[Route]:
    api = _ControlPlane(plans, clock)
    segment = "([^/]+)"
    return [
        ("POST", re.compile("/apikeys"), api.create_key),
        ("GET", re.compile("/apikeys"), api.list_keys),
        ("GET", re.compile(f"/apikeys/{segment}"), api.get_key),
        ("DELETE", re.compile(f"/apikeys/{segment}"), api.delete_key),
        ("POST", re.compile("/usageplans"), api.create_plan),
        ("GET", re.compile("/usageplans"), api.list_plans),
        ("GET", re.compile(f"/usageplans/{segment}"), api.get_plan),
        ("PATCH", re.compile(f"/usageplans/{segment}"), api.update_plan),
        ("DELETE", re.compile(f"/usageplans/{segment}"), api.delete_plan),
        ("POST", re.compile(f"/usageplans/{segment}/keys"), api.add_plan_key),
        ("GET", re.compile(f"/usageplans/{segment}/keys"), api.list_plan_keys),
        ("DELETE", re.compile(f"/usageplans/{segment}/keys/{segment}"), api.remove_plan_key),
        ("GET", re.compile(f"/usageplans/{segment}/usage"), api.usage),
    ]


def _json(status: int, body: Any, headers: dict[str, str] | None = None) -> HttpResponse:
    payload = b"" if body is None else json.dumps(body).encode()
    return HttpResponse(status, {"Content-Type": "application/json", **(headers or {})}, payload)


def dispatcher(
    plans: UsagePlans, clock: Callable[[], float] = time.time
) -> Callable[[HttpRequest], HttpResponse | None]:
    """A dispatch for the control plane: the answer to a usage-plan or API-key call, None for any other path."""
    table = routes(plans, clock)

    def dispatch(request: HttpRequest) -> HttpResponse | None:
        for method, pattern, handler in table:
            found = pattern.fullmatch(request.path)
            if found is None:
                continue
            if method != request.method:
                continue
            try:
                body = json.loads(request.body) if request.body else {}
                if not isinstance(body, dict):
                    raise ControlPlaneError(400, "BadRequestException", "the body must be a JSON object")
                status, answer = handler(request, body, *(unquote(g) for g in found.groups()))
            except ControlPlaneError as error:
                return _json(error.status, {"message": error.message}, {"x-amzn-ErrorType": error.kind})
            except (ValueError, KeyError, TypeError) as error:
                return _json(400, {"message": f"invalid request: {error}"}, {"x-amzn-ErrorType": "BadRequestException"})
            return _json(status, answer)
        return None

    return dispatch
