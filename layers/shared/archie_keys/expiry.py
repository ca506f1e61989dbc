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
from functools import lru_cache
from typing import Any

from archie_keys.keyformat import KEY_ID_RE, SLUG_RE
from archie_keys.settings import Settings

logger = logging.getLogger("archie_keys.expiry")


@dataclass(frozen=True)
class ExpiryEvent:
    project: str
    environment: str
    key_id: str

    @classmethod
    def parse(cls, event: dict[str, Any]) -> ExpiryEvent:
        project, environment, key_id = event.get("project"), event.get("environment"), event.get("key_id")
        if not (
            isinstance(project, str)
            and SLUG_RE.match(project)
            and isinstance(environment, str)
            and SLUG_RE.match(environment)
            and isinstance(key_id, str)
            and KEY_ID_RE.match(key_id)
        ):
            raise ValueError("an expiry event needs project, environment and key_id")
        return cls(project, environment, key_id)


@lru_cache(maxsize=1)
def scheduler_client() -> Any:
    import boto3

    return boto3.client("scheduler")


def schedule_name(project: str, environment: str, key_id: str) -> str:
    return f"expire-{project}-{environment}-{key_id}"[:64]


def at_expression(epoch: float) -> str:
    # Scheduler's at() has one-second precision: round up, so the flush never precedes the expiry.
    moment = datetime.fromtimestamp(math.ceil(epoch), UTC)
    return f"at({moment.strftime('%Y-%m-%dT%H:%M:%S')})"


def schedule_expiry_flush(
    settings: Settings, project: str, environment: str, key_id: str, expires_epoch: float
) -> bool:
    """Create the one-time schedule. Returns False when scheduling is not configured (then expiry still holds
    at the authorizer, and API Gateway's cache runs out within ReauthorizeEvery)."""
    if not (
        settings.expiry_schedule_group and settings.expiry_schedule_role_arn and settings.expiry_flush_function_arn
    ):
        logger.warning("expiry scheduling is not configured; gateway caches are not flushed at expiry")
        return False
    scheduler_client().create_schedule(
        Name=schedule_name(project, environment, key_id),
        GroupName=settings.expiry_schedule_group,
        ScheduleExpression=at_expression(expires_epoch),
        ScheduleExpressionTimezone="UTC",
        FlexibleTimeWindow={"Mode": "OFF"},
        ActionAfterCompletion="DELETE",
        Target={
            "Arn": settings.expiry_flush_function_arn,
            "RoleArn": settings.expiry_schedule_role_arn,
            "Input": json.dumps({"project": project, "environment": environment, "key_id": key_id}),
        },
    )
    return True
