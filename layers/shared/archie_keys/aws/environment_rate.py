"""Per-environment rate limits on the federation routes (trust policy changes, token exchanges): a fixed-window
counter per environment, operation and minute in the coordination table (regional, like the API stage's own
throttling; each item expires by TTL after its window).

    pk = RATE#<project>#<environment>#<operation>, sk = <window start, epoch seconds>

One conditional UpdateItem per admitted request: it adds one while the count is under the limit, and is
refused (ConditionalCheckFailed, nothing written) once it is reached, so concurrent requests can never be
admitted past the limit. A fixed window admits at most twice the limit across a window boundary: enough
for a bound on what a leaked key or a runaway pipeline can do in a minute.
"""

from __future__ import annotations

import math
from typing import Any

from archie_keys.aws.dynamo import aws_error_code, to_item
from archie_keys.domain.errors import RateLimitedError

# How long a window's counter outlives its window (TTL deletes lazily anyway).
_KEEP_SECONDS = 3600


class EnvironmentRateLimiter:
    def __init__(self, table: str, client: Any) -> None:
        self.table = table
        self.client = client

    def admit(self, project: str, environment: str, operation: str, limit: int, window: int, now: float) -> None:
        """Count one `operation` in the environment's current window, or raise RateLimitedError (429) when
        `limit` are already counted there."""
        start = int(now // window) * window
        try:
            self.client.update_item(
                TableName=self.table,
                Key=to_item({"pk": f"RATE#{project}#{environment}#{operation}", "sk": str(start)}),
                UpdateExpression="ADD #count :one SET #expires = :expires",
                ConditionExpression="attribute_not_exists(#count) OR #count < :limit",
                ExpressionAttributeNames={"#count": "count", "#expires": "expires"},
                ExpressionAttributeValues=to_item({":one": 1, ":limit": limit, ":expires": start + _KEEP_SECONDS}),
            )
        except Exception as error:
            if aws_error_code(error) != "ConditionalCheckFailedException":
                raise
            retry_after = max(1, math.ceil(start + window - now))
            raise RateLimitedError(
                f"{project}/{environment} accepts at most {limit} of these a {window} s; retry in {retry_after} s",
                retry_after,
            ) from None
