"""Writing a new key's value into a Secrets Manager secret, so consumers that read the secret move to the new
key without a person copying it. Each write is a new version that becomes AWSCURRENT; the previous one
stays readable as AWSPREVIOUS during the grace period.

Only names under SECRET_NAME_PREFIX (default archie/keys/) are accepted, and the functions' IAM policy is
limited to the same prefix, so a caller cannot overwrite an unrelated secret."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from archie_keys.errors import ValidationFailedError
from archie_keys.settings import Settings

_NAME_RE = re.compile(r"^[A-Za-z0-9/_+=.@-]{1,512}$")


@lru_cache(maxsize=1)
def secretsmanager_client() -> Any:
    import boto3

    return boto3.client("secretsmanager")


def check_secret_name(settings: Settings, name: str) -> None:
    if not _NAME_RE.match(name) or ".." in name:
        raise ValidationFailedError("secret_name may use letters, digits and /_+=.@-", field="secret_name")
    if not name.startswith(settings.secret_name_prefix) or len(name) == len(settings.secret_name_prefix):
        raise ValidationFailedError(
            f"secret_name must start with {settings.secret_name_prefix!r}",
            field="secret_name",
            code="secret_name_outside_prefix",
        )


def deliver(settings: Settings, name: str, value: str) -> str:
    """Store `value` as the secret's new current version; returns the version id."""
    check_secret_name(settings, name)
    client = secretsmanager_client()
    try:
        return str(client.put_secret_value(SecretId=name, SecretString=value)["VersionId"])
    except Exception as error:
        if getattr(error, "response", {}).get("Error", {}).get("Code") != "ResourceNotFoundException":
            raise
    return str(
        client.create_secret(Name=name, SecretString=value, Description="API key delivered by archie-keys")["VersionId"]
    )
