"""The keys table as every record family reads it: the partition of a project's environment, the region
this process writes in, and single-item reads. aws.key_store composes the families (environments, roles,
keys) into one KeyStore; each family is a module of its own.

    pk = PROJECT#<project>#ENV#<environment>

The table is a global table when the stack runs in several regions (docs/regions-consistency.md): each item
is resolved last-writer-wins across regions and a condition is checked in the writing region only, so the
families write what decides a key's validity and the counters on items no other change rewrites.
"""

from __future__ import annotations

from typing import Any

from archie_keys.aws.dynamo import Write, from_item, to_item

# The region a store writes in when none is given (a single-region stack, the tests' moto).
DEFAULT_REGION = "us-east-1"


def partition(project: str, environment: str) -> str:
    return f"PROJECT#{project}#ENV#{environment}"


def environment_declared_check(table: str, project: str, environment: str) -> Write:
    """A transaction item refusing the whole change (label `environment`) when the environment is not declared:
    every change that adds items to a partition (a key, a mass revocation) takes this check with it."""
    key = to_item({"pk": partition(project, environment), "sk": "ENV"})
    check = {"TableName": table, "Key": key, "ConditionExpression": "attribute_exists(pk)"}
    return Write({"ConditionCheck": check}, "environment")


class KeyTable:
    """One table, one client, one region: what each record family's methods share."""

    def __init__(self, table: str, client: Any, region: str = DEFAULT_REGION) -> None:
        self.table = table
        self.client = client
        # Per-region items (a key's last use, a role's counter) are written under this name only, so two
        # regions never write the same one of them (docs/regions-consistency.md).
        self.region = region

    def _key(self, project: str, environment: str, sk: str) -> dict[str, Any]:
        return to_item({"pk": partition(project, environment), "sk": sk})

    def get(self, project: str, environment: str, sk: str, *, consistent: bool = True) -> dict[str, Any] | None:
        response = self.client.get_item(
            TableName=self.table, Key=self._key(project, environment, sk), ConsistentRead=consistent
        )
        item = response.get("Item")
        return from_item(item) if item else None

    def _prefix(self, project: str, environment: str, prefix: str, *, consistent: bool = True) -> list[dict[str, Any]]:
        """Every item of a partition whose sort key starts with `prefix`, read to the end (small families:
        one key's items, one role's counters)."""
        request: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :prefix)",
            "ExpressionAttributeValues": to_item({":pk": partition(project, environment), ":prefix": prefix}),
            "ConsistentRead": consistent,
        }
        found: list[dict[str, Any]] = []
        while True:
            response = self.client.query(**request)
            found.extend(from_item(item) for item in response.get("Items", []))
            last = response.get("LastEvaluatedKey")
            if last is None:
                return found
            request["ExclusiveStartKey"] = last
