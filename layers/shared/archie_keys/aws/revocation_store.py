"""Data access for mass revocations: their items in the keys table, the keys they cover, and the registry of
those under way in this region (in the CoordinationTable, which the worker's sweep reads).

Keys table, in the environment's partition (aws.key_store):

    sk = ENV#REVOCATION#<id>   a revocation under way (status running): read by every authorizer with the
                               environment's declaration, which refuses every key it covers. Small: match,
                               before_ms, reason, who and when, matched and revoked (its progress).
         REVOCATION#<id>       the same once done (status done, finished_at): out of the authorizer's reads,
                               purged by TTL with the keys it revoked
         RUNNING#REVOCATIONS   `running`, the string set of the ids under way: its size is the bound
                               (limits.REVOCATIONS_RUNNING_MAX), kept by the same transactions that start
                               and end them; a set, so a repeated end cannot count twice
    every key it revokes carries `revocation_id`.

The registry entry of each (aws.revocation_registry) is written with its start and deleted with its end.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from archie_keys.aws.dynamo import Write, conditional_write, from_item, to_item
from archie_keys.aws.environment_records import REVOCATION_SK_PREFIX
from archie_keys.aws.key_filters import count_query, row_filter_expression
from archie_keys.aws.key_items import PART
from archie_keys.aws.key_table import DEFAULT_REGION, environment_declared_check, partition
from archie_keys.aws.key_writes import revocation_writes
from archie_keys.aws.revocation_registry import RevocationRegistry
from archie_keys.domain.key_record import KeyRecord, key_record
from archie_keys.domain.keyformat import KEY_ID_RANDOM_LENGTH, KEY_ID_TIME_LENGTH, encode_base62

RUNNING_SK = "RUNNING#REVOCATIONS"
DONE_SK_PREFIX = "REVOCATION#"
# A count reads every key it covers: at most this many pages (1 MB each) before it answers 503 rather than guess.
COUNT_MAX_PAGES = 2000


def key_range(before_ms: int, since_ms: int | None = None) -> tuple[str, str]:
    """The sort keys of the keys created in [since_ms, before_ms): key ids begin with their creation time in
    fixed-width base62, whose digits sort as ASCII does."""
    low = "KEY#" if since_ms is None else "KEY#" + encode_base62(max(since_ms, 0), KEY_ID_TIME_LENGTH)
    high = "KEY#" + encode_base62(before_ms - 1, KEY_ID_TIME_LENGTH) + "z" * KEY_ID_RANDOM_LENGTH
    return low, high


class RevocationStore:
    def __init__(self, table: str, client: Any, coordination_table: str = "", region: str = DEFAULT_REGION) -> None:
        self.table = table
        self.client = client
        self.region = region
        self.registry = RevocationRegistry(coordination_table, client)

    def _key(self, project: str, environment: str, sk: str) -> dict[str, Any]:
        return to_item({"pk": partition(project, environment), "sk": sk})

    # --- starting and ending ---------------------------------------------------------------------------

    def start_writes(self, rule: dict[str, Any], running_max: int) -> list[Write]:
        """The rule (label `revocation`: the id is taken), its place among those running (label
        `too_many_revocations`), and its registry entry for the sweep."""
        project, environment, revocation_id = rule["project"], rule["environment"], rule["revocation_id"]
        item = {"pk": partition(project, environment), "sk": REVOCATION_SK_PREFIX + revocation_id, **rule}
        writes = [
            environment_declared_check(self.table, project, environment),
            Write(
                {
                    "Put": {
                        "TableName": self.table,
                        "Item": to_item(item),
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                },
                "revocation",
            ),
            Write(
                {
                    "Update": {
                        "TableName": self.table,
                        "Key": self._key(project, environment, RUNNING_SK),
                        "UpdateExpression": "ADD running :id",
                        "ConditionExpression": "attribute_not_exists(running) OR size(running) < :max",
                        "ExpressionAttributeValues": to_item({":id": {revocation_id}, ":max": running_max}),
                    }
                },
                "too_many_revocations",
            ),
        ]
        entry = self.registry.entry_write(project, environment, revocation_id, int(rule["before_ms"]))
        return writes if entry is None else [*writes, entry]

    def finish_writes(self, rule: dict[str, Any], finished_at: str, purge_epoch: int) -> list[Write]:
        """Move the rule out of the authorizer's reads (label `revocation`: it was not running any more) and
        free its place, in one transaction."""
        project, environment, revocation_id = rule["project"], rule["environment"], rule["revocation_id"]
        done = {
            **{k: v for k, v in rule.items() if k not in ("pk", "sk")},
            "pk": partition(project, environment),
            "sk": DONE_SK_PREFIX + revocation_id,
            "status": "done",
            "finished_at": finished_at,
            "purge_epoch": purge_epoch,
            # Keys whose creation was under way when it began, found by the last pass, may not have been counted.
            "matched": max(int(rule.get("matched") or 0), int(rule.get("revoked", 0))),
        }
        writes = [
            Write(
                {
                    "Delete": {
                        "TableName": self.table,
                        "Key": self._key(project, environment, REVOCATION_SK_PREFIX + revocation_id),
                        # As read: a batch another worker committed since would be missing from its copy.
                        "ConditionExpression": "#status = :running AND revoked = :revoked",
                        "ExpressionAttributeNames": {"#status": "status"},
                        "ExpressionAttributeValues": to_item({":running": "running", ":revoked": rule["revoked"]}),
                    }
                },
                "revocation",
            ),
            Write({"Put": {"TableName": self.table, "Item": to_item(done)}}, "revocation_done"),
            Write(
                {
                    "Update": {
                        "TableName": self.table,
                        "Key": self._key(project, environment, RUNNING_SK),
                        "UpdateExpression": "DELETE running :id",
                        "ExpressionAttributeValues": to_item({":id": {revocation_id}}),
                    }
                },
                "running",
            ),
        ]
        entry = self.registry.entry_delete_write(project, environment, revocation_id)
        return writes if entry is None else [*writes, entry]

    # --- reading ---------------------------------------------------------------------------------------

    def get(self, project: str, environment: str, revocation_id: str) -> dict[str, Any] | None:
        """The revocation, under way or done (strongly consistent); None when there is none by that id."""
        for sk in (REVOCATION_SK_PREFIX + revocation_id, DONE_SK_PREFIX + revocation_id):
            response = self.client.get_item(
                TableName=self.table, Key=self._key(project, environment, sk), ConsistentRead=True
            )
            if response.get("Item"):
                return from_item(response["Item"])
        return None

    def record_matched(self, project: str, environment: str, revocation_id: str, matched: int) -> None:
        """Store the count the start answered, on the revocation under way or, if it ended meanwhile, done."""
        for sk in (REVOCATION_SK_PREFIX + revocation_id, DONE_SK_PREFIX + revocation_id):
            if conditional_write(
                self.client.update_item,
                TableName=self.table,
                Key=self._key(project, environment, sk),
                UpdateExpression="SET matched = if_not_exists(matched, :matched)",
                ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeValues=to_item({":matched": matched}),
            ):
                return

    def _covered_query(self, rule: dict[str, Any], *, own_too: bool, since_ms: int | None = None) -> dict[str, Any]:
        """The Query of the keys a rule covers that are not revoked (with `own_too`, or revoked by it), and
        were active when it started (a key expired before is refused already)."""
        low, high = key_range(int(rule["before_ms"]), since_ms)
        rows = row_filter_expression([dict(rule.get("match") or {})])
        assert rows is not None  # a match holds strings only, so some key can match it
        expression, names, values = rows
        names = {name: field for name, field in names.items() if name in expression}  # DynamoDB refuses unused ones
        unrevoked = (
            "(attribute_not_exists(revoked_at) OR revocation_id = :rid)"
            if own_too
            else ("attribute_not_exists(revoked_at)")
        )
        active = "(attribute_not_exists(expires_epoch) OR expires_epoch > :at)"
        values = {
            **values,
            ":pk": partition(rule["project"], rule["environment"]),
            ":low": low,
            ":high": high,
            ":at": int(rule["before_ms"]) / 1000,
        }
        if own_too:
            values[":rid"] = rule["revocation_id"]
        request = {
            "TableName": self.table,
            "KeyConditionExpression": "pk = :pk AND sk BETWEEN :low AND :high",
            # Key items only (a key's other items, aws.key_items, carry a part).
            "FilterExpression": f"attribute_not_exists(#part) AND {unrevoked} AND {active} AND {expression}",
            "ExpressionAttributeValues": to_item(values),
            "ConsistentRead": True,
        }
        request["ExpressionAttributeNames"] = {**names, "#part": PART}
        return request

    def count_covered(self, rule: dict[str, Any]) -> int:
        """How many keys the rule covers that were active when it started and that nothing else revoked since."""
        return count_query(self.client, {**self._covered_query(rule, own_too=True), "Select": "COUNT"}, COUNT_MAX_PAGES)

    def uncovered_page(
        self, rule: dict[str, Any], after: str | None, limit: int, since_ms: int | None = None
    ) -> tuple[list[KeyRecord], str | None]:
        """Up to `limit` keys the rule covers that are not revoked yet, in key order after the sort key
        `after`, and the sort key to go on after (None: none left). `since_ms`: only keys created since."""
        request = {**self._covered_query(rule, own_too=False, since_ms=since_ms), "Limit": limit}
        if after is not None:
            request["ExclusiveStartKey"] = self._key(rule["project"], rule["environment"], after)
        response = self.client.query(**request)
        # Key items alone (the Query leaves their parts out): enough for marking, which reads a key's id, name,
        # roles and idempotency id, never what its parts decide.
        items = [key_record(from_item(item)) for item in response.get("Items", [])]
        last = response.get("LastEvaluatedKey")
        return items, str(from_item(last)["sk"]) if last else None

    # --- marking keys ----------------------------------------------------------------------------------

    def mark_writes(
        self, rule: dict[str, Any], records: Sequence[KeyRecord], revoked_at: str, purge_epoch: int
    ) -> list[Write]:
        """Revoke `records` for the rule (label `key:<id>` for one revoked or gone meanwhile), uncount them on
        their roles (one write per role), and count them on the rule (label `revocation`: it ended)."""
        project, environment, revocation_id = rule["project"], rule["environment"], rule["revocation_id"]
        values = {"revoked_at": revoked_at, "revoked_by": rule["created_by"], "revocation_id": revocation_id}
        writes = [
            write
            for record in records
            for write in revocation_writes(self.table, record, values, purge_epoch, self.region, f"key:{record.key_id}")
        ]
        writes.append(
            Write(
                {
                    "Update": {
                        "TableName": self.table,
                        "Key": self._key(project, environment, REVOCATION_SK_PREFIX + revocation_id),
                        "UpdateExpression": "ADD revoked :n SET updated_at = :at",
                        "ConditionExpression": "#status = :running",
                        "ExpressionAttributeNames": {"#status": "status"},
                        "ExpressionAttributeValues": to_item(
                            {":n": len(records), ":at": revoked_at, ":running": "running"}
                        ),
                    }
                },
                "revocation",
            )
        )
        return writes
