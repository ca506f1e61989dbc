"""What `make bench` presents to the authorizer: API Gateway REQUEST events for a key, forged keys (checksum
valid, never issued), a key with 10 roles of 20 permissions made on the local stack, and the refusals the
measured calls expect."""

from __future__ import annotations

import secrets
from typing import Any

METHOD_ARN = "arn:aws:execute-api:us-east-1:123456789012:management/v1/GET/projects/demo/environments/dev/keys"


def refuse_quietly(candidate: str) -> None:
    from archie_keys.domain.errors import KeyRefusedError
    from archie_keys.edge.composition import get_services

    try:
        get_services().verifier.verify(candidate)
    except KeyRefusedError as refusal:
        assert refusal.reason == "not_found"


def forged_event(real: str, key_id: str | None = None) -> dict[str, Any]:
    """A checksum-valid key in the same place as `real`, with a random secret (and a random id unless given)."""
    from archie_keys.domain.keyformat import SECRET_LENGTH, checksum, new_key_id

    place = "_".join(real.split("_")[:-1]) + "_"
    body = place + (key_id or new_key_id()) + secrets.token_hex(SECRET_LENGTH)[:SECRET_LENGTH]
    return event(body + checksum(body))


def deny(authorizer: Any, request: dict[str, Any]) -> None:
    answer = authorizer.invoke(request)
    assert answer["policyDocument"]["Statement"][0]["Effect"] == "Deny", answer


def event(key: str) -> dict[str, Any]:
    return {
        "type": "REQUEST",
        "methodArn": METHOD_ARN,
        "headers": {"Authorization": f"Bearer {key}"},
        "requestContext": {"requestId": "bench"},
    }


def wide_key(stack: Any, admin: str) -> str:
    """A key with 10 roles of 20 permissions each, every permission with a context-filled filter."""
    from tests.support import env_path, http

    base = stack.url()
    for r in range(10):
        permissions = [
            {
                "resource": f"res{r}x{p}",
                "actions": ["read", "write", "update", "delete"],
                "filters": {"tenant_id": {"from_context": "tenant"}, "region": "eu"},
            }
            for p in range(20)
        ]
        assert (
            http(base, "PUT", env_path("demo", "dev", f"/roles/wide{r}"), admin, {"permissions": permissions}).status
            == 201
        )
    reply = http(
        base,
        "POST",
        env_path("demo", "dev", "/keys"),
        admin,
        {"name": "wide", "roles": [f"wide{r}" for r in range(10)], "context": {"tenant": "t-1"}},
    )
    assert reply.status == 201, reply.body
    return str(reply.body["key"])
