"""Helpers shared by the test tiers: environment for fast hashing, HTTP calls, the in-process gateway."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

# Tests hash with cheap argon2 parameters (the deployed default is OWASP's 19456 KiB, t=2: see make bench)
# and short cache TTLs, so revocation waits stay short.
FAST_ENVIRONMENT = {
    "ARGON2_MEMORY_KIB": "256",
    "ARGON2_TIME_COST": "1",
    "AUTHORIZER_CACHE_TTL_SECONDS": "0.2",
    "AUTHORIZER_NEGATIVE_CACHE_TTL_SECONDS": "0.2",
    "POWERTOOLS_TRACE_DISABLED": "true",
    # API Gateway's control plane takes ~10 flushes a second per account, so the deployed stack flushes a stage
    # at most once a second (aws.flush_coordination); here nothing limits them, and a change need not wait.
    "FLUSH_INTERVAL_SECONDS": "0.05",
}
# In-process tests compact the audit themselves (compact(), below): short arrival buckets, so it waits little.
# The local stack's own (archie_local.stack.LOCAL_ENVIRONMENT) are longer: its compactor keeps up with a load.
# The local stack's log deliverer, when a test runs one (the log_delivery fixture), is trusted as it is there.
IN_PROCESS_ENVIRONMENT = {
    **FAST_ENVIRONMENT,
    "AUDIT_ARRIVAL_BUCKET_SECONDS": "0.2",
    "AUDIT_SETTLE_SECONDS": "0.05",
    "AUDIT_TRUSTED_DELIVERER": "local",
}
# ... and in-process tests write keys at once, so a mass revocation's last pass need not wait for creations that
# could take a minute (limits.REVOCATION_SETTLE_SECONDS); the test of a key committed late waits for it.
IN_PROCESS_ENVIRONMENT["REVOCATION_SETTLE_SECONDS"] = "0.3"
# ... and trust the development OIDC issuer, which the tests serve on 127.0.0.1 (plain http), as the local stack does.
IN_PROCESS_ENVIRONMENT["OIDC_ALLOW_LOOPBACK_HTTP"] = "1"

ALL_ACTIONS = ["read", "write", "update", "delete"]


@dataclass
class Reply:
    status: int
    body: Any
    headers: dict[str, str]

    @property
    def json(self) -> Any:
        return self.body


# A key tag secret for tests that generate keys without a stack (domain.keyformat.generate_key).
TAG_KEY = b"tag-key-of-the-tests-0123456789ab"


def write_legacy_key(project: str, environment: str, roles: tuple[str, ...] = ("admin",)) -> str:
    """A key of the first format (no tag), written as the version before tags wrote it: its value."""
    from archie_keys.domain.key_record import KeyRecord
    from archie_keys.domain.keyformat import SECRET_LENGTH, checksum, new_key_id
    from archie_keys.edge.composition import get_services

    services = get_services()
    key_id = new_key_id()
    body = f"archie_{project}_{environment}_{key_id}" + "L" * SECRET_LENGTH
    hasher = services.hasher()
    record = KeyRecord(  # no key_format: the first format's keys have none
        key_id=key_id,
        name="legacy",
        name_folded="legacy",
        prefix="archie_",
        start=body[:-SECRET_LENGTH],
        project=project,
        environment=environment,
        roles=tuple(roles),
        context={},
        created_at="2026-01-01T00:00:00Z",
        created_by="bootstrap",
        hash=hasher.hash_secret("L" * SECRET_LENGTH),
        hash_params=hasher.parameters.as_record(),
        pepper_version=hasher.version,
    )
    services.transactions.commit(services.store.key_create_writes(record))
    return body + checksum(body)


def with_tagged_secret(key: str, random_part: str, tag_key: bytes | None = None) -> str:
    """`key` (a real one: its prefix, place and id) with another secret that still carries a valid tag, as
    only someone holding the stack's tag keys could make: the look-alike that still costs a read and an
    argon2 verify. `random_part`: 16 base62 characters. Default tag key: the running stack's current one."""
    from archie_keys.domain.keyformat import RANDOM_LENGTH, checksum, key_tag
    from archie_keys.edge.composition import get_services

    assert len(random_part) == RANDOM_LENGTH
    start = key[:-28]
    tagging = tag_key if tag_key is not None else get_services().key_tags().current
    body = start + random_part + key_tag(tagging, start + random_part)
    return body + checksum(body)


def decode(raw: bytes) -> Any:
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode("utf-8", errors="replace")


def request_headers(key: str | None, headers: dict[str, str] | None) -> dict[str, str]:
    """JSON content type and the bearer key, as every client of the API sends them."""
    all_headers = {"Content-Type": "application/json", **(headers or {})}
    if key is not None:
        all_headers["Authorization"] = f"Bearer {key}"
    return all_headers


def encode_body(body: Any, raw_body: bytes | None) -> bytes | None:
    return raw_body if raw_body is not None else (json.dumps(body).encode() if body is not None else None)


ORDERS_READER = {
    "permissions": [{"resource": "orders", "actions": ["read"]}, {"resource": "keys", "actions": ["read"]}]
}


def put_orders_reader(base: str, admin: str) -> None:
    """The role most integration tests give their keys (on demo/dev): read orders on the sample API, and
    read keys so the same key can be seen working on the management API too."""
    reply = http(base, "PUT", env_path("demo", "dev", "/roles/orders-reader"), admin, ORDERS_READER)
    assert reply.status in (200, 201), reply.body


def http(
    base: str,
    method: str,
    path: str,
    key: str | None = None,
    body: Any = None,
    headers: dict[str, str] | None = None,
    raw_body: bytes | None = None,
    timeout: float = 30,
) -> Reply:
    all_headers = request_headers(key, headers)
    data = encode_body(body, raw_body)
    request = urllib.request.Request(base + path, method=method, data=data, headers=all_headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return Reply(response.status, decode(response.read()), dict(response.headers))
    except urllib.error.HTTPError as error:
        return Reply(error.code, decode(error.read()), dict(error.headers))


def env_path(project: str, environment: str, suffix: str = "") -> str:
    return f"/projects/{project}/environments/{environment}{suffix}"


def compact(timeout: float = 10) -> dict[str, Any]:
    """Run the audit compactor in-process (as its schedule would) once the arrival bucket of this moment has
    closed: every accepted request ingested before the call then shows in its key's audit, usage and
    last_used_at. Waits at most one bucket plus the settle time (FAST_ENVIRONMENT: 0.25 s)."""
    from archie_keys.aws.audit_blocks import arrival_bucket
    from archie_keys.edge.composition import get_services

    services = get_services()
    compactor = services.compactor
    landed = arrival_bucket(time.time(), compactor.bucket_seconds)
    deadline = time.monotonic() + timeout
    while compactor.newest_closed(time.time()) < landed:
        if time.monotonic() > deadline:
            raise TimeoutError("the arrival bucket did not close")
        time.sleep(0.01)
    totals: dict[str, Any] = {}
    for _ in range(100):  # a run compacts at most MAX_BUCKETS_PER_RUN buckets: run until caught up (bounded)
        report = compactor.run().as_dict()
        for name, value in report.items():
            totals[name] = totals.get(name, 0) + value if name != "behind_seconds" else value
        if (services.audit_reader.compacted_through() or 0) >= landed:
            return totals
    raise TimeoutError("the compactor did not catch up")


def serialize_aws_calls(patch: Any) -> None:
    """One AWS call at a time through moto's in-process backend, as DynamoDB isolates each request (and as
    the local stack's moto server does, archie_local.moto_process): moto's backend is not thread-safe (a
    transaction deep-copies a table another thread is writing), and the ingest and the compactor call from
    several threads. `patch`: a pytest MonkeyPatch."""
    import threading

    import botocore.client

    lock = threading.RLock()
    original = botocore.client.BaseClient._make_api_call

    def serialized(client: Any, operation: str, params: dict[str, Any]) -> Any:
        with lock:
            return original(client, operation, params)

    patch.setattr(botocore.client.BaseClient, "_make_api_call", serialized)


_in_process_functions: list[Any] = []


def in_process_functions() -> Any:
    """The FunctionRegistry that serves Lambda's Invoke in this process (see serve_lambda_in_process)."""
    return _in_process_functions[-1]


def serve_lambda_in_process(patch: Any, registry: Any) -> None:
    """Lambda's Invoke answered in-process by the template's own functions, as the local stack's control plane
    answers it (archie_local.control_plane): InvocationType Event runs on a thread of its own (with Lambda's
    retries), RequestResponse at once. moto's Lambda would need Docker. `patch`: a pytest MonkeyPatch."""
    import io

    import botocore.client
    from botocore.exceptions import ClientError
    from botocore.response import StreamingBody

    original = botocore.client.BaseClient._make_api_call

    def call(client: Any, operation: str, params: dict[str, Any]) -> Any:
        if client.meta.service_model.service_name != "lambda" or operation != "Invoke":
            return original(client, operation, params)
        function = registry.find(str(params["FunctionName"]))
        if function is None:
            error = {"Error": {"Code": "ResourceNotFoundException", "Message": "Function not found"}}
            raise ClientError(error, operation)
        event = json.loads(params.get("Payload") or b"{}")
        if params.get("InvocationType") == "Event":
            registry.start_async(function, event)
            return {"StatusCode": 202}
        raw = json.dumps(function.invoke(event)).encode()
        return {"StatusCode": 200, "Payload": StreamingBody(io.BytesIO(raw), len(raw))}

    patch.setattr(botocore.client.BaseClient, "_make_api_call", call)


@contextmanager
def provisioned_in_process(patch: Any) -> Iterator[Any]:
    """The template's resources in moto's in-process mock, this process configured as a function of the
    stack (its environment variables, a fresh composition root), and undone after. `patch`: a pytest
    MonkeyPatch. No API Gateway control plane in-process, so no gateway result cache either (ReauthorizeEvery
    0) and no stage to flush: flushing on revocation is covered by the integration tier against the local
    stack. Lambda's Invoke runs the template's functions in-process (serve_lambda_in_process)."""
    from moto import mock_aws

    from archie_keys.edge import composition
    from archie_local.moto_transactions import install as install_transactions
    from archie_local.provision import provision
    from archie_local.template import REGION, load_template

    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_API_GATEWAY", "AWS_ENDPOINT_URL_LAMBDA", "AWS_PROFILE"):
        patch.delenv(name, raising=False)
    patch.setenv("AWS_DEFAULT_REGION", REGION)
    patch.setenv("AWS_ACCESS_KEY_ID", "testing")
    patch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    serialize_aws_calls(patch)
    install_transactions()  # as the local stack's moto server does
    with mock_aws():
        provisioned = provision(
            load_template(),
            None,
            parameter_overrides={"AuthorizerResultTtl": "0", "Tracing": "Disabled"},
            environment_overrides={**IN_PROCESS_ENVIRONMENT, "PROTECTED_APIS_PATH": ""},
        )
        for key, value in provisioned.environment.items():
            patch.setenv(key, value)
        from archie_local.lambdas import FunctionRegistry

        functions = FunctionRegistry(provisioned.functions)
        serve_lambda_in_process(patch, functions)
        _in_process_functions.append(functions)
        composition.reset()
        try:
            yield provisioned
        finally:
            # What a test started in the background (a revocation's worker) ends before its AWS goes away.
            functions.wait_idle(60, hurry=True)
            _in_process_functions.remove(functions)
            composition.reset()


def key_events_tap(environment: dict[str, str], name: str) -> Callable[[], list[dict[str, Any]]]:
    """Every event put on the stack's key events bus from now on, through a rule to a queue, as a team would
    route them: a reader that returns (and removes) what arrived since it last read."""
    import boto3

    events, sqs = boto3.client("events"), boto3.client("sqs")
    bus = environment["KEY_EVENTS_BUS"]
    tap = sqs.create_queue(QueueName=name)["QueueUrl"]
    tap_arn = sqs.get_queue_attributes(QueueUrl=tap, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name=name, EventBusName=bus, EventPattern=json.dumps({"source": ["archie-keys"]}))
    events.put_targets(Rule=name, EventBusName=bus, Targets=[{"Id": "tap", "Arn": tap_arn}])

    def read() -> list[dict[str, Any]]:
        received = sqs.receive_message(QueueUrl=tap, MaxNumberOfMessages=10).get("Messages", [])
        for message in received:
            sqs.delete_message(QueueUrl=tap, ReceiptHandle=message["ReceiptHandle"])
        return [json.loads(m["Body"]) for m in received]

    return read
