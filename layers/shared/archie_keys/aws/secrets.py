"""Writing a new key's value into a Secrets Manager secret, so consumers that read the secret move to the new
key without a person copying it. Each write is a new version that becomes AWSCURRENT; the previous one
stays readable as AWSPREVIOUS during the grace period."""

from __future__ import annotations

from typing import Any

from archie_keys.aws.dynamo import aws_error_code


class SecretDelivery:
    def __init__(self, client: Any) -> None:
        self.client = client

    def deliver(self, name: str, value: str) -> str:
        """Store `value` as the secret's new current version; returns the version id."""
        try:
            return str(self.client.put_secret_value(SecretId=name, SecretString=value)["VersionId"])
        except Exception as error:
            if aws_error_code(error) != "ResourceNotFoundException":
                raise
        created = self.client.create_secret(
            Name=name, SecretString=value, Description="API key delivered by archie-keys"
        )
        return str(created["VersionId"])
