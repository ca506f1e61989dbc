"""The registry of mass revocations under way in this region, in the CoordinationTable (regional: the worker
that marks a revocation's keys runs in the region that started it), which the worker's sweep reads:

    pk = REVOCATIONS, sk = <project>#<environment>#<id>, heartbeat_ms (the worker's last sign of life)

An entry is written in the transaction that starts its revocation and deleted in the one that ends it
(aws.revocation_store), so a revocation under way always has one, whatever happened to its worker.
"""

from __future__ import annotations

from typing import Any

from archie_keys.aws.dynamo import Write, conditional_write, from_item, to_item

REGISTRY_PK = "REVOCATIONS"


class RevocationRegistry:
    def __init__(self, table: str, client: Any) -> None:
        self.table = table  # empty: no registry (nothing resumes a revocation whose worker died)
        self.client = client

    def _key(self, project: str, environment: str, revocation_id: str) -> dict[str, Any]:
        return to_item({"pk": REGISTRY_PK, "sk": f"{project}#{environment}#{revocation_id}"})

    def entry_write(self, project: str, environment: str, revocation_id: str, heartbeat_ms: int) -> Write | None:
        if not self.table:
            return None
        entry = {
            "pk": REGISTRY_PK,
            "sk": f"{project}#{environment}#{revocation_id}",
            "project": project,
            "environment": environment,
            "revocation_id": revocation_id,
            "heartbeat_ms": heartbeat_ms,
        }
        return Write({"Put": {"TableName": self.table, "Item": to_item(entry)}}, "registry")

    def entry_delete_write(self, project: str, environment: str, revocation_id: str) -> Write | None:
        if not self.table:
            return None
        return Write(
            {"Delete": {"TableName": self.table, "Key": self._key(project, environment, revocation_id)}}, "registry"
        )

    def heartbeat(
        self, project: str, environment: str, revocation_id: str, now_ms: int, seen_ms: int | None = None
    ) -> bool:
        """Record that a worker is on it; with `seen_ms`, only if nobody did since that heartbeat was read (so
        two sweeps never both resume it). False when the condition did not hold or it is not registered."""
        if not self.table:
            return True
        condition = "attribute_exists(pk)" + (" AND heartbeat_ms = :seen" if seen_ms is not None else "")
        values: dict[str, Any] = {":now": now_ms}
        if seen_ms is not None:
            values[":seen"] = seen_ms
        return conditional_write(
            self.client.update_item,
            TableName=self.table,
            Key=self._key(project, environment, revocation_id),
            UpdateExpression="SET heartbeat_ms = :now",
            ConditionExpression=condition,
            ExpressionAttributeValues=to_item(values),
        )

    def unregister(self, project: str, environment: str, revocation_id: str) -> None:
        """Forget a registry entry whose revocation is gone (its end removes it; a restore of the keys table
        to a time before it began would not)."""
        if self.table:
            self.client.delete_item(TableName=self.table, Key=self._key(project, environment, revocation_id))

    def registered(self) -> list[dict[str, Any]]:
        """Every revocation under way in this region (a few: at most REVOCATIONS_RUNNING_MAX per environment)."""
        if not self.table:
            return []
        request: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": to_item({":pk": REGISTRY_PK}),
            "ConsistentRead": True,
        }
        found: list[dict[str, Any]] = []
        while True:
            response = self.client.query(**request)
            found.extend(from_item(item) for item in response.get("Items", []))
            if "LastEvaluatedKey" not in response:
                return found
            request["ExclusiveStartKey"] = response["LastEvaluatedKey"]
