"""Expiry on time at every layer. The authorizer compares expires_at on every request (even warm), but API
Gateway may hold a cached Allow for up to ReauthorizeEvery seconds, so the environment's stages are flushed
at the expiry: ExpiryFlushFunction, invoked early, waits for the exact second, then asks for the (coalesced)
flush (app.expiry).

Keys expire on whole seconds (app.key_minting), and one invocation serves every key of an environment expiring in the
same second: 100,000 keys expiring together are one schedule and one flush per stage. EventBridge Scheduler
fires a one-time schedule somewhere within the minute of its at() (60-second precision), so the schedule is set
at the start of a minute that ends, with a margin for Lambda's queue, before the expiry. A key expiring too
soon for that (under about two minutes) has the function invoked directly, asynchronously; it waits as long.
A schedule deletes itself after it runs; a key revoked before its expiry leaves it in place (other keys may
share it, and a flush more is harmless).
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from archie_keys.aws.dynamo import aws_error_code
from archie_keys.domain.expiry_timing import (  # the timing both this module and the expiry functions rely on
    LAMBDA_LEAD_SECONDS,
    MAX_WAIT_SECONDS,
    SCHEDULE_AHEAD_SECONDS,
    SCHEDULER_PRECISION_SECONDS,
)

if TYPE_CHECKING:
    from archie_keys.aws.invoker import AsyncInvoker

logger = logging.getLogger("archie_keys.schedules")


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

    def put_notice(self, project: str, environment: str, key_id: str, expires: int, days: int) -> bool:
        """A key's expiry notice (module function put_notice), as a method: what app.ports.ExpirySchedules asks."""
        return put_notice(self, project, environment, key_id, expires, days)

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


# --- key expiry notices (key.expiring, key.expired: app.expiry_notices) ---------------------------------------


def notice_schedule_name(project: str, environment: str, key_id: str, days: int) -> str:
    """One schedule per key and notice; the place hashed, so the name stays within Scheduler's 64 characters."""
    place = hashlib.sha256(f"{project}/{environment}".encode()).hexdigest()[:10]
    return f"notice-{key_id}-{days}d-{place}"


def notice_event(project: str, environment: str, key_id: str, expires_epoch: int, days: int) -> dict[str, Any]:
    return {
        "project": project,
        "environment": environment,
        "key_id": key_id,
        "expires_epoch": expires_epoch,
        "notice_days": days,
    }


def put_notice(
    schedules: ExpirySchedules, project: str, environment: str, key_id: str, expires: int, days: int
) -> bool:
    """Arrange the notice `days` before the key's expiry (0: the key.expired notice, which fires in the minute
    after the expiry, never before it). A notice whose moment is too close to schedule is not sent, except the
    expiry itself: within about two minutes, the function is invoked at once and waits for it. False when
    nothing was arranged."""
    target = schedules.target
    if not target.configured:
        return False
    moment = expires - days * 86_400
    minute = (moment // 60) * 60 if days else -(-moment // 60) * 60  # expiring: at its minute; expired: after
    event = notice_event(project, environment, key_id, expires, days)
    now = schedules.clock()
    # An expiry the function can wait for (as the flush's direct invocation does) is sent on its second.
    if days == 0 and moment - now <= MAX_WAIT_SECONDS - LAMBDA_LEAD_SECONDS and schedules.invoker is not None:
        schedules.invoker.invoke(target.function_arn, event)
        return True
    if minute < now + SCHEDULE_AHEAD_SECONDS:
        return False  # an expiring notice whose moment has passed, or is seconds away: not sent
    request = schedules._request(project, environment, expires)
    request["Name"] = notice_schedule_name(project, environment, key_id, days)
    request["ScheduleExpression"] = at_expression(minute)
    request["Target"]["Input"] = json.dumps(event)
    try:
        schedules.client.create_schedule(**request)
    except Exception as error:
        if aws_error_code(error) != "ConflictException":
            raise
        # The key's notice of that day exists: its expiry was changed (a PATCH). Moved to the new moment, with
        # the new expiry in its event (the old one would find the key changed and send nothing).
        schedules.client.update_schedule(**request)
    return True
