"""Data access for trust policies and the exchange's replay marks: items of the keys table (template.yaml's
KeysTable, the one source of truth for its schema).

    pk = PROJECT#<project>#ENV#<environment>, sk = TRUST#<name>   a trust policy (its body as JSON text, so
                                                                  numbers and empty maps read back as written)
    pk = REPLAY#<replay identity>,           sk = R              a token already exchanged (domain.replay),
                                                                  purged by the table's TTL (purge_epoch)

A policy lives in its environment's partition, beside the roles it names; reading an environment's policies
is one Query of at most TRUST_POLICIES_PER_ENVIRONMENT_MAX items. A replay mark has a partition of its own
(one per token, never hot), outside every environment: a token is usable once, whichever environment it is
presented to. Its write is one item of the transaction that creates the exchanged key, so a token is
consumed exactly when a key is made from it: a refused or failed exchange leaves it usable for a retry.
"""

from __future__ import annotations

import json
from typing import Any

from archie_keys.aws.dynamo import Write, from_item, to_item
from archie_keys.aws.key_store import partition
from archie_keys.domain.change_records import REPLAYED
from archie_keys.domain.limits import TRUST_POLICIES_PER_ENVIRONMENT_MAX
from archie_keys.domain.replay import ReplayMark

TRUST_SK_PREFIX = "TRUST#"
REPLAY_PK_PREFIX = "REPLAY#"


class TrustStore:
    def __init__(self, table: str, client: Any) -> None:
        self.table = table
        self.client = client

    def _key(self, project: str, environment: str, name: str) -> dict[str, Any]:
        return to_item({"pk": partition(project, environment), "sk": f"{TRUST_SK_PREFIX}{name}"})

    def get(self, project: str, environment: str, name: str) -> dict[str, Any] | None:
        response = self.client.get_item(
            TableName=self.table, Key=self._key(project, environment, name), ConsistentRead=True
        )
        item = response.get("Item")
        return decode_trust(from_item(item)) if item else None

    def list(self, project: str, environment: str) -> list[dict[str, Any]]:
        """Every policy of the environment, by name. Bounded (TRUST_POLICIES_PER_ENVIRONMENT_MAX), so one
        strongly consistent Query, followed while DynamoDB pages it."""
        request: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :prefix)",
            "ExpressionAttributeValues": to_item({":pk": partition(project, environment), ":prefix": TRUST_SK_PREFIX}),
            "ConsistentRead": True,
        }
        found: list[dict[str, Any]] = []
        # A bounded number of pages: the policies of one environment are few and small.
        for _ in range(TRUST_POLICIES_PER_ENVIRONMENT_MAX):
            response = self.client.query(**request)
            found.extend(decode_trust(from_item(item)) for item in response.get("Items", []))
            last = response.get("LastEvaluatedKey")
            if last is None:
                break
            request["ExclusiveStartKey"] = last
        return found

    def put_write(
        self, project: str, environment: str, name: str, values: dict[str, Any], previous: dict[str, Any] | None
    ) -> Write:
        """Create a policy (refused, label `trust`, if one appeared meanwhile) or replace `previous` (refused if
        it changed meanwhile). `values`: policy (the body), updated_at, updated_by."""
        item = {
            "pk": partition(project, environment),
            "sk": f"{TRUST_SK_PREFIX}{name}",
            "kind": "trust",
            "name": name,
            "policy": json.dumps(values["policy"], separators=(",", ":"), sort_keys=True),
            "created_at": previous["created_at"] if previous else values["updated_at"],
            "created_by": previous["created_by"] if previous else values["updated_by"],
            "updated_at": values["updated_at"],
            "updated_by": values["updated_by"],
        }
        put: dict[str, Any] = {"TableName": self.table, "Item": to_item(item)}
        if previous is None:
            put["ConditionExpression"] = "attribute_not_exists(pk)"
        else:
            put["ConditionExpression"] = "updated_at = :previous"
            put["ExpressionAttributeValues"] = to_item({":previous": previous["updated_at"]})
        return Write({"Put": put}, "trust")

    def delete_write(self, project: str, environment: str, name: str, previous: dict[str, Any]) -> Write:
        """Delete the policy as it was read (label `trust` when it changed or went meanwhile)."""
        delete = {
            "TableName": self.table,
            "Key": self._key(project, environment, name),
            "ConditionExpression": "updated_at = :previous",
            "ExpressionAttributeValues": to_item({":previous": previous["updated_at"]}),
        }
        return Write({"Delete": delete}, "trust")

    def policy_check_write(self, project: str, environment: str, name: str, policy: dict[str, Any]) -> Write:
        """Holds only while the policy an exchange matched is still stored as it was read: a policy deleted or
        narrowed while the exchange ran refuses the key (label `trust`)."""
        check = {
            "TableName": self.table,
            "Key": self._key(project, environment, name),
            "ConditionExpression": "updated_at = :previous",
            "ExpressionAttributeValues": to_item({":previous": policy["updated_at"]}),
        }
        return Write({"ConditionCheck": check}, "trust")

    def replay_write(self, mark: ReplayMark) -> Write:
        """Remember a token as used until `mark.remember_until` (label `replayed` when it already is). A mark
        whose time has passed but which TTL has not purged yet still refuses: the token it names is expired
        by then (domain.replay), so that refusal is one the verifier would have made anyway."""
        item = {
            "pk": f"{REPLAY_PK_PREFIX}{mark.identity}",
            "sk": "R",
            "kind": "replay",
            "purge_epoch": mark.remember_until,
        }
        put = {"TableName": self.table, "Item": to_item(item), "ConditionExpression": "attribute_not_exists(pk)"}
        return Write({"Put": put}, REPLAYED)


def decode_trust(item: dict[str, Any]) -> dict[str, Any]:
    stored = dict(item)
    stored["policy"] = json.loads(stored["policy"]) if isinstance(stored.get("policy"), str) else {}
    return stored
