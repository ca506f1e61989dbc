"""An environment's declaration (sk `ENV`) and the mass revocations under way read with it
(`ENV#REVOCATION#<id>`), in the keys table (aws.key_table)."""

from __future__ import annotations

from typing import Any

from archie_keys.aws.dynamo import Write, from_item, to_item
from archie_keys.aws.key_filters import MAX_QUERY_ROUND_TRIPS, count_query
from archie_keys.aws.key_items import PART
from archie_keys.aws.key_table import KeyTable, partition
from archie_keys.domain.environment_record import (
    EnvironmentRecord,
    environment_record,
    environment_stored_fields,
)
from archie_keys.domain.environment_state import (
    LEGACY_KEYS_ACCEPT,
    LEGACY_KEYS_REFUSE,
    EnvironmentState,
    RevocationRule,
)
from archie_keys.domain.errors import NotFoundError

# A mass revocation under way is an item of its environment's partition read with the declaration:
# ENV#REVOCATION#<revocation id> (app.mass_revocation writes it; the authorizer honours it while running).
REVOCATION_SK_PREFIX = "ENV#REVOCATION#"


class EnvironmentRecords(KeyTable):
    def environment_write(self, record: EnvironmentRecord) -> Write:
        """Declare an environment; refused (label `environment_exists`) when it is already declared."""
        key = {"pk": partition(record.project, record.environment), "sk": "ENV", "kind": "environment"}
        item = key | environment_stored_fields(record)
        put = {"TableName": self.table, "Item": to_item(item), "ConditionExpression": "attribute_not_exists(pk)"}
        return Write({"Put": put}, "environment_exists")

    def environment_update_write(self, record: EnvironmentRecord, values: dict[str, Any]) -> Write:
        """Change settings of a declared environment."""
        names = {f"#e{i}": name for i, name in enumerate(values)}
        update = {
            "TableName": self.table,
            "Key": self._key(record.project, record.environment, "ENV"),
            "UpdateExpression": "SET " + ", ".join(f"#e{i} = :e{i}" for i in range(len(values))),
            "ConditionExpression": "attribute_exists(pk)",
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": to_item({f":e{i}": value for i, value in enumerate(values.values())}),
        }
        return Write({"Update": update}, "environment")

    def get_environment(self, project: str, environment: str) -> EnvironmentRecord | None:
        item = self.get(project, environment, "ENV")
        return None if item is None else environment_record(item)

    def count_active_legacy_keys(self, project: str, environment: str, now: float) -> int:
        """How many keys of the first format (untagged: no `key_format`) are neither revoked nor expired.
        Reads the whole partition's keys (a setting changed rarely, by an operator); past MAX_QUERY_ROUND_TRIPS
        pages it answers 503 rather than guess."""
        request: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :key)",
            "FilterExpression": "attribute_not_exists(#part) AND attribute_not_exists(key_format) "
            "AND attribute_not_exists(revoked_at) AND (attribute_not_exists(expires_epoch) OR expires_epoch > :now)",
            "ExpressionAttributeNames": {"#part": PART},
            "ExpressionAttributeValues": to_item({":pk": partition(project, environment), ":key": "KEY#", ":now": now}),
            "Select": "COUNT",
        }
        return count_query(self.client, request, MAX_QUERY_ROUND_TRIPS)

    def environment_state(self, project: str, environment: str) -> EnvironmentState | None:
        """What the authorizer needs of an environment, in one strongly consistent Query of its `ENV` items:
        the declaration and the mass revocations under way (`ENV#REVOCATION#<id>`, status running). None when
        the environment is not declared. It reads the declaration's item itself, not as an EnvironmentRecord:
        the authorizer needs only the one setting, and a declaration missing another field still decides."""
        response = self.client.query(
            TableName=self.table,
            KeyConditionExpression="pk = :pk AND begins_with(sk, :env)",
            ExpressionAttributeValues=to_item({":pk": partition(project, environment), ":env": "ENV"}),
            ConsistentRead=True,
        )
        items = [from_item(item) for item in response.get("Items", [])]
        declaration = next((item for item in items if item["sk"] == "ENV"), None)
        if declaration is None:
            return None
        rules = tuple(
            RevocationRule(str(item["revocation_id"]), dict(item.get("match") or {}), int(item["before_ms"]))
            for item in items
            if str(item["sk"]).startswith(REVOCATION_SK_PREFIX) and item.get("status") == "running"
        )
        accepted = declaration.get("legacy_keys", LEGACY_KEYS_ACCEPT) != LEGACY_KEYS_REFUSE
        return EnvironmentState(legacy_keys_accepted=accepted, rules=rules)

    def require_environment(self, project: str, environment: str) -> EnvironmentRecord:
        record = self.get_environment(project, environment)
        if record is None:
            raise NotFoundError(f"environment {project}/{environment} is not declared", field="environment")
        return record
