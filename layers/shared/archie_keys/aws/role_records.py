"""Roles (sk `ROLE#<name>`) in the keys table, with how many keys hold each (aws.role_counts)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from archie_keys.aws.dynamo import Write, from_item, to_item
from archie_keys.aws.key_pager import query_page
from archie_keys.aws.key_table import KeyTable
from archie_keys.aws.role_counts import COUNT_PREFIX, counters_unchanged_checks, counts_by_role
from archie_keys.domain.errors import ServiceUnavailableError
from archie_keys.domain.role_record import RoleRecord, role_record


class RoleRecords(KeyTable):
    def role_write(
        self, project: str, environment: str, name: str, values: dict[str, Any], previous: RoleRecord | None
    ) -> Write:
        """Create a role (when `previous` is None; refused if one appeared meanwhile) or replace the definition
        of `previous` (refused if it changed meanwhile). Its counts live on items of their own. Label: `role`."""
        stored = {
            "description": values["description"],
            "permissions": json.dumps(values["permissions"], separators=(",", ":")),
            "updated_at": values["updated_at"],
            "updated_by": values["updated_by"],
        }
        key = self._key(project, environment, f"ROLE#{name}")
        if previous is None:
            item = {**from_item(key), "kind": "role", "name": name, "created_at": values["updated_at"], "key_count": 0}
            put = {
                "TableName": self.table,
                "Item": to_item({**item, **stored}),
                "ConditionExpression": "attribute_not_exists(pk)",
            }
            return Write({"Put": put}, "role")
        names = {f"#a{i}": attribute for i, attribute in enumerate(stored)}
        update = {
            "TableName": self.table,
            "Key": key,
            "UpdateExpression": "SET " + ", ".join(f"#a{i} = :a{i}" for i in range(len(stored))),
            "ConditionExpression": "attribute_exists(pk) AND #updated = :previous",
            "ExpressionAttributeNames": {**names, "#updated": "updated_at"},
            "ExpressionAttributeValues": to_item(
                {**{f":a{i}": value for i, value in enumerate(stored.values())}, ":previous": previous.updated_at}
            ),
        }
        return Write({"Update": update}, "role")

    def role_delete_writes(self, project: str, environment: str, name: str) -> list[Write]:
        """Delete a role that no key holds (label `role_in_use` when one does, came meanwhile, or it is gone):
        its counters are read here and checked unchanged by the deletion's transaction."""
        counters = self._prefix(project, environment, f"{COUNT_PREFIX}{name}#")
        item = self.get(project, environment, f"ROLE#{name}")
        held = int((item or {}).get("key_count", 0)) + counts_by_role(counters).get(name, 0)
        role_key = self._key(project, environment, f"ROLE#{name}")
        # The count it started from (before regions) is pinned as read, like every region's counter.
        delete = {
            "TableName": self.table,
            "Key": role_key,
            "ConditionExpression": "attribute_exists(pk) AND key_count = :legacy",
            "ExpressionAttributeValues": to_item({":legacy": int((item or {}).get("key_count", 0))}),
        }
        writes = [
            Write({"Delete": delete}, "role_in_use"),
            *counters_unchanged_checks(self.table, project, environment, name, counters, self.region),
        ]
        if held > 0:
            # Held by a key counted since the caller read the role: a check that cannot hold (the declared
            # environment's item exists; a transaction touches the role's item once) refuses it all.
            env_key = self._key(project, environment, "ENV")
            refused = {"TableName": self.table, "Key": env_key, "ConditionExpression": "attribute_not_exists(pk)"}
            writes.append(Write({"ConditionCheck": refused}, "role_in_use"))
        return writes

    def _counted(self, project: str, environment: str, role: RoleRecord, prefix: str) -> RoleRecord:
        counts = counts_by_role(self._prefix(project, environment, prefix))
        return replace(role, key_count=(role.key_count or 0) + counts.get(role.name, 0))

    def get_role(self, project: str, environment: str, name: str) -> RoleRecord | None:
        item = self.get(project, environment, f"ROLE#{name}")
        if not item:
            return None
        return self._counted(project, environment, role_record(item), f"{COUNT_PREFIX}{name}#")

    def get_roles(self, project: str, environment: str, names: Sequence[str]) -> dict[str, RoleRecord]:
        """The named roles of one partition in one BatchGetItem (strongly consistent), without their counts
        (the decision needs none). Missing ones are absent."""
        if not names:
            return {}
        keys = [self._key(project, environment, f"ROLE#{name}") for name in names]
        found: dict[str, RoleRecord] = {}
        request: dict[str, Any] = {self.table: {"Keys": keys, "ConsistentRead": True}}
        for _ in range(5):  # unprocessed keys are retried a bounded number of times, then it is unavailable
            response = self.client.batch_get_item(RequestItems=request)
            for item in response.get("Responses", {}).get(self.table, []):
                role = role_record(from_item(item))
                found[role.name] = role
            request = response.get("UnprocessedKeys") or {}
            if not request:
                return found
        raise ServiceUnavailableError("DynamoDB left role reads unprocessed; retry shortly")

    def list_roles(
        self, project: str, environment: str, limit: int, after: str | None
    ) -> tuple[list[RoleRecord], str | None]:
        """A page of roles with their counts (one more Query: the partition's counters), and the sort key the
        next page goes on after (None: the last page)."""
        items, resume = query_page(self.client, self.table, (project, environment), "ROLE#", limit, after, False)
        if not items:
            return [], resume
        counts = counts_by_role(self._prefix(project, environment, COUNT_PREFIX))
        roles = [role_record(item) for item in items]
        return [replace(role, key_count=(role.key_count or 0) + counts.get(role.name, 0)) for role in roles], resume
