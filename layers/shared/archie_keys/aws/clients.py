"""boto3 clients with timeouts and retry budgets that fit the function calling them.

botocore's defaults (legacy retries, 60 s connect and read timeouts) fit none of our functions: a DynamoDB
or Secrets Manager call that hangs would hold the authorizer far past its 10 s timeout, so API Gateway
would answer 500 instead of the 503 a client can retry, and a management function would outlive its own
timeout and answer 502. Each process uses one profile (AWS_CLIENT_PROFILE, set per function in the
template); its worst case (attempts x (connect + read)) stays inside the function's timeout.
"""

from __future__ import annotations

from typing import Any

from archie_keys.domain.errors import shown

# name -> (connect timeout s, read timeout s, total attempts)
PROFILES: dict[str, tuple[float, float, int]] = {
    # The authorizer: every protected API waits on it. A key lookup takes milliseconds; after two tries of a
    # second each it answers 503 (API Gateway's AUTHORIZER_FAILURE) instead of holding every request.
    "decision": (1.0, 1.0, 2),
    # Management functions (10-15 s timeouts): a change is one transaction and a few reads.
    "request": (1.0, 3.0, 2),
    # The audit ingest, the compactor, expiry flushes, the canary (30-300 s): batches may be large and a
    # retry is cheaper than a redelivery, so they wait longer and try more often, with adaptive backoff.
    "background": (2.0, 10.0, 4),
}


def client_config(profile: str) -> Any:
    """The botocore Config of a profile; ValueError for a profile that does not exist (checked at start)."""
    from botocore.config import Config  # imported with boto3, on first use

    if profile not in PROFILES:
        raise ValueError(f"AWS_CLIENT_PROFILE must be one of {', '.join(PROFILES)}, not {shown(profile)}")
    connect, read, attempts = PROFILES[profile]
    return Config(
        connect_timeout=connect,
        read_timeout=read,
        retries={"mode": "adaptive" if profile == "background" else "standard", "total_max_attempts": attempts},
        tcp_keepalive=True,
        # The compactor writes a hot key's blocks on 16 threads (app.compaction_writes), reading on another.
        max_pool_connections=32 if profile == "background" else 10,
    )


def new_client(service: str, profile: str, region: str | None = None, endpoint_url: str | None = None) -> Any:
    """A client of this process's region, or of `region` (another region of the stack: aws.regional_audit);
    `endpoint_url` only where a region is not AWS's own endpoint (the local stack's second region)."""
    import boto3  # imported on first use: a function that never reaches AWS never pays for it

    extra: dict[str, Any] = {"region_name": region} if region else {}
    if endpoint_url:
        extra["endpoint_url"] = endpoint_url
    return boto3.client(service, config=client_config(profile), **extra)


# AWS error codes that mean "the service could not do it now", not "the request was wrong".
_UNAVAILABLE_CODES = {
    "ThrottlingException",
    "Throttling",
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "TooManyRequestsException",
    "LimitExceededException",
    "InternalServerError",
    "InternalFailure",
    "InternalServiceError",
    "InternalServiceErrorException",
    "ServiceUnavailable",
    "ServiceUnavailableException",
    "TransactionInProgressException",
}


def is_dependency_failure(error: BaseException) -> bool:
    """A failure of AWS, not of this code or of the request: throttled, unavailable, unreachable, timed out."""
    from botocore.exceptions import BotoCoreError, ClientError, ParamValidationError

    from archie_keys.aws.dynamo import aws_error_code

    if isinstance(error, ParamValidationError):
        return False  # our own malformed call: a bug, not an outage
    if isinstance(error, BotoCoreError):
        return True  # connection refused or reset, timeouts, unreadable responses
    if isinstance(error, ClientError):
        status = int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
        return status >= 500 or aws_error_code(error) in _UNAVAILABLE_CODES
    return False
