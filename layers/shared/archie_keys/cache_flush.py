"""Flushing API Gateway's authorizer result caches, so a revoked or expired key stops at the gateway layer too.

API Gateway caches an authorizer's answer per identity source for up to ReauthorizeEvery seconds. Revocation
therefore: (1) mark the key revoked in DynamoDB, (2) flush every stage that serves its environment,
(3) wait until no warm authorizer instance can still hold an Allow from before the revocation (its cache TTL),
(4) flush again, because a request between (2) and (3) may have re-cached such an Allow.
On AWS the handler calls apigateway:FlushStageAuthorizersCache; locally the same boto3 call reaches the local
gateway through AWS_ENDPOINT_URL_API_GATEWAY, so this code is identical in both places.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from archie_keys.settings import FlushTarget, Settings, parse_flush_targets

logger = logging.getLogger("archie_keys.cache_flush")


@lru_cache(maxsize=1)
def apigateway_client() -> Any:
    import boto3

    return boto3.client("apigateway")


def flush_targets(settings: Settings) -> tuple[FlushTarget, ...]:
    if settings.flush_targets or not settings.flush_targets_parameter:
        return settings.flush_targets
    from aws_lambda_powertools.utilities import parameters

    raw = parameters.get_parameter(settings.flush_targets_parameter, max_age=300)
    return parse_flush_targets(str(raw))


def flush_environment(settings: Settings, project: str, environment: str) -> list[str]:
    """Flush every configured stage that serves project/environment. Returns the stages flushed."""
    flushed = []
    for target in flush_targets(settings):
        if target.serves(project, environment):
            apigateway_client().flush_stage_authorizers_cache(restApiId=target.rest_api_id, stageName=target.stage)
            flushed.append(f"{target.rest_api_id}/{target.stage}")
    return flushed


def revoke_everywhere(
    settings: Settings, project: str, environment: str, sleep: Callable[[float], None] = time.sleep
) -> list[str]:
    """Steps 2-4 above. Returns the stages flushed."""
    flushed = flush_environment(settings, project, environment)
    # A warm authorizer instance trusts its decision for at most authorizer_cache_ttl_seconds.
    if settings.authorizer_cache_ttl_seconds > 0:
        sleep(settings.authorizer_cache_ttl_seconds)
    flush_environment(settings, project, environment)
    logger.info("authorizer caches flushed", extra={"stages": flushed, "project": project, "environment": environment})
    return flushed
