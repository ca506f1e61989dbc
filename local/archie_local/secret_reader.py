"""`make secret NAME=...` (`python -m archie_local secret NAME`): what a consumer of a delivered secret reads
now, from the running local stack. The value (AWSCURRENT) goes to stdout, alone, so a script can use it; the
key it belongs to goes to stderr.

Only secrets this stack delivered are read (under its SECRET_NAME_PREFIX, tagged with its name): the stack's
moto also holds the pepper, which is nobody's to print."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

STACK_TAG, KEY_TAG = "archie-keys:stack", "archie-keys:key-id"


def _client(connection: dict[str, str]) -> Any:
    import boto3

    return boto3.client(
        "secretsmanager",
        endpoint_url=connection["AWS_ENDPOINT_URL"],
        region_name=connection["AWS_DEFAULT_REGION"],
        aws_access_key_id=connection["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=connection["AWS_SECRET_ACCESS_KEY"],
    )


def read_secret(name: str, state_file: str) -> int:
    state = Path(state_file)
    if not state.is_file():
        print(f"no local stack: {state_file} is missing (start `make run` first)", file=sys.stderr)
        return 2
    connection = json.loads(state.read_text())
    client = _client(connection)
    not_delivered = (
        f"{name!r} is not a secret this stack delivered (they are named {connection['SECRET_NAME_PREFIX']}...)"
    )
    if not name.startswith(connection["SECRET_NAME_PREFIX"]):
        print(not_delivered, file=sys.stderr)
        return 1
    try:
        tags = {t["Key"]: t["Value"] for t in client.describe_secret(SecretId=name).get("Tags", [])}
    except client.exceptions.ResourceNotFoundException:
        print(f'no secret {name!r} on the local stack (a key is delivered with "secret_name")', file=sys.stderr)
        return 1
    if tags.get(STACK_TAG) != connection["STACK_NAME"]:
        print(not_delivered, file=sys.stderr)
        return 1
    value = client.get_secret_value(SecretId=name, VersionStage="AWSCURRENT")["SecretString"]
    print(f"{name}: the value of key {tags.get(KEY_TAG, '?')}", file=sys.stderr)
    print(value)
    return 0
