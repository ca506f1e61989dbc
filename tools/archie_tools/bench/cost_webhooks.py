"""What webhooks cost (docs/webhooks.md, "What it costs"): per million deliveries, per million key events, and
a month of the engine idle, from the template (the delivery function's memory, architecture and batch size)
and the prices of tools/archie_tools/bench/cost_model.py. Nothing here is measured on the local stack: a delivery's cost
is its AWS requests and the receiver's answer time, which is the assumption below, stated in the output.
"""

from __future__ import annotations

from typing import Any

from archie_local.template import load_template
from archie_tools.bench.cost_model import (
    DYNAMODB_PER_READ_UNIT,
    DYNAMODB_PER_WRITE_UNIT,
    DYNAMODB_READ_MS,
    DYNAMODB_WRITE_MS,
    LAMBDA_PER_GB_SECOND,
    LAMBDA_PER_REQUEST,
    SECONDS_PER_MONTH,
    Line,
)
from archie_tools.bench.cost_template import _function_property

DELIVERY_FUNCTION = "WebhookDeliveryFunction"
# SQS standard queue requests (per 64 KB chunk; a delivery is one), and EventBridge custom events (per 64 KB).
SQS_PER_REQUEST = 0.40 / 1e6
EVENTBRIDGE_PER_EVENT = 1.00 / 1e6
# Assumptions: a receiver answers in this long (the specification asks receivers to answer fast and work
# later); Lambda's SQS event source polls an idle queue with this many pollers, each a 20-second long poll.
RECEIVER_MS = 200.0
IDLE_POLLERS = 5
LONG_POLL_SECONDS = 20


def delivery_costs(template: dict[str, Any] | None = None) -> list[Line]:
    """A million deliveries that succeed at their first attempt, batched as the template's event source says."""
    template = template or load_template()
    memory_gb = int(_function_property(template, DELIVERY_FUNCTION, "MemorySize", 128)) / 1024
    architecture = template["Globals"]["Function"].get("Architectures", ["x86_64"])[0]
    events = template["Resources"][DELIVERY_FUNCTION]["Properties"]["Events"]
    batch = int(next(iter(events.values()))["Properties"].get("BatchSize", 10))
    # Per delivery: the webhook's GetItem (its sealed secret), the attempt, its record's UpdateItem (under 1 KB).
    seconds = (DYNAMODB_READ_MS + RECEIVER_MS + DYNAMODB_WRITE_MS) / 1000
    return [
        Line("SQS", 3 * SQS_PER_REQUEST * 1e6, "send, receive and delete: three requests a delivery"),
        Line(
            "delivery function",
            (LAMBDA_PER_REQUEST / batch + seconds * memory_gb * LAMBDA_PER_GB_SECOND[architecture]) * 1e6,
            f"{memory_gb * 1024:.0f} MB {architecture}, batches of {batch}, {seconds * 1000:.0f} ms a delivery "
            f"(a receiver answering in {RECEIVER_MS:.0f} ms)",
        ),
        Line(
            "webhook read and delivery record",
            (DYNAMODB_PER_READ_UNIT + DYNAMODB_PER_WRITE_UNIT) * 1e6,
            "one strongly consistent read unit and one write unit a delivery",
        ),
    ]


def event_costs() -> list[Line]:
    """A million key events, whatever their webhooks: the emitting function's Query of the environment's
    webhooks (one read unit: at most 10 small items) and the event on the bus."""
    return [
        Line("webhooks query", DYNAMODB_PER_READ_UNIT * 1e6, "one read unit an event, in the function that made it"),
        Line("events bus", EVENTBRIDGE_PER_EVENT * 1e6, "one PutEvents entry an event (not per webhook)"),
    ]


def idle_monthly() -> Line:
    """Lambda's pollers long-poll the webhook queue whatever its traffic; each poll is an SQS request."""
    polls = IDLE_POLLERS * SECONDS_PER_MONTH / LONG_POLL_SECONDS
    return Line(
        "webhook queue pollers",
        polls * SQS_PER_REQUEST,
        f"{IDLE_POLLERS} pollers of Lambda's SQS event source, a {LONG_POLL_SECONDS}-second long poll each",
    )
