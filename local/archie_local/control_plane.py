"""The one API Gateway control-plane call the service makes, served locally: FlushStageAuthorizersCache.
boto3 reaches it through AWS_ENDPOINT_URL_API_GATEWAY, so the handlers' code is the same as on AWS."""

from __future__ import annotations

import re
from collections.abc import Callable
from urllib.parse import unquote

from archie_local.http_server import HttpRequest, HttpResponse
from archie_local.routing import LocalApi


def control_plane(apis: dict[str, LocalApi]) -> Callable[[HttpRequest], HttpResponse]:
    """The one API Gateway control-plane call the service makes: FlushStageAuthorizersCache
    (DELETE /restapis/{id}/stages/{stage}/cache/authorizers)."""
    by_stage = {(api.api_id, api.stage): api for api in apis.values()}

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
        return HttpResponse(404, {"Content-Type": "application/json"}, b'{"message": "not emulated locally"}')

    return dispatch
