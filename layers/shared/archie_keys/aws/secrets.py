"""Writing a new key's value into a Secrets Manager secret, so consumers that read the secret move to the new
key without a person copying it.

Delivery is in two steps around the change's commit, so a failure leaves the secret as it was:
`prepare` writes the value as a new version labelled ARCHIE_PENDING (consumers read AWSCURRENT and do not
see it; a secret that did not exist is created, tagged, and gets the value as its first version), and
`promote` moves AWSCURRENT to it after the commit (the previous value stays readable as AWSPREVIOUS).
`undo` takes a prepared delivery back when the change is not committed.

A secret is written only if this stack created it for the same project and environment: its tags say so
(`archie-keys:stack`, `archie-keys:project`, `archie-keys:environment`, and `archie-keys:key-id` of the key
it was created for), and the functions' IAM policy allows writes only to secrets carrying this stack's tag.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from archie_keys.aws.dynamo import aws_error_code
from archie_keys.domain.errors import ConflictError, ForbiddenError

PENDING = "ARCHIE_PENDING"
CURRENT = "AWSCURRENT"
TAG_STACK, TAG_PROJECT, TAG_ENVIRONMENT, TAG_KEY_ID = (
    "archie-keys:stack",
    "archie-keys:project",
    "archie-keys:environment",
    "archie-keys:key-id",
)


@dataclass(frozen=True)
class PreparedSecret:
    name: str
    version_id: str
    created: bool  # this delivery created the secret (undo deletes it)


class SecretDelivery:
    def __init__(self, client: Any, stack: str, on_unpromoted: Callable[[str], None] | None = None) -> None:
        self.client = client
        self.stack = stack
        self._on_unpromoted = on_unpromoted

    def unpromoted(self, prepared: PreparedSecret) -> None:
        """Report a prepared version whose promotion failed for good (SecretsNeverPromotedAlarm)."""
        if self._on_unpromoted is not None:
            self._on_unpromoted(prepared.name)

    def _owned_current(self, name: str, project: str, environment: str, check_owner: Callable[[str], None]) -> bool:
        """Whether the secret exists (False: it does not). Raises 403 when it exists but is not this stack's
        secret for this project and environment; `check_owner` is given the id of the key it was created for
        (and raises when the caller may not write to that key's secret)."""
        try:
            description = self.client.describe_secret(SecretId=name)
        except Exception as error:
            if aws_error_code(error) == "ResourceNotFoundException":
                return False
            raise
        tags = {tag["Key"]: tag["Value"] for tag in description.get("Tags", [])}
        if tags.get(TAG_STACK) != self.stack:
            raise ForbiddenError(
                "this secret was not created by archie-keys for this stack; choose another secret_name",
                field="secret_name",
                code="secret_not_owned",
            )
        if tags.get(TAG_PROJECT) != project or tags.get(TAG_ENVIRONMENT) != environment:
            raise ForbiddenError(
                "this secret belongs to another project or environment", field="secret_name", code="secret_not_owned"
            )
        check_owner(tags.get(TAG_KEY_ID, ""))
        return True

    def prepare(
        self, name: str, value: str, project: str, environment: str, key_id: str, check_owner: Callable[[str], None]
    ) -> PreparedSecret:
        exists = self._owned_current(name, project, environment, check_owner)
        if not exists:
            tags = {TAG_STACK: self.stack, TAG_PROJECT: project, TAG_ENVIRONMENT: environment, TAG_KEY_ID: key_id}
            try:
                self.client.create_secret(
                    Name=name,
                    Description=f"API key delivered by archie-keys ({project}/{environment})",
                    Tags=[{"Key": k, "Value": v} for k, v in tags.items()],
                )
            except Exception as error:
                # Created by a concurrent request since we looked, or deleted and still in its recovery window.
                if aws_error_code(error) != "ResourceExistsException":
                    raise
                raise ConflictError(
                    "a secret of this name was created or deleted meanwhile; retry, or choose another secret_name",
                    field="secret_name",
                    code="conflict",
                ) from None
        try:
            version = self.client.put_secret_value(SecretId=name, SecretString=value, VersionStages=[PENDING])
        except Exception:
            if not exists:
                self.client.delete_secret(SecretId=name, ForceDeleteWithoutRecovery=True)
            raise
        return PreparedSecret(name, str(version["VersionId"]), created=not exists)

    def promote(self, prepared: PreparedSecret) -> None:
        """Make the prepared version AWSCURRENT. Idempotent: a retry after a partial failure finishes the job."""
        description = self.client.describe_secret(SecretId=prepared.name)
        stages = description.get("VersionIdsToStages", {})
        current = next((version for version, labels in stages.items() if CURRENT in labels), None)
        if current != prepared.version_id:
            move: dict[str, Any] = {"SecretId": prepared.name, "VersionStage": CURRENT}
            move["MoveToVersionId"] = prepared.version_id
            if current is not None:
                move["RemoveFromVersionId"] = current
            self.client.update_secret_version_stage(**move)
        if PENDING in stages.get(prepared.version_id, []):
            self.client.update_secret_version_stage(
                SecretId=prepared.name, VersionStage=PENDING, RemoveFromVersionId=prepared.version_id
            )

    def undo(self, prepared: PreparedSecret) -> None:
        """Take back a delivery whose change was not committed: the secret is as it was before `prepare`."""
        if prepared.created:
            self.client.delete_secret(SecretId=prepared.name, ForceDeleteWithoutRecovery=True)
            return
        try:
            self.client.update_secret_version_stage(
                SecretId=prepared.name, VersionStage=PENDING, RemoveFromVersionId=prepared.version_id
            )
        except Exception as error:
            if aws_error_code(error) not in ("ResourceNotFoundException", "InvalidParameterException"):
                raise
