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

logger = logging.getLogger("archie_keys.schedules")


@dataclass(frozen=True)
class ScheduleTarget:
    """Where expiry schedules go: the group, the role Scheduler assumes, and the function it invokes.
    Empty fields: scheduling is not configured (expiry still holds at the authorizer)."""

    group: str = ""
    role_arn: str = ""
    function_arn: str = ""

    @property
    def configured(self) -> bool:
        return bool(self.group and self.role_arn and self.function_arn)


def schedule_name(project: str, environment: str, key_id: str) -> str:
    return f"expire-{project}-{environment}-{key_id}"[:64]


def at_expression(epoch: float) -> str:
    # Scheduler's at() has one-second precision: round up, so the flush never precedes the expiry.
    moment = datetime.fromtimestamp(math.ceil(epoch), UTC)
    return f"at({moment.strftime('%Y-%m-%dT%H:%M:%S')})"


class ExpirySchedules:
    def __init__(self, client: Any, target: ScheduleTarget) -> None:
        self.client = client
        self.target = target

    def schedule_expiry_flush(self, project: str, environment: str, key_id: str, expires_epoch: float) -> bool:
        """Create the one-time schedule. Returns False when scheduling is not configured (then API Gateway's
        cache runs out within ReauthorizeEvery)."""
        if not self.target.configured:
            logger.warning("expiry scheduling is not configured; gateway caches are not flushed at expiry")
            return False
        self.client.create_schedule(
            Name=schedule_name(project, environment, key_id),
            GroupName=self.target.group,
            ScheduleExpression=at_expression(expires_epoch),
            ScheduleExpressionTimezone="UTC",
            FlexibleTimeWindow={"Mode": "OFF"},
            ActionAfterCompletion="DELETE",
            Target={
                "Arn": self.target.function_arn,
                "RoleArn": self.target.role_arn,
                "Input": json.dumps({"project": project, "environment": environment, "key_id": key_id}),
            },
        )
        return True
