"""The control-plane calls the service makes of AWS services moto does not run for it, served locally:
API Gateway's FlushStageAuthorizersCache and its usage-plan and API-key calls (`usage_plan_api`), through
AWS_ENDPOINT_URL_API_GATEWAY, and Lambda's Invoke (through AWS_ENDPOINT_URL_LAMBDA), which runs the
template's own functions here. boto3 reaches both the way it reaches AWS, so the handlers' code is the same
as on AWS."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from urllib.parse import unquote

from archie_local.http_server import HttpRequest, HttpResponse
from archie_local.lambdas import FunctionRegistry
from archie_local.routing import LocalApi
from archie_local.usage_plan_api import dispatcher

_JSON = {"Content-Type": "application/json"}


def _not_found(message: str) -> HttpResponse:
    return HttpResponse(404, _JSON, json.dumps({"message": message}).encode())


def invoke(registry: FunctionRegistry, name: str, request: HttpRequest) -> HttpResponse:
    """Lambda's Invoke (POST /2015-03-31/functions/{name}/invocations): InvocationType Event is accepted with
    202 and run on a thread of its own (retried, then sent to the function's on-failure destination, as Lambda
    does); RequestResponse runs now and answers the function's result."""
    function = registry.find(name)
    if function is None:
        body = {"Type": "User", "message": f"Function not found: {name}"}
        return HttpResponse(404, {**_JSON, "x-amzn-ErrorType": "ResourceNotFoundException"}, json.dumps(body).encode())
    try:
        event = json.loads(request.body or b"{}")
    except ValueError:
        body = {"Type": "User", "message": "Could not parse request body into json"}
        return HttpResponse(
            400, {**_JSON, "x-amzn-ErrorType": "InvalidRequestContentException"}, json.dumps(body).encode()
        )
    kind = (request.header_values("X-Amz-Invocation-Type") or ["RequestResponse"])[0]
    if kind == "Event":
        registry.start_async(function, event)
        return HttpResponse(202, _JSON, b"")
    if kind == "DryRun":
        return HttpResponse(204, _JSON, b"")
    try:
        result = function.invoke(event)
    except Exception as error:  # noqa: BLE001 - a function's error is its caller's answer, as Lambda gives it
        failed = {"errorMessage": str(error), "errorType": type(error).__name__}
        return HttpResponse(200, {**_JSON, "X-Amz-Function-Error": "Unhandled"}, json.dumps(failed).encode())
    return HttpResponse(200, {**_JSON, "X-Amz-Executed-Version": "$LATEST"}, json.dumps(result).encode())


def control_plane(
    apis: dict[str, LocalApi], registry: FunctionRegistry | None = None
) -> Callable[[HttpRequest], HttpResponse]:
    """FlushStageAuthorizersCache (DELETE /restapis/{id}/stages/{stage}/cache/authorizers), the usage-plan and
    API-key calls against the API keys and usage plans the APIs share, and Lambda's Invoke (of the registry's
    functions; a control plane for APIs alone, as a test builds, has none)."""
    by_stage = {(api.api_id, api.stage): api for api in apis.values()}
    shared = {id(api.usage_plans): api.usage_plans for api in apis.values() if api.usage_plans is not None}
    usage_plans = dispatcher(next(iter(shared.values()))) if len(shared) == 1 else None

    def dispatch(request: HttpRequest) -> HttpResponse:
        if request.body_too_large:
            return HttpResponse(413, _JSON, b'{"message": "Request Too Long"}')
        flush = re.fullmatch(r"/restapis/([^/]+)/stages/([^/]+)/cache/authorizers", request.path)
        if request.method == "DELETE" and flush:
            api = by_stage.get((flush.group(1), unquote(flush.group(2))))
            if api is None:
                return _not_found("Invalid stage identifier specified")
            api.flush_authorizer_cache()
            return HttpResponse(202, _JSON, b"")
        answer = usage_plans(request) if usage_plans is not None else None
        if answer is not None:
            return answer
        invocation = re.fullmatch(r"/2015-03-31/functions/([^/]+)/invocations", request.path)
        if request.method == "POST" and invocation and registry is not None:
            return invoke(registry, unquote(invocation.group(1)), request)
        return _not_found("not emulated locally")

    return dispatch
