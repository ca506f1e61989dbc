"""Webhooks under /projects/{project}/environments/{environment}/webhooks: register, list, read, delete, send
a test event, read recent deliveries, redrive dead letters (docs/webhooks.md)."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.utilities.typing import LambdaContext

from archie_keys.app.webhooks import (
    delete_webhook,
    get_webhook,
    list_webhooks,
    put_webhook,
    recent_deliveries,
    redrive,
    send_test,
)
from archie_keys.domain import limits
from archie_keys.edge import environment_schemas
from archie_keys.edge.composition import get_services
from archie_keys.edge.environment_models import RedriveBody, WebhookBody
from archie_keys.edge.http import caller_from, handle, logger, make_resolver, place
from archie_keys.edge.openapi import SECURITY, EnvironmentPath, ProjectPath, WebhookPath, answers
from archie_keys.edge.responses import json_response

app = make_resolver()
BASE = "/projects/<project>/environments/<environment>/webhooks"
DeliveriesLimit = Annotated[
    int,
    Query(ge=1, le=limits.WEBHOOK_DELIVERIES_PAGE_MAX, description="how many, newest first"),
]


@app.get(
    BASE,
    summary="List webhooks",
    description="The environment's webhooks, by name (never their secrets).",
    operation_id="listWebhooks",
    tags=["webhooks"],
    security=SECURITY,
    responses=answers({200: ("the webhooks", environment_schemas.WebhookList)}, 404),
)
def webhooks_list(project: ProjectPath, environment: EnvironmentPath) -> Response[Any]:
    found = list_webhooks(get_services(), caller_from(app), place(project, environment))
    return json_response(200, {"webhooks": found})


@app.put(
    BASE + "/<name>",
    summary="Register or change a webhook",
    description="Key events of the environment (`events`) are delivered to `url`, signed as the Standard Webhooks "
    "specification says. The answer that creates the webhook (201) holds its signing secret, `whsec_...`, "
    "this once; putting it again (200) changes the URL and events and keeps the secret. The URL must be https "
    "and every address its name resolves to public (422 `webhook_url_refused`).",
    operation_id="putWebhook",
    tags=["webhooks"],
    security=SECURITY,
    responses=answers(
        {
            201: ("registered; `secret` is shown this once", environment_schemas.Webhook),
            200: ("changed", environment_schemas.Webhook),
        },
        404,
        409,
    ),
)
def webhook_put(
    project: ProjectPath, environment: EnvironmentPath, name: WebhookPath, body: WebhookBody
) -> Response[Any]:
    answer = put_webhook(get_services(), caller_from(app), body.to_command(place(project, environment), name))
    if not answer.created:
        return json_response(200, answer.webhook)
    # no-store: the only copy of the signing secret must not linger in a proxy or browser cache.
    return json_response(201, {**answer.webhook, "secret": answer.secret}, {"Cache-Control": "no-store"})


@app.get(
    BASE + "/<name>",
    summary="Read a webhook",
    operation_id="getWebhook",
    tags=["webhooks"],
    security=SECURITY,
    responses=answers({200: ("the webhook", environment_schemas.Webhook)}, 404),
)
def webhook_get(project: ProjectPath, environment: EnvironmentPath, name: WebhookPath) -> Response[Any]:
    return json_response(200, get_webhook(get_services(), caller_from(app), place(project, environment), name))


@app.delete(
    BASE + "/<name>",
    summary="Delete a webhook",
    description="Deliveries still queued for it are dropped at their next attempt.",
    operation_id="deleteWebhook",
    tags=["webhooks"],
    security=SECURITY,
    responses=answers({204: ("deleted", None)}, 404),
)
def webhook_delete(project: ProjectPath, environment: EnvironmentPath, name: WebhookPath) -> Response[Any]:
    delete_webhook(get_services(), caller_from(app), place(project, environment), name)
    return json_response(204, None)


@app.post(
    BASE + "/<name>/test",
    summary="Send a test event",
    description="Queues a `webhook.test` event for this webhook, signed and retried like a key event; its "
    "delivery shows in the webhook's deliveries.",
    operation_id="testWebhook",
    tags=["webhooks"],
    security=SECURITY,
    responses=answers({202: ("queued", environment_schemas.WebhookTestSent)}, 404),
)
def webhook_test(project: ProjectPath, environment: EnvironmentPath, name: WebhookPath) -> Response[Any]:
    return json_response(202, send_test(get_services(), caller_from(app), place(project, environment), name))


@app.get(
    BASE + "/<name>/deliveries",
    summary="Recent deliveries of a webhook",
    description="Newest first, each with its last attempt: delivered, retrying (with `next_attempt_at`), or a "
    "dead letter after the last retry (kept 30 days; `POST .../redrive` sends them again).",
    operation_id="listWebhookDeliveries",
    tags=["webhooks"],
    security=SECURITY,
    responses=answers({200: ("recent deliveries", environment_schemas.WebhookDeliveries)}, 404),
)
def webhook_deliveries(
    project: ProjectPath, environment: EnvironmentPath, name: WebhookPath, limit: DeliveriesLimit = 20
) -> Response[Any]:
    found = recent_deliveries(get_services(), caller_from(app), place(project, environment), name, limit)
    return json_response(200, {"deliveries": found})


@app.post(
    BASE + "/<name>/redrive",
    summary="Redrive dead letters",
    description="Sends the webhook's dead letters (those named, or every one) again, on a fresh retry "
    "schedule, to its current URL, each with its original `webhook-id`.",
    operation_id="redriveWebhook",
    tags=["webhooks"],
    security=SECURITY,
    responses=answers({202: ("queued again", environment_schemas.WebhookRedriven)}, 404),
)
def webhook_redrive(
    project: ProjectPath, environment: EnvironmentPath, name: WebhookPath, body: RedriveBody
) -> Response[Any]:
    count = redrive(get_services(), caller_from(app), place(project, environment), name, body.delivery_ids)
    return json_response(202, {"redriven": count})


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return handle(app, event, context)
