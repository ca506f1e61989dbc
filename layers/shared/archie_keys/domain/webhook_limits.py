"""How a webhook delivery is made, signed and kept (docs/webhooks.md): the Standard Webhooks specification's
numbers and ours, each with its reason. The bounds on what a client sends about webhooks (a URL's length, a
name, how many) are the API's, in domain.limits. Pure constants.
"""

from __future__ import annotations

# Standard Webhooks: a signing secret is random, at least 24 bytes; we issue 32 and accept up to 64.
WEBHOOK_SECRET_BYTES = 32
WEBHOOK_SECRET_MIN_BYTES = 24
WEBHOOK_SECRET_MAX_BYTES = 64
# A receiver refuses a delivery signed further than this from its own clock (the specification's 5 minutes):
# a captured delivery cannot be replayed later, and a retry is signed afresh with the time of its attempt.
WEBHOOK_TOLERANCE_SECONDS = 5 * 60
# The specification recommends a receiver be given 15 to 30 s; the delivery function's timeout is above it.
WEBHOOK_TIMEOUT_SECONDS = 15
# What a delivery record keeps of a receiver's answer (the dashboard shows it): enough to read an error.
WEBHOOK_RESPONSE_KEPT_BYTES = 1024
# Delays before each retry: the specification's example schedule, each step capped at 12 hours (SQS's longest
# visibility timeout, the engine on AWS). Nine attempts over about 41.6 hours, past the 24 hours the issue asks.
WEBHOOK_RETRY_DELAYS_SECONDS = (5, 5 * 60, 30 * 60, 2 * 3600, 5 * 3600, 10 * 3600, 12 * 3600, 12 * 3600)
# Each delay is spread by up to this fraction either way, so receivers recovering from an outage are not met
# by every queued delivery in the same second.
WEBHOOK_RETRY_JITTER = 0.1
# A delivery's record (its last attempt, and its body while it is a dead letter) is kept this long, past the
# 41.6-hour schedule, so an owner back from a long weekend still finds what failed and can redrive it.
WEBHOOK_DELIVERY_RETENTION_SECONDS = 30 * 86400
