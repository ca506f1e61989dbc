"""The API Gateway control plane, served locally: FlushStageAuthorizersCache, and the usage-plan and API-key
calls (`usage_plan_api`). boto3 reaches it through AWS_ENDPOINT_URL_API_GATEWAY, so the handlers' code is the
same as on AWS."""

from __future__ import annotations

import re
from collections.abc import Callable
from urllib.parse import unquote

from archie_local.http_server import HttpRequest, HttpResponse
from archie_local.routing import LocalApi
from archie_local.usage_plan_api import dispatcher


def control_plane(apis: dict[str, LocalApi]) -> Callable[[HttpRequest], HttpResponse]:
    """FlushStageAuthorizersCache (DELETE /restapis/{id}/stages/{stage}/cache/authorizers), and the usage-plan
    and API-key calls against the API keys and usage plans the APIs share."""
    by_stage = {(api.api_id, api.stage): api for api in apis.values()}
    shared = {id(api.usage_plans): api.usage_plans for api in apis.values() if api.usage_plans is not None}
    usage_plans = dispatcher(next(iter(shared.values()))) if len(shared) == 1 else None

    def dispatch(request: HttpRequest) -> HttpResponse:
        if request.body_too_large:
            return HttpResponse(413, {"Content-Type": "application/json"}, b'{"message": "Request Too Long"}')
        match = re.fullmatch(r"/restapis/([^/]+)/stages/([^/]+)/cache/authorizers", request.path)
        if request.method == "DELETE" and match:
            api = by_stage.get((match.group(1), unquote(match.group(2))))
            if api is None:
                return HttpResponse(
                    404, {"Content-Type": "application/json"}, b'{"message": "Invalid stage identifier specified"}'
                )
            api.flush_authorizer_cache()
            return HttpResponse(202, {"Content-Type": "application/json"}, b"")
        answer = usage_plans(request) if usage_plans is not None else None
        if answer is not None:
            return answer
        return HttpResponse(404, {"Content-Type": "application/json"}, b'{"message": "not emulated locally"}')

    return dispatch
