"""Data access for environments, roles and keys: one DynamoDB table, partitioned by project and environment.

    pk = PROJECT#<project>#ENV#<environment>
    sk = ENV                 the environment's declaration
         ROLE#<name>         a role, with key_count (how many keys reference it)
         KEY#<key_id>        a key; key ids sort by creation time, so a reverse Query lists newest first

Everything a request touches lives in its own partition: GetItem, BatchGetItem and Query only, never Scan.
Stored items are plain dicts here; this module knows nothing of HTTP. It is longer than 300 lines because it
holds every access to this one table, so that writes spanning environments, roles and keys are built in one
place.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from archie_keys.aws.dynamo import Page, aws_error_code, decode_token, encode_token, from_item, to_item
from archie_keys.domain.errors import ConflictError, NotFoundError, ValidationFailedError


def partition(project: str, environment: str) -> str:
    return f"PROJECT#{project}#ENV#{environment}"


class KeyStore:
    def __init__(self, table: str, client: Any) -> None:
        self.table = table
        self.client = client

    # --- generic ---------------------------------------------------------------------------------------

    def get(self, project: str, environment: str, sk: str, *, consistent: bool = True) -> dict[str, Any] | None:
        response = self.client.get_item(
            TableName=self.table,
            Key=to_item({"pk": partition(project, environment), "sk": sk}),
            ConsistentRead=consistent,
        )
        item = response.get("Item")
        return from_item(item) if item else None

    def _query(
        self, pk: str, sk_prefix: str, limit: int, token: str | None, newest_first: bool, hide_revoked: bool = False
    ) -> Page:
        request: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :prefix)",
            "ExpressionAttributeValues": to_item({":pk": pk, ":prefix": sk_prefix}),
            "ScanIndexForward": not newest_first,
            "Limit": limit,
        }
        if hide_revoked:
            request["FilterExpression"] = "attribute_not_exists(revoked_at)"
        if token:
            request["ExclusiveStartKey"] = decode_token(token, pk)
        response = self.client.query(**request)
        last = response.get("LastEvaluatedKey")
        return Page([from_item(i) for i in response.get("Items", [])], encode_token(last) if last else None)

    # --- environments ----------------------------------------------------------------------------------

    def put_environment(self, project: str, environment: str, record: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        """Declare an environment; an existing declaration is kept as it is (idempotent). Returns (record, created)."""
        item = {"pk": partition(project, environment), "sk": "ENV", "kind": "environment", **record}
        try:
            self.client.put_item(
                TableName=self.table, Item=to_item(item), ConditionExpression="attribute_not_exists(pk)"
            )
            return from_item(to_item(item)), True
        except Exception as error:
            if aws_error_code(error) != "ConditionalCheckFailedException":
                raise
        existing = self.get(project, environment, "ENV")
        assert existing is not None
        return existing, False

    def require_environment(self, project: str, environment: str) -> dict[str, Any]:
        record = self.get(project, environment, "ENV")
        if record is None:
            raise NotFoundError(f"environment {project}/{environment} is not declared", field="environment")
        return record

    # --- roles -----------------------------------------------------------------------------------------

    def put_role(
        self, project: str, environment: str, name: str, record: dict[str, Any]
    ) -> tuple[dict[str, Any], bool]:
        """Create or replace a role's definition, keeping its key_count and created_at."""
        pk = partition(project, environment)
        values = {
            "kind": "role",
            "name": name,
            "description": record["description"],
            "permissions": json.dumps(record["permissions"], separators=(",", ":")),
            "updated_at": record["updated_at"],
            "updated_by": record["updated_by"],
        }
        assignments = [f"#a{i} = :a{i}" for i in range(len(values))]
        names = {f"#a{i}": attribute for i, attribute in enumerate(values)}
        response = self.client.update_item(
            TableName=self.table,
            Key=to_item({"pk": pk, "sk": f"ROLE#{name}"}),
            UpdateExpression="SET "
            + ", ".join(assignments)
            + ", #created = if_not_exists(#created, :now), #count = if_not_exists(#count, :zero)",
            ExpressionAttributeNames={**names, "#created": "created_at", "#count": "key_count"},
            ExpressionAttributeValues=to_item(
                {
                    **{f":a{i}": value for i, value in enumerate(values.values())},
                    ":now": record["updated_at"],
                    ":zero": 0,
                }
            ),
            ReturnValues="ALL_NEW",
        )
        stored = from_item(response["Attributes"])
        return decode_role(stored), stored["created_at"] == stored["updated_at"]

    def get_role(self, project: str, environment: str, name: str) -> dict[str, Any] | None:
        item = self.get(project, environment, f"ROLE#{name}")
        return decode_role(item) if item else None

    def get_roles(self, project: str, environment: str, names: Sequence[str]) -> dict[str, dict[str, Any]]:
        """The named roles of one partition in one BatchGetItem (strongly consistent). Missing ones are absent."""
        if not names:
            return {}
        pk = partition(project, environment)
        keys = [to_item({"pk": pk, "sk": f"ROLE#{name}"}) for name in names]
        found: dict[str, dict[str, Any]] = {}
        request: dict[str, Any] = {self.table: {"Keys": keys, "ConsistentRead": True}}
        for _ in range(5):  # unprocessed keys are retried a bounded number of times, then it is an error
            response = self.client.batch_get_item(RequestItems=request)
            for item in response.get("Responses", {}).get(self.table, []):
                role = decode_role(from_item(item))
                found[role["name"]] = role
            request = response.get("UnprocessedKeys") or {}
            if not request:
                return found
        raise RuntimeError("DynamoDB left keys unprocessed")

    def list_roles(self, project: str, environment: str, limit: int, token: str | None) -> Page:
        page = self._query(partition(project, environment), "ROLE#", limit, token, newest_first=False)
        return Page([decode_role(item) for item in page.items], page.next_token)

    def delete_role(self, project: str, environment: str, name: str) -> None:
        try:
            self.client.delete_item(
                TableName=self.table,
                Key=to_item({"pk": partition(project, environment), "sk": f"ROLE#{name}"}),
                ConditionExpression="attribute_exists(pk) AND key_count <= :zero",
                ExpressionAttributeValues=to_item({":zero": 0}),
            )
        except Exception as error:
            if aws_error_code(error) != "ConditionalCheckFailedException":
                raise
            if self.get_role(project, environment, name) is None:
                raise NotFoundError(f"role {name} does not exist", field="role") from None
            raise ConflictError(
                f"role {name} is still used by keys; delete or roll them first", field="role", code="role_in_use"
            ) from None

    # --- keys ------------------------------------------------------------------------------------------

    def create_key(self, project: str, environment: str, record: dict[str, Any]) -> None:
        """Write a key and count it on each of its roles, atomically: a role deleted at the same moment makes
        the whole creation fail instead of leaving a key with a dangling role."""
        pk = partition(project, environment)
        role_names = list(record["roles"])
        items: list[dict[str, Any]] = [
            {
                "ConditionCheck": {
                    "TableName": self.table,
                    "Key": to_item({"pk": pk, "sk": "ENV"}),
                    "ConditionExpression": "attribute_exists(pk)",
                }
            },
            {
                "Put": {
                    "TableName": self.table,
                    "Item": to_item({"pk": pk, "sk": f"KEY#{record['key_id']}", "kind": "key", **record}),
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            },
        ]
        items += [
            {
                "Update": {
                    "TableName": self.table,
                    "Key": to_item({"pk": pk, "sk": f"ROLE#{name}"}),
                    "UpdateExpression": "ADD key_count :one",
                    "ConditionExpression": "attribute_exists(pk)",
                    "ExpressionAttributeValues": to_item({":one": 1}),
                }
            }
            for name in role_names
        ]
        self._transact(items, labels=["environment", "key", *[f"role:{n}" for n in role_names]])

    def _transact(self, items: list[dict[str, Any]], labels: list[str]) -> None:
        try:
            self.client.transact_write_items(TransactItems=items)
        except Exception as error:
            if aws_error_code(error) != "TransactionCanceledException":
                raise
            reasons = getattr(error, "response", {}).get("CancellationReasons", [])
            failed = [labels[i] for i, r in enumerate(reasons) if r.get("Code") == "ConditionalCheckFailed"]
            if any(label == "environment" for label in failed):
                raise NotFoundError("environment is not declared", field="environment") from None
            roles = [label.split(":", 1)[1] for label in failed if label.startswith("role:")]
            if roles:
                raise ValidationFailedError(f"unknown role: {roles[0]}", field="roles", code="unknown_role") from None
            if "key" in failed:
                raise ConflictError("the key changed concurrently; retry", code="key_conflict") from None
            if any(r.get("Code") == "TransactionConflict" for r in reasons):
                raise ConflictError("a concurrent change touched the same items; retry", code="conflict") from None
            raise

    def get_key(self, project: str, environment: str, key_id: str, *, consistent: bool = True) -> dict[str, Any] | None:
        return self.get(project, environment, f"KEY#{key_id}", consistent=consistent)

    def list_keys(self, project: str, environment: str, limit: int, token: str | None) -> Page:
        return self._query(partition(project, environment), "KEY#", limit, token, newest_first=True, hide_revoked=True)

    def revoke_key(
        self, project: str, environment: str, key_id: str, revoked_at: str, revoked_by: str, purge_epoch: int
    ) -> dict[str, Any]:
        """Revoke a key and uncount it on its roles. The item stays (hash kept, marked revoked) so /verify can
        say `revoked` and investigators can see it, until DynamoDB's TTL purges it at purge_epoch.
        Unknown or already revoked: NotFoundError."""
        record = self.get_key(project, environment, key_id)
        if record is None or record.get("revoked_at"):
            raise NotFoundError("no such key", field="key_id")
        pk = partition(project, environment)
        items: list[dict[str, Any]] = [
            {
                "Update": {
                    "TableName": self.table,
                    "Key": to_item({"pk": pk, "sk": f"KEY#{key_id}"}),
                    "UpdateExpression": "SET revoked_at = :at, revoked_by = :by, purge_epoch = :purge",
                    "ConditionExpression": "attribute_exists(pk) AND attribute_not_exists(revoked_at)",
                    "ExpressionAttributeValues": to_item({":at": revoked_at, ":by": revoked_by, ":purge": purge_epoch}),
                }
            }
        ]
        items += [
            {
                "Update": {
                    "TableName": self.table,
                    "Key": to_item({"pk": pk, "sk": f"ROLE#{name}"}),
                    "UpdateExpression": "ADD key_count :minus",
                    "ConditionExpression": "attribute_exists(pk)",
                    "ExpressionAttributeValues": to_item({":minus": -1}),
                }
            }
            for name in record["roles"]
        ]
        try:
            self._transact(items, labels=["key", *[f"role:{n}" for n in record["roles"]]])
        except ConflictError:
            raise NotFoundError("no such key", field="key_id") from None
        return {**record, "revoked_at": revoked_at, "revoked_by": revoked_by}

    def update_key_hash(
        self, project: str, environment: str, key_id: str, old_hash: str, new_hash: str, params: dict[str, int]
    ) -> None:
        """Replace a hash made with outdated argon2 parameters; a lost race is harmless and ignored."""
        try:
            self.client.update_item(
                TableName=self.table,
                Key=to_item({"pk": partition(project, environment), "sk": f"KEY#{key_id}"}),
                UpdateExpression="SET #hash = :new, hash_params = :params",
                ConditionExpression="#hash = :old",
                ExpressionAttributeNames={"#hash": "hash"},
                ExpressionAttributeValues=to_item({":new": new_hash, ":old": old_hash, ":params": params}),
            )
        except Exception as error:
            if aws_error_code(error) != "ConditionalCheckFailedException":
                raise

    def update_key(self, project: str, environment: str, key_id: str, values: dict[str, Any]) -> None:
        """Set attributes on an existing, unrevoked key (NotFoundError if it is gone)."""
        names = {f"#k{i}": name for i, name in enumerate(values)}
        expression = "SET " + ", ".join(f"#k{i} = :v{i}" for i in range(len(values)))
        try:
            self.client.update_item(
                TableName=self.table,
                Key=to_item({"pk": partition(project, environment), "sk": f"KEY#{key_id}"}),
                UpdateExpression=expression,
                ConditionExpression="attribute_exists(pk) AND attribute_not_exists(revoked_at)",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=to_item({f":v{i}": value for i, value in enumerate(values.values())}),
            )
        except Exception as error:
            if aws_error_code(error) != "ConditionalCheckFailedException":
                raise
            raise NotFoundError("no such key", field="key_id") from None

    def touch_last_used(self, project: str, environment: str, key_id: str, last_used_at: str) -> None:
        """Record a key's latest accepted request; an older time never overwrites a newer one, and a key
        that is gone is left alone (the write would otherwise create a stray item)."""
        try:
            self.client.update_item(
                TableName=self.table,
                Key=to_item({"pk": partition(project, environment), "sk": f"KEY#{key_id}"}),
                UpdateExpression="SET last_used_at = :t",
                ConditionExpression="attribute_exists(pk) AND (attribute_not_exists(last_used_at) "
                "OR last_used_at < :t)",
                ExpressionAttributeValues=to_item({":t": last_used_at}),
            )
        except Exception as error:
            if aws_error_code(error) != "ConditionalCheckFailedException":
                raise


def decode_role(item: dict[str, Any]) -> dict[str, Any]:
    role = dict(item)
    if isinstance(role.get("permissions"), str):
        role["permissions"] = json.loads(role["permissions"])
    role["key_count"] = int(role.get("key_count", 0))
    return role
