"""Data access for environments, roles and keys: one DynamoDB table, partitioned by project and environment.

    pk = PROJECT#<project>#ENV#<environment>
    sk = ENV                 the environment's declaration (`legacy_keys`: accept | refuse keys of format 1)
         ENV#REVOCATION#<id> a mass revocation under way, read with the declaration by the authorizer
         ROLE#<name>         a role (aws.role_records)
         COUNT#ROLE#...      how many keys hold each role, per region (aws.role_counts)
         KEY#<key_id>...     a key and the items that decide it (aws.key_items); key ids sort by creation
                             time, so a reverse Query lists newest first
         SEEN#<key_id>#<region>  when the authorizer of that region last authorized the key (`authorized_epoch`;
                             the authorizer as witness, domain.authorization_witness): items of their own, so
                             the items that decide a key's validity are never written by the authorizer, and
                             outside the `KEY#` prefix the listings read; one per region, so that no region's
                             write replaces another's in a global table (SEEN#<key_id>: from before)
         SECRET#<name>       a delivered secret: the key whose value it holds (`key_id`) and that value's
                             version (`version_id`)

Everything a request touches lives in its own partition: GetItem, BatchGetItem and Query only, never Scan.
Changes are not written here: each method named `*_writes`/`*_write` builds the transaction items of one
change, and the use case commits them together with the audit event that describes it (aws.dynamo). The
families live in their own modules (aws.environment_records, aws.role_records, aws.key_writes); KeyStore is
all of them over one table, client and region.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from archie_keys.aws.dynamo import Write, conditional_write, to_item
from archie_keys.aws.environment_records import REVOCATION_SK_PREFIX, EnvironmentRecords
from archie_keys.aws.key_filters import (
    FILTERED_READ_BATCH,
    MAX_QUERY_ROUND_TRIPS,
    count_query,
    row_filter_expression,
    status_filter,
)
from archie_keys.aws.key_items import PART, REVOKED, ROLLED, STATE, USED, group_key_items, key_sk, merge_key_items
from archie_keys.aws.key_pager import query_page
from archie_keys.aws.key_table import DEFAULT_REGION, environment_declared_check, partition
from archie_keys.aws.key_writes import KeyWrites
from archie_keys.aws.role_counts import role_count_write
from archie_keys.aws.role_records import RoleRecords
from archie_keys.domain.authorization_witness import WITNESS_RETENTION_SECONDS
from archie_keys.domain.key_record import KeyRecord
from archie_keys.domain.key_status import DEFAULT_LISTED, key_status

__all__ = [
    "DEFAULT_REGION",
    "FILTERED_READ_BATCH",
    "MAX_QUERY_ROUND_TRIPS",
    "REVOCATION_SK_PREFIX",
    "KeyStore",
    "count_query",
    "environment_declared_check",
    "partition",
    "role_count_write",
    "row_filter_expression",
    "status_filter",
]

# The witness item every region wrote before each region had its own (read and checked until it is purged).
LEGACY_SEEN = ""


def seen_sk(key_id: str, region: str | None = None) -> str:
    """The witness items of a key: SEEN#<key id>#<region>, one per region; SEEN#<key id> is the one from before,
    and with no region the prefix of them all (key ids are 12 characters: no other key's item shares it)."""
    return f"SEEN#{key_id}" + (f"#{region}" if region else "")


# The items a listing reads besides key items: those that decide a status (a key item's copy may have lost it
# to a conflicting write in another region), and each region's last use (the key item has none since them).
_MERGED_PARTS = (REVOKED, ROLLED, STATE, USED)


class KeyStore(EnvironmentRecords, RoleRecords, KeyWrites):
    # --- keys ------------------------------------------------------------------------------------------

    def get_key(self, project: str, environment: str, key_id: str, *, consistent: bool = True) -> KeyRecord | None:
        """The key's record merged from its items (aws.key_items), read together by one Query: about one read
        unit, as a GetItem of the one item was."""
        items = self._prefix(project, environment, key_sk(key_id), consistent=consistent)
        return merge_key_items(key_id, items)

    def list_keys(
        self,
        project: str,
        environment: str,
        limit: int,
        after: str | None,
        alternatives: Sequence[dict[str, Any]],
        name_contains: str | None = None,
        statuses: Sequence[str] = DEFAULT_LISTED,
        now: float = 0.0,
    ) -> tuple[list[KeyRecord], str | None]:
        """Keys in one of `statuses` at `now` (domain.key_status), newest first, whose context matches one of
        the row-filter alternatives ([{}]: all) and, with `name_contains`, whose name contains it (ignoring
        case); and the sort key the next page goes on after (None: the last page). The filter reads the key
        items' copies of their state; each key found is merged with its deciding items and checked again."""
        terms = [status_filter(statuses)]
        names: dict[str, str] = {"#part": PART}
        values: dict[str, Any] = {":now": now, **{f":part{i}": part for i, part in enumerate(_MERGED_PARTS)}}
        if name_contains:
            terms.append("contains(name_folded, :name)")
            values[":name"] = name_contains.casefold()
        # The default listing is nearly every key, so it reads pages of the size asked; a narrower one reads
        # larger batches, as a row filter does.
        narrow = bool(name_contains) or set(statuses) != set(DEFAULT_LISTED)
        if {} not in alternatives:
            rows = row_filter_expression(alternatives)
            if rows is None:
                return [], None
            terms.append(rows[0])
            names.update(rows[1])
            values.update(rows[2])
            narrow = True
        # AND binds before OR: every key item that matches, and every deciding item (merged below).
        parts = ", ".join(f":part{i}" for i in range(len(_MERGED_PARTS)))
        expression = f"#part IN ({parts}) OR attribute_not_exists(#part) AND " + " AND ".join(terms)
        batch = FILTERED_READ_BATCH if narrow else 0
        items, resume = query_page(
            self.client,
            self.table,
            (project, environment),
            "KEY#",
            limit,
            after,
            True,
            (expression, names, values),
            batch,
            counted=lambda item: PART not in item,
        )
        keys = []
        for key_id, group in group_key_items(items).items():
            record = merge_key_items(key_id, group)
            if record is not None and key_status(record, now).status in statuses:
                keys.append(record)
        return keys, resume

    # --- the authorizer as witness (domain.authorization_witness) -----------------------------------------

    def record_authorization(self, project: str, environment: str, key_id: str, at: float) -> None:
        """Record that the key was authorized at `at` (epoch seconds), on this region's witness item: only this
        region writes it, so in a global table no other region's write replaces it with an older time (each
        region's condition holds in that region only). Monotonic: an instance whose clock or write lags
        another's never moves the stored time back (the refused condition is success: a later time is already
        there). Any other failure raises: the authorizer must not answer Allow unrecorded."""
        conditional_write(
            self.client.update_item,
            TableName=self.table,
            Key=self._key(project, environment, seen_sk(key_id, self.region)),
            UpdateExpression="SET authorized_epoch = :at, purge_epoch = :purge",
            ConditionExpression="attribute_not_exists(authorized_epoch) OR authorized_epoch < :at",
            ExpressionAttributeValues=to_item({":at": at, ":purge": int(at + WITNESS_RETENTION_SECONDS)}),
        )

    def authorizations(self, project: str, environment: str, key_id: str) -> dict[str, float]:
        """When each region last recorded the key authorized, as this region's replica holds it (strongly
        consistent, one Query): region -> epoch seconds; "" for the one item every region wrote before the
        witness was kept per region (LEGACY_SEEN)."""
        found: dict[str, float] = {}
        for item in self._prefix(project, environment, seen_sk(key_id)):
            if "authorized_epoch" in item:
                found[str(item["sk"])[len(seen_sk(key_id)) + 1 :]] = float(item["authorized_epoch"])
        return found

    def last_authorization(self, project: str, environment: str, key_id: str) -> float | None:
        """When the key was last recorded authorized in any region, None when never (or purged)."""
        return max(self.authorizations(project, environment, key_id).values(), default=None)

    def not_authorized_since_checks(self, record: KeyRecord, bound: float, regions: Sequence[str]) -> list[Write]:
        """Transaction items refused (label `key`, as a key used meanwhile) when the key was recorded authorized at
        or after `bound` by any of `regions` ("": the item from before the per-region ones): an authorization
        recorded between a guarded delete's read of the witness and its revocation is not missed (another
        region's, once it has replicated here)."""
        return [
            Write(
                {
                    "ConditionCheck": {
                        "TableName": self.table,
                        "Key": self._key(record.project, record.environment, seen_sk(record.key_id, region)),
                        "ConditionExpression": "attribute_not_exists(authorized_epoch) OR authorized_epoch < :bound",
                        "ExpressionAttributeValues": to_item({":bound": bound}),
                    }
                },
                "key",
            )
            for region in regions
        ]

    # --- delivered secrets -----------------------------------------------------------------------------

    def get_secret_holder(self, project: str, environment: str, name: str) -> dict[str, Any] | None:
        return self.get(project, environment, f"SECRET#{name}")

    def secret_holder_write(
        self, project: str, environment: str, name: str, holder: dict[str, Any], previous: str | None
    ) -> Write:
        """Record that a secret now holds `holder` ({key_id, version_id, updated_at}), if its record still
        names `previous` (None: there is no record): two changes that read the same holder cannot both take
        the secret (label `secret_holder`)."""
        put: dict[str, Any] = {
            "TableName": self.table,
            "Item": to_item({"pk": partition(project, environment), "sk": f"SECRET#{name}", "kind": "secret"} | holder),
        }
        if previous is None:
            put["ConditionExpression"] = "attribute_not_exists(pk)"
        else:
            put["ConditionExpression"] = "key_id = :previous"
            put["ExpressionAttributeValues"] = to_item({":previous": previous})
        return Write({"Put": put}, "secret_holder")
