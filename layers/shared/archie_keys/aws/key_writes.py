"""The changes of a key, as transaction items (aws.dynamo.Write) the use case commits with its audit event.

Each change writes the key's item (aws.key_items: its fields, and copies of its state for the listings) and
the item that records the change itself: a revocation its REVOKED item, a roll its ROLLED item, a change of
`enabled` its STATE item, a rehash its HASH item, a compactor its region's USED item. What decides validity
is written by nothing else, so no write in another region, resolved last-writer-wins, can undo it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from archie_keys.aws.dynamo import Write, conditional_write, to_item
from archie_keys.aws.key_items import HASH, HASH_FIELDS, LAYOUT, PART, REVOKED, ROLLED, STATE, USED, key_sk, part_sk
from archie_keys.aws.key_table import KeyTable, environment_declared_check, partition
from archie_keys.aws.role_counts import count_writes, revoked_entry_writes
from archie_keys.domain.key_record import KeyRecord, stored_fields


def _set(
    table: str, key: dict[str, Any], values: dict[str, Any], condition: str, extra: dict[str, Any]
) -> dict[str, Any]:
    """An Update SETting `values` (names through placeholders: a name may be a reserved word)."""
    update = {
        "TableName": table,
        "Key": key,
        "UpdateExpression": "SET " + ", ".join(f"#k{i} = :v{i}" for i in range(len(values))),
        "ConditionExpression": condition,
        "ExpressionAttributeNames": {f"#k{i}": name for i, name in enumerate(values)},
        "ExpressionAttributeValues": to_item({**{f":v{i}": value for i, value in enumerate(values.values())}, **extra}),
    }
    return {"Update": update}


def revocation_writes(
    table: str, record: KeyRecord, values: dict[str, Any], purge_epoch: int, region: str, label: str
) -> list[Write]:
    """Revoke one key: its REVOKED item (put once: label `label` when this region already holds one), the
    copy on its key item, its hash kept until the purge, and its roles' revocation entries (aws.role_counts).
    `values`: revoked_at, revoked_by and what else the revocation records."""
    project, environment, key_id = record.project, record.environment, record.key_id
    pk = partition(project, environment)
    recorded = {**values, "purge_epoch": purge_epoch}
    revoked = {"pk": pk, "sk": part_sk(key_id, REVOKED), PART: REVOKED, "written_in": region, **recorded}
    main = _set(
        table,
        to_item({"pk": pk, "sk": key_sk(key_id)}),
        recorded,
        "attribute_exists(pk) AND attribute_not_exists(revoked_at)",
        {},
    )
    # The hash goes with the key (DynamoDB's TTL): set with no condition, so a key hashed before it had a hash
    # item gets one holding only the purge time.
    keep_hash = {
        "Update": {
            "TableName": table,
            "Key": to_item({"pk": pk, "sk": part_sk(key_id, HASH)}),
            "UpdateExpression": "SET purge_epoch = :purge, #part = :part",
            "ExpressionAttributeNames": {"#part": PART},
            "ExpressionAttributeValues": to_item({":purge": purge_epoch, ":part": HASH}),
        }
    }
    put = {"TableName": table, "Item": to_item(revoked), "ConditionExpression": "attribute_not_exists(pk)"}
    return [
        Write(main, label),
        Write({"Put": put}, label),
        Write(keep_hash, label),
        *revoked_entry_writes(table, project, environment, key_id, record.roles),
    ]


class KeyWrites(KeyTable):
    def key_create_writes(self, record: KeyRecord) -> list[Write]:
        """Write a key (its item and its hash item) and count it on each of its roles in this region: a role
        deleted at the same moment (label `role:<name>`) or an environment not declared (label `environment`)
        refuses the whole creation."""
        project, environment, key_id = record.project, record.environment, record.key_id
        pk = partition(project, environment)
        stored = stored_fields(record)
        fields = {name: value for name, value in stored.items() if name not in HASH_FIELDS}
        main = {"pk": pk, "sk": key_sk(key_id), "kind": "key", "layout": LAYOUT} | fields
        hashed = {"pk": pk, "sk": part_sk(key_id, HASH), PART: HASH} | {
            name: stored[name] for name in HASH_FIELDS if name in stored
        }
        return [
            environment_declared_check(self.table, project, environment),
            Write(
                {
                    "Put": {
                        "TableName": self.table,
                        "Item": to_item(main),
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                },
                "key",
            ),
            Write(
                {
                    "Put": {
                        "TableName": self.table,
                        "Item": to_item(hashed),
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                },
                "key",
            ),
            *count_writes(self.table, project, environment, record.roles, +1, self.region, checked=True),
        ]

    def key_update_writes(
        self,
        record: KeyRecord,
        values: dict[str, Any],
        remove: Sequence[str],
        roles_added: Sequence[str],
        roles_removed: Sequence[str],
        now: float,
    ) -> list[Write]:
        """Change a key still changeable (neither revoked, rolled nor expired at `now`) and unchanged since it
        was read (its `revision`), and move this region's counts from the roles it loses to those it gains. A
        change of `enabled` is written on the key's STATE item too (what decides). Labels: `key` when it
        changed or ended meanwhile, `role:<name>` for a role gained that is gone."""
        project, environment, key_id = record.project, record.environment, record.key_id
        revision = record.revision or 0
        sets = {**values, "revision": revision + 1, "layout": LAYOUT}
        names = {f"#k{i}": name for i, name in enumerate(sets)}
        names.update({f"#r{i}": name for i, name in enumerate(remove)})
        expression = "SET " + ", ".join(f"#k{i} = :v{i}" for i in range(len(sets)))
        if remove:
            expression += " REMOVE " + ", ".join(f"#r{i}" for i in range(len(remove)))
        condition = (
            "attribute_exists(pk) AND attribute_not_exists(revoked_at) AND attribute_not_exists(rolled_to) "
            "AND (attribute_not_exists(expires_epoch) OR expires_epoch > :now) "
            + ("AND revision = :revision" if revision else "AND attribute_not_exists(revision)")
        )
        bound = {**{f":v{i}": value for i, value in enumerate(sets.values())}, ":now": now}
        if revision:
            bound[":revision"] = revision
        update = {
            "TableName": self.table,
            "Key": self._key(project, environment, key_sk(key_id)),
            "UpdateExpression": expression,
            "ConditionExpression": condition,
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": to_item(bound),
        }
        writes = [Write({"Update": update}, "key")]
        if "disabled_at" in values or "disabled_at" in remove:
            state = {"disabled_at": values.get("disabled_at"), "disabled_by": values.get("disabled_by")}
            item = {"pk": partition(project, environment), "sk": part_sk(key_id, STATE), PART: STATE}
            item |= {name: value for name, value in state.items() if value is not None}
            # No condition: the key item's condition above already refuses a change of an ended key, and a
            # later change of `enabled` replaces an earlier one (last writer wins, as two PATCHes would).
            writes.append(Write({"Put": {"TableName": self.table, "Item": to_item(item)}}, "key"))
        return [
            *writes,
            *count_writes(self.table, project, environment, roles_added, +1, self.region, checked=True),
            *count_writes(self.table, project, environment, roles_removed, -1, self.region, checked=False),
        ]

    def key_revoke_writes(
        self,
        record: KeyRecord,
        revoked_at: str,
        revoked_by: str,
        purge_epoch: int,
        unused_since: str | None = None,
        also_set: dict[str, Any] | None = None,
    ) -> list[Write]:
        """Revoke a key and uncount it on its roles. The key's items stay (hash kept, marked revoked) so
        /verify can say `revoked` and investigators can see it, until DynamoDB's TTL purges them at
        purge_epoch. Label `key` when it is gone or already revoked, or (with `unused_since`) when this
        region's compactor counted a use at or after that time: the check and the revocation are one write,
        so a request that lands in between is never missed. `also_set` records more (a leak's report)."""
        values = {"revoked_at": revoked_at, "revoked_by": revoked_by, **(also_set or {})}
        writes = revocation_writes(self.table, record, values, purge_epoch, self.region, "key")
        if unused_since is not None:
            check = {
                "TableName": self.table,
                "Key": self._key(record.project, record.environment, part_sk(record.key_id, USED, self.region)),
                "ConditionExpression": "attribute_not_exists(last_used_at) OR last_used_at < :since",
                "ExpressionAttributeValues": to_item({":since": unused_since}),
            }
            writes.append(Write({"ConditionCheck": check}, "key"))
        return writes

    def key_mark_write(self, record: KeyRecord, values: dict[str, Any]) -> Write:
        """Record facts about a key that change nothing it may do (a leak report on a key kept live)."""
        key = self._key(record.project, record.environment, key_sk(record.key_id))
        return Write(_set(self.table, key, values, "attribute_exists(pk)", {}), "key")

    def key_roll_writes(self, record: KeyRecord, values: dict[str, Any]) -> list[Write]:
        """Mark a live, not yet rolled key as rolled: its ROLLED item (put once; its expiry caps the key's)
        and the copy on its key item (label `rolled_key` when it was revoked, rolled or changed meanwhile: its
        successor copies the roles and context that were read)."""
        project, environment, key_id = record.project, record.environment, record.key_id
        key = self._key(project, environment, key_sk(key_id))
        condition = "attribute_exists(pk) AND attribute_not_exists(revoked_at) AND attribute_not_exists(rolled_to)"
        revision = record.revision
        if revision is None:
            main = _set(self.table, key, values, condition + " AND attribute_not_exists(revision)", {})
        else:
            # The revision is SET to the value read (no change) and its placeholder compared with it.
            last = len(values)
            main = _set(
                self.table, key, {**values, "revision": int(revision)}, condition + f" AND #k{last} = :v{last}", {}
            )
        rolled = {"pk": partition(project, environment), "sk": part_sk(key_id, ROLLED), PART: ROLLED} | values
        put = {"TableName": self.table, "Item": to_item(rolled), "ConditionExpression": "attribute_not_exists(pk)"}
        return [Write(main, "rolled_key"), Write({"Put": put}, "rolled_key")]

    def update_key_hash(
        self,
        project: str,
        environment: str,
        key_id: str,
        old_hash: str,
        new_hash: str,
        params: dict[str, int],
        pepper_version: str,
    ) -> bool:
        """Replace a hash made with outdated argon2 parameters or an older pepper version, on the key's hash
        item only. False when the stored hash was no longer `old_hash` (a lost race: harmless, another
        instance rehashed it). A key from before hash items gets one (its key item's hash stays, unread)."""
        return conditional_write(
            self.client.update_item,
            TableName=self.table,
            Key=self._key(project, environment, part_sk(key_id, HASH)),
            UpdateExpression="SET #hash = :new, hash_params = :params, pepper_version = :version, #part = :part",
            ConditionExpression="#hash = :old OR attribute_not_exists(#hash)",
            ExpressionAttributeNames={"#hash": "hash", "#part": PART},
            ExpressionAttributeValues=to_item(
                {":new": new_hash, ":old": old_hash, ":params": params, ":version": pepper_version, ":part": HASH}
            ),
        )

    def touch_last_used(self, project: str, environment: str, key_id: str, last_used_at: str) -> None:
        """Record a key's latest accepted request counted in this region, on this region's USED item (only
        this region writes it); an older time never overwrites a newer one."""
        conditional_write(
            self.client.update_item,
            TableName=self.table,
            Key=self._key(project, environment, part_sk(key_id, USED, self.region)),
            UpdateExpression="SET last_used_at = :t, #part = :part",
            ConditionExpression="attribute_not_exists(last_used_at) OR last_used_at < :t",
            ExpressionAttributeNames={"#part": PART},
            ExpressionAttributeValues=to_item({":t": last_used_at, ":part": USED}),
        )
