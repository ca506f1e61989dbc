"""Writing a new key's value into a Secrets Manager secret, so consumers that read the secret move to the new
key without a person copying it.

Delivery is in two steps around the change's commit, so a failure leaves the secret as it was:
`prepare` writes the value as a new version labelled ARCHIE_PENDING (consumers read AWSCURRENT and do not
see it; a secret that did not exist is created, tagged, and gets the value as its first version), and
`promote` makes the secret show the key it now belongs to after the commit: the `archie-keys:key-id` tag
names that key and AWSCURRENT is its version (the previous value stays readable as AWSPREVIOUS). `undo`
takes a prepared delivery back when the change is not committed.

A secret is written only if this stack created it for the same project and environment: its tags say so
(`archie-keys:stack`, `archie-keys:project`, `archie-keys:environment`, and `archie-keys:key-id` of the key
whose value it holds), and the functions' IAM policy allows writes only to secrets carrying this stack's tag.
Which key a secret belongs to, and who may write to it, is decided in app.delivery.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from archie_keys.aws.dynamo import aws_error_code
from archie_keys.domain.change_records import CURRENT, PENDING, PreparedSecret
from archie_keys.domain.errors import ConflictError, ForbiddenError

__all__ = ["CURRENT", "PENDING", "PreparedSecret", "SecretDelivery"]

TAG_STACK, TAG_PROJECT, TAG_ENVIRONMENT, TAG_KEY_ID = (
    "archie-keys:stack",
    "archie-keys:project",
    "archie-keys:environment",
    "archie-keys:key-id",
)


class SecretDelivery:
    def __init__(self, client: Any, stack: str, on_unpromoted: Callable[[str], None] | None = None) -> None:
        self.client = client
        self.stack = stack
        self._on_unpromoted = on_unpromoted

    def unpromoted(self, prepared: PreparedSecret) -> None:
        """Report a prepared version whose promotion failed for good (SecretsNeverPromotedAlarm)."""
        if self._on_unpromoted is not None:
            self._on_unpromoted(prepared.name)

    def owned_holder(self, name: str, project: str, environment: str) -> str | None:
        """The key id the secret's `archie-keys:key-id` tag names ("" when none), or None when no secret has
        this name. Raises 403 when it exists but is not this stack's secret for this project and environment."""
        try:
            description = self.client.describe_secret(SecretId=name)
        except Exception as error:
            if aws_error_code(error) == "ResourceNotFoundException":
                return None
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
        holder: str = tags.get(TAG_KEY_ID, "")
        return holder

    def prepare(
        self, name: str, value: str, project: str, environment: str, key_id: str, exists: bool
    ) -> PreparedSecret:
        """Write `value` as a pending version (`exists`: as `owned_holder` found the secret)."""
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
        return PreparedSecret(name, str(version["VersionId"]), created=not exists, key_id=key_id)

    def promote(self, name: str, key_id: str, version_id: str) -> None:
        """Make the secret show `key_id`: its tag names that key and AWSCURRENT is `version_id`. Idempotent: a
        retry after a partial failure finishes the job.

        The tag moves first. A failure between the two steps then leaves the secret claimed by the key it now
        belongs to while consumers still read the previous value (until a retry moves it), never the other way
        round: a secret whose tag still named the key it just left would read as that key's to write into."""
        description = self.client.describe_secret(SecretId=name)
        tags = {tag["Key"]: tag["Value"] for tag in description.get("Tags", [])}
        if tags.get(TAG_KEY_ID) != key_id:
            # The stack's own tag goes with it: the IAM policy allows tagging only requests that carry it.
            self.client.tag_resource(
                SecretId=name, Tags=[{"Key": TAG_STACK, "Value": self.stack}, {"Key": TAG_KEY_ID, "Value": key_id}]
            )
        stages = description.get("VersionIdsToStages", {})
        current = next((version for version, labels in stages.items() if CURRENT in labels), None)
        if current != version_id:
            move: dict[str, Any] = {"SecretId": name, "VersionStage": CURRENT, "MoveToVersionId": version_id}
            if current is not None:
                move["RemoveFromVersionId"] = current
            self.client.update_secret_version_stage(**move)
        if PENDING in stages.get(version_id, []):
            self.client.update_secret_version_stage(SecretId=name, VersionStage=PENDING, RemoveFromVersionId=version_id)

    def is_current(self, name: str, version_id: str) -> bool:
        stages = self.client.describe_secret(SecretId=name).get("VersionIdsToStages", {})
        return CURRENT in stages.get(version_id, [])

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
