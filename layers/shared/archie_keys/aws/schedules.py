"""Expiry on time at every layer. The authorizer compares expires_at on every request (even warm), but API
Gateway may hold a cached Allow for up to ReauthorizeEvery seconds. So creating an expiring key also creates
a one-time EventBridge Scheduler schedule at expires_at that invokes ExpiryFlushFunction, which flushes the
authorizer caches of the key's environment. The schedule deletes itself after it runs."""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from archie_keys.aws.dynamo import aws_error_code

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


def schedule_name(project: str, environment: str, key_id: str) -> str:
    """One schedule per key, named by it (at most 62 characters: Scheduler allows 64)."""
    return f"{project}-{environment}-{key_id}"


# Scheduler retries a delivery it could not make (throttled, the function unreachable) with backoff for up to
# an hour - the longest ReauthorizeEvery the template allows: later, API Gateway's cached Allow has run out by
# itself and a flush changes nothing - and then puts the expiry in the dead-letter queue, for the alarm.
RETRY_POLICY = {"MaximumEventAgeInSeconds": 3600, "MaximumRetryAttempts": 185}


def at_expression(epoch: float) -> str:
    # Scheduler's at() has one-second precision: round up, so the flush never precedes the expiry.
    moment = datetime.fromtimestamp(math.ceil(epoch), UTC)
    return f"at({moment.strftime('%Y-%m-%dT%H:%M:%S')})"


class ExpirySchedules:
    """Creates, moves and deletes the one-time expiry schedule of each key, by key id, so every call can be
    repeated (a retry or an undo never meets a name conflict)."""

    def __init__(self, client: Any, target: ScheduleTarget) -> None:
        self.client = client
        self.target = target

    def _request(self, project: str, environment: str, key_id: str, expires_epoch: float) -> dict[str, Any]:
        target: dict[str, Any] = {
            "Arn": self.target.function_arn,
            "RoleArn": self.target.role_arn,
            "Input": json.dumps({"project": project, "environment": environment, "key_id": key_id}),
            "RetryPolicy": dict(RETRY_POLICY),
        }
        if self.target.dead_letter_arn:
            target["DeadLetterConfig"] = {"Arn": self.target.dead_letter_arn}
        return {
            "Name": schedule_name(project, environment, key_id),
            "GroupName": self.target.group,
            "ScheduleExpression": at_expression(expires_epoch),
            "ScheduleExpressionTimezone": "UTC",
            "FlexibleTimeWindow": {"Mode": "OFF"},
            "ActionAfterCompletion": "DELETE",
            "Target": target,
        }

    def current(self, project: str, environment: str, key_id: str) -> str | None:
        """The key's schedule expression, or None when it has none."""
        if not self.target.configured:
            return None
        try:
            schedule = self.client.get_schedule(
                Name=schedule_name(project, environment, key_id), GroupName=self.target.group
            )
        except Exception as error:
            if aws_error_code(error) == "ResourceNotFoundException":
                return None
            raise
        return str(schedule.get("ScheduleExpression"))

    def put(self, project: str, environment: str, key_id: str, expires_epoch: float) -> bool:
        """Create the key's schedule, or move it to `expires_epoch`. Returns False when scheduling is not
        configured (then API Gateway's cache runs out within ReauthorizeEvery)."""
        if not self.target.configured:
            logger.warning("expiry scheduling is not configured; gateway caches are not flushed at expiry")
            return False
        request = self._request(project, environment, key_id, expires_epoch)
        try:
            self.client.create_schedule(**request)
        except Exception as error:
            if aws_error_code(error) != "ConflictException":
                raise
            self.client.update_schedule(**request)
        return True

    def restore(self, project: str, environment: str, key_id: str, previous: str | None) -> None:
        """Put the key's schedule back as `current()` read it before a change that is not committed."""
        if not self.target.configured:
            return
        if previous is None:
            self.delete(project, environment, key_id)
            return
        request = self._request(project, environment, key_id, 0)
        request["ScheduleExpression"] = previous
        self.client.update_schedule(**request)

    def delete(self, project: str, environment: str, key_id: str) -> None:
        if not self.target.configured:
            return
        try:
            self.client.delete_schedule(Name=schedule_name(project, environment, key_id), GroupName=self.target.group)
        except Exception as error:
            if aws_error_code(error) != "ResourceNotFoundException":
                raise
