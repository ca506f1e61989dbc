"""POST /projects/{project}/environments/{environment}/verify: check a key (and optionally one permission)
for callers that are not behind API Gateway: a queue consumer, another gateway."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.utilities.typing import LambdaContext

from archie_keys.app.verify import verify_key
from archie_keys.edge.composition import get_services
from archie_keys.edge.http import caller_from, handle, json_response, logger, make_resolver, place
from archie_keys.edge.models import VerifyBody

app = make_resolver()


@app.post("/projects/<project>/environments/<environment>/verify")
def verify(project: str, environment: str, body: VerifyBody) -> Response[Any]:
    answer = verify_key(get_services(), caller_from(app), body.to_command(place(project, environment)))
    return json_response(200, answer, {"Cache-Control": "no-store"})


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return handle(app, event, context)
