"""Expiry on time at every layer. The authorizer compares expires_at on every request (even warm), but API
Gateway may hold a cached Allow for up to ReauthorizeEvery seconds, so the environment's stages are flushed
at the expiry: ExpiryFlushFunction, invoked early, waits for the exact second, then asks for the (coalesced)
flush (app.expiry).

Keys expire on whole seconds (app.keys), and one invocation serves every key of an environment expiring in the
same second: 100,000 keys expiring together are one schedule and one flush per stage. EventBridge Scheduler
fires a one-time schedule somewhere within the minute of its at() (60-second precision), so the schedule is set
at the start of a minute that ends, with a margin for Lambda's queue, before the expiry. A key expiring too
soon for that (under about two minutes) has the function invoked directly, asynchronously; it waits as long.
A schedule deletes itself after it runs; a key revoked before its expiry leaves it in place (other keys may
share it, and a flush more is harmless).
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from archie_keys.aws.dynamo import aws_error_code

if TYPE_CHECKING:
    from archie_keys.aws.invoker import AsyncInvoker

logger = logging.getLogger("archie_keys.schedules")

# EventBridge Scheduler invokes a one-time schedule within the minute of its at() time.
SCHEDULER_PRECISION_SECONDS = 60
# Beyond that minute: Lambda's asynchronous queue and a cold start, before the function can wait.
LAMBDA_LEAD_SECONDS = 10
# A schedule's at() must still be ahead when it is created.
SCHEDULE_AHEAD_SECONDS = 5
# The longest the function waits for its second: a schedule fires at most 130 s early, a direct invocation
# 135 s (ExpiryFlushFunction's timeout leaves room for the flush after it).
MAX_WAIT_SECONDS = SCHEDULER_PRECISION_SECONDS * 2 + LAMBDA_LEAD_SECONDS + SCHEDULE_AHEAD_SECONDS


@dataclass(frozen=True)
class ScheduleTarget:
    """Where expiry schedules go: the group, the role Scheduler assumes, the function it invokes, and the
    queue where Scheduler puts an expiry it could not deliver after its retries (optional). Empty group,
    role or function: scheduling is not configured (expiry still holds at the authorizer)."""

    group: str = ""
    role_arn: str = ""
    function_arn: str = ""
    dead_letter_arn: str = ""

    @property
    def configured(self) -> bool:
        return bool(self.group and self.role_arn and self.function_arn)


def schedule_name(project: str, environment: str, second: int) -> str:
    """One schedule per environment and expiry second (at most 63 characters: Scheduler allows 64)."""
    return f"{project}-{environment}-at{second}"


def fire_minute(second: int) -> int:
    """The latest whole minute whose firing window (and Lambda's lead) still ends before `second`."""
    return (second - SCHEDULER_PRECISION_SECONDS - LAMBDA_LEAD_SECONDS) // 60 * 60


# Scheduler retries a delivery it could not make (throttled, the function unreachable) with backoff for up to
# an hour - the longest ReauthorizeEvery the template allows: later, API Gateway's cached Allow has run out by
# itself and a flush changes nothing - and then puts the expiry in the dead-letter queue, for the alarm.
RETRY_POLICY = {"MaximumEventAgeInSeconds": 3600, "MaximumRetryAttempts": 185}


def at_expression(epoch: int) -> str:
    return f"at({datetime.fromtimestamp(epoch, UTC).strftime('%Y-%m-%dT%H:%M:%S')})"


def expiry_event(project: str, environment: str, second: int) -> dict[str, Any]:
    return {"project": project, "environment": environment, "expires_epoch": second}


class ExpirySchedules:
    """Arranges the flush of an environment's stages at an expiry second: a schedule shared by every key
    expiring then (created once; a repeat finds it), or a direct invocation when the second is too close."""

    def __init__(
        self,
        client: Any,
        target: ScheduleTarget,
        invoker: AsyncInvoker | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.client = client
        self.target = target
        self.invoker = invoker
        self.clock = clock

    def _request(self, project: str, environment: str, second: int) -> dict[str, Any]:
        target: dict[str, Any] = {
            "Arn": self.target.function_arn,
            "RoleArn": self.target.role_arn,
            "Input": json.dumps(expiry_event(project, environment, second)),
            "RetryPolicy": dict(RETRY_POLICY),
        }
        if self.target.dead_letter_arn:
            target["DeadLetterConfig"] = {"Arn": self.target.dead_letter_arn}
        return {
            "Name": schedule_name(project, environment, second),
            "GroupName": self.target.group,
            "ScheduleExpression": at_expression(fire_minute(second)),
            "ScheduleExpressionTimezone": "UTC",
            "FlexibleTimeWindow": {"Mode": "OFF"},
            "ActionAfterCompletion": "DELETE",
            "Target": target,
        }

    def put(self, project: str, environment: str, expires_epoch: float) -> bool:
        """Arrange the flush at `expires_epoch` (a whole second; a fraction is rounded down). Returns False when
        scheduling is not configured (then API Gateway's cache runs out within ReauthorizeEvery)."""
        if not self.target.configured:
            logger.warning("expiry scheduling is not configured; gateway caches are not flushed at expiry")
            return False
        second = math.floor(expires_epoch)
        if fire_minute(second) < self.clock() + SCHEDULE_AHEAD_SECONDS:
            if self.invoker is None:
                logger.warning("an expiry too close to schedule and no invoker: flushed within ReauthorizeEvery")
                return False
            self.invoker.invoke(self.target.function_arn, expiry_event(project, environment, second))
            return True
        try:
            self.client.create_schedule(**self._request(project, environment, second))
        except Exception as error:
            if aws_error_code(error) != "ConflictException":
                raise
            # Another key of this environment expires in the same second: its schedule serves both.
        return True
