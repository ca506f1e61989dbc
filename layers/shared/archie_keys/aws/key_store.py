"""Data access for environments, roles and keys: one DynamoDB table, partitioned by project and environment.

    pk = PROJECT#<project>#ENV#<environment>
    sk = ENV                 the environment's declaration (`legacy_keys`: accept | refuse keys of format 1)
         ENV#REVOCATION#<id> a mass revocation under way, read with the declaration by the authorizer
         ROLE#<name>         a role, with key_count (how many keys reference it)
         KEY#<key_id>        a key; key ids sort by creation time, so a reverse Query lists newest first
         SEEN#<key_id>       when the authorizer last authorized the key (`authorized_epoch`; the authorizer
                             as witness, domain.authorization_witness): an item of its own, so the items
                             that decide a key's validity are never written by the authorizer, and outside
                             the `KEY#` prefix the listings read
         SECRET#<name>       a delivered secret: the key whose value it holds (`key_id`) and that value's
                             version (`version_id`)

Everything a request touches lives in its own partition: GetItem, BatchGetItem and Query only, never Scan.
Changes are not written here: each method named `*_writes`/`*_write` builds the transaction items of one
change, and the use case commits them together with the audit event that describes the change (see
aws.dynamo.Transactions). Stored items are plain dicts; this module knows nothing of HTTP. It is longer than
300 lines because it holds every access to this one table, so that every change to environments, roles and
keys is built in one place.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from archie_keys.aws.dynamo import Write, conditional_write, from_item, to_item
from archie_keys.domain.authorization_witness import WITNESS_RETENTION_SECONDS
from archie_keys.domain.environment_state import (
    LEGACY_KEYS_ACCEPT,
    LEGACY_KEYS_REFUSE,
    EnvironmentState,
    RevocationRule,
)
from archie_keys.domain.errors import NotFoundError, ServiceUnavailableError
from archie_keys.domain.key_status import ACTIVE, DEFAULT_LISTED, DISABLED, EXPIRED, REVOKED, ROLLED

# A mass revocation under way is an item of its environment's partition read with the declaration:
# ENV#REVOCATION#<revocation id> (app.mass_revocation writes it; the authorizer honours it while running).
REVOCATION_SK_PREFIX = "ENV#REVOCATION#"

# Keys read per Query when a row filter applies: DynamoDB filters after reading, so a sparse filter reads
# this many keys per round trip instead of `limit + 1`.
FILTERED_READ_BATCH = 200
# A listing stops after this many round trips even when the filter keeps matching nothing (1 MB each at most).
MAX_QUERY_ROUND_TRIPS = 100


def partition(project: str, environment: str) -> str:
    return f"PROJECT#{project}#ENV#{environment}"


def environment_declared_check(table: str, project: str, environment: str) -> Write:
    """A transaction item refusing the whole change (label `environment`) when the environment is not declared:
    every change that adds items to a partition (a key, a mass revocation) takes this check with it."""
    key = to_item({"pk": partition(project, environment), "sk": "ENV"})
    check = {"TableName": table, "Key": key, "ConditionExpression": "attribute_exists(pk)"}
    return Write({"ConditionCheck": check}, "environment")


def role_count_write(table: str, project: str, environment: str, role: str, delta: int) -> Write:
    """Move a role's `key_count` by `delta` (the keys that hold it); refused (label `role:<name>`) when the
    role is gone, so a key never counts on a role deleted at the same moment."""
    update = {
        "TableName": table,
        "Key": to_item({"pk": partition(project, environment), "sk": f"ROLE#{role}"}),
        "UpdateExpression": "ADD key_count :delta",
        "ConditionExpression": "attribute_exists(pk)",
        "ExpressionAttributeValues": to_item({":delta": delta}),
    }
    return Write({"Update": update}, f"role:{role}")


def count_query(client: Any, request: dict[str, Any], max_pages: int) -> int:
    """How many items a Query (`"Select": "COUNT"`) finds, page after page (1 MB read each); past `max_pages`
    it answers 503 rather than guess."""
    request = dict(request)
    count = 0
    for _ in range(max_pages):
        response = client.query(**request)
        count += int(response.get("Count", 0))
        if "LastEvaluatedKey" not in response:
            return count
        request["ExclusiveStartKey"] = response["LastEvaluatedKey"]
    raise ServiceUnavailableError("too many keys to count now; retry shortly")


def row_filter_expression(alternatives: Sequence[dict[str, Any]]) -> tuple[str, dict[str, str], dict[str, Any]] | None:
    """A condition selecting keys whose context matches any alternative (each: every field equal), or None
    when no key can match (a literal that is not a string never equals a context value). Parenthesized only
    where needed: DynamoDB refuses redundant parentheses."""
    clauses: list[list[str]] = []
    names: dict[str, str] = {"#ctx": "context"}
    values: dict[str, Any] = {}
    for alternative in alternatives:
        if not all(isinstance(value, str) for value in alternative.values()):
            continue
        terms = []
        for field, value in alternative.items():
            index = len(values)
            names[f"#f{index}"] = field
            values[f":f{index}"] = value
            terms.append(f"#ctx.#f{index} = :f{index}")
        clauses.append(terms or ["attribute_exists(pk)"])
    if not clauses:
        return None
    if len(clauses) == 1:
        return " AND ".join(clauses[0]), names, values
    either = " OR ".join(f"({' AND '.join(terms)})" if len(terms) > 1 else terms[0] for terms in clauses)
    return f"({either})", names, values


# Each status as DynamoDB conditions on a key's item at `:now`, the rules of domain.key_status: one or more
# alternatives, each a list of terms that must all hold.
_NOT_ENDED = "(attribute_not_exists(expires_epoch) OR expires_epoch > :now)"
_STATUS_ALTERNATIVES: dict[str, tuple[tuple[str, ...], ...]] = {
    ACTIVE: (
        (
            "attribute_not_exists(revoked_at)",
            "attribute_not_exists(disabled_at)",
            "attribute_not_exists(rolled_to)",
            _NOT_ENDED,
        ),
    ),
    DISABLED: (("attribute_not_exists(revoked_at)", "attribute_exists(disabled_at)", _NOT_ENDED),),
    ROLLED: (
        (
            "attribute_not_exists(revoked_at)",
            "attribute_not_exists(disabled_at)",
            "attribute_exists(rolled_to)",
            "expires_epoch > :now",
        ),
    ),
    EXPIRED: (("attribute_not_exists(revoked_at)", "attribute_not_exists(rolled_to)", "expires_epoch <= :now"),),
    # Revoked and still retained (DynamoDB's TTL deletes an item up to days after its purge_epoch), or rolled
    # away: rolled, and its grace over.
    REVOKED: (
        ("attribute_exists(revoked_at)", "purge_epoch > :now"),
        ("attribute_not_exists(revoked_at)", "attribute_exists(rolled_to)", "expires_epoch <= :now"),
    ),
}
# Every status but revoked, in one alternative (the default listing).
_NOT_REVOKED = ("attribute_not_exists(revoked_at)", "(attribute_not_exists(rolled_to) OR expires_epoch > :now)")


def status_filter(statuses: Sequence[str], joined: bool = True) -> str:
    """A condition selecting the keys in one of `statuses` at `:now`. Parenthesized when `joined` with AND to
    other terms, and only where needed: DynamoDB refuses redundant parentheses."""
    if set(statuses) == set(DEFAULT_LISTED):
        alternatives: list[tuple[str, ...]] = [_NOT_REVOKED]
    else:
        alternatives = [alternative for status in statuses for alternative in _STATUS_ALTERNATIVES[status]]
    if len(alternatives) == 1:
        return " AND ".join(alternatives[0])
    either = " OR ".join(f"({' AND '.join(terms)})" for terms in alternatives)
    return f"({either})" if joined else either


class KeyStore:
    def __init__(self, table: str, client: Any) -> None:
        self.table = table
        self.client = client

    def _key(self, project: str, environment: str, sk: str) -> dict[str, Any]:
        return to_item({"pk": partition(project, environment), "sk": sk})

    def get(self, project: str, environment: str, sk: str, *, consistent: bool = True) -> dict[str, Any] | None:
        response = self.client.get_item(
            TableName=self.table, Key=self._key(project, environment, sk), ConsistentRead=consistent
        )
        item = response.get("Item")
        return from_item(item) if item else None

    def _page(
        self,
        project: str,
        environment: str,
        sk_prefix: str,
        limit: int,
        after: str | None,
        newest_first: bool,
        filter_expression: tuple[str, dict[str, str], dict[str, Any]] | None = None,
        read_batch: int = 0,
    ) -> tuple[list[dict[str, Any]], str | None]:
        """Up to `limit` items of one sk prefix after the sort key `after`, and the sort key to go on after
        (None: nothing more). A filter is applied in the query, and the query is repeated until the page is
        full or the partition is read, so a page is never empty while matching items remain, except after
        MAX_QUERY_ROUND_TRIPS reads of a very sparse filter: then the page may be short, even empty, and the
        sort key says where the next page goes on (never a dead end while matching items remain)."""
        values: dict[str, Any] = {":pk": partition(project, environment), ":prefix": sk_prefix}
        request: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :prefix)",
            "ScanIndexForward": not newest_first,
            "Limit": limit + 1,
        }
        if filter_expression is not None:
            expression, names, filter_values = filter_expression
            request["FilterExpression"] = expression
            if names:
                request["ExpressionAttributeNames"] = names
            values.update(filter_values)
            request["Limit"] = max(limit + 1, read_batch)
        request["ExpressionAttributeValues"] = to_item(values)
        if after is not None:
            request["ExclusiveStartKey"] = self._key(project, environment, after)
        found: list[dict[str, Any]] = []
        for _ in range(MAX_QUERY_ROUND_TRIPS):
            response = self.client.query(**request)
            found.extend(from_item(item) for item in response.get("Items", []))
            last = response.get("LastEvaluatedKey")
            if len(found) > limit:
                return found[:limit], str(found[limit - 1]["sk"])
            if last is None:
                return found, None
            request["ExclusiveStartKey"] = last
        # A very sparse filter over a very large partition: answer what was found, and go on from where the
        # reading stopped.
        return found, str(from_item(last)["sk"])

    # --- environments ----------------------------------------------------------------------------------

    def environment_write(self, record: dict[str, Any]) -> Write:
        """Declare an environment; refused (label `environment_exists`) when it is already declared."""
        item = {"pk": partition(record["project"], record["environment"]), "sk": "ENV", "kind": "environment", **record}
        put = {"TableName": self.table, "Item": to_item(item), "ConditionExpression": "attribute_not_exists(pk)"}
        return Write({"Put": put}, "environment_exists")

    def environment_update_write(self, record: dict[str, Any], values: dict[str, Any]) -> Write:
        """Change settings of a declared environment."""
        names = {f"#e{i}": name for i, name in enumerate(values)}
        update = {
            "TableName": self.table,
            "Key": self._key(record["project"], record["environment"], "ENV"),
            "UpdateExpression": "SET " + ", ".join(f"#e{i} = :e{i}" for i in range(len(values))),
            "ConditionExpression": "attribute_exists(pk)",
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": to_item({f":e{i}": value for i, value in enumerate(values.values())}),
        }
        return Write({"Update": update}, "environment")

    def get_environment(self, project: str, environment: str) -> dict[str, Any] | None:
        return self.get(project, environment, "ENV")

    def count_active_legacy_keys(self, project: str, environment: str, now: float) -> int:
        """How many keys of the first format (untagged: no `key_format`) are neither revoked nor expired.
        Reads the whole partition's keys (a setting changed rarely, by an operator); past MAX_QUERY_ROUND_TRIPS
        pages it answers 503 rather than guess."""
        request: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :key)",
            "FilterExpression": "attribute_not_exists(key_format) AND attribute_not_exists(revoked_at) "
            "AND (attribute_not_exists(expires_epoch) OR expires_epoch > :now)",
            "ExpressionAttributeValues": to_item({":pk": partition(project, environment), ":key": "KEY#", ":now": now}),
            "Select": "COUNT",
        }
        return count_query(self.client, request, MAX_QUERY_ROUND_TRIPS)

    def environment_state(self, project: str, environment: str) -> EnvironmentState | None:
        """What the authorizer needs of an environment, in one strongly consistent Query of its `ENV` items:
        the declaration and the mass revocations under way (`ENV#REVOCATION#<id>`, status running). None when
        the environment is not declared."""
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

    def require_environment(self, project: str, environment: str) -> dict[str, Any]:
        record = self.get_environment(project, environment)
        if record is None:
            raise NotFoundError(f"environment {project}/{environment} is not declared", field="environment")
        return record

    # --- roles -----------------------------------------------------------------------------------------

    def role_write(
        self, project: str, environment: str, name: str, values: dict[str, Any], previous: dict[str, Any] | None
    ) -> Write:
        """Create a role (when `previous` is None; refused if one appeared meanwhile) or replace the definition
        of `previous` (refused if it changed meanwhile). key_count and created_at are kept. Label: `role`."""
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
                {**{f":a{i}": value for i, value in enumerate(stored.values())}, ":previous": previous["updated_at"]}
            ),
        }
        return Write({"Update": update}, "role")

    def role_delete_write(self, project: str, environment: str, name: str) -> Write:
        """Delete a role that no key holds (label `role_in_use` when one does, or it is gone)."""
        delete = {
            "TableName": self.table,
            "Key": self._key(project, environment, f"ROLE#{name}"),
            "ConditionExpression": "attribute_exists(pk) AND key_count <= :zero",
            "ExpressionAttributeValues": to_item({":zero": 0}),
        }
        return Write({"Delete": delete}, "role_in_use")

    def get_role(self, project: str, environment: str, name: str) -> dict[str, Any] | None:
        item = self.get(project, environment, f"ROLE#{name}")
        return decode_role(item) if item else None

    def get_roles(self, project: str, environment: str, names: Sequence[str]) -> dict[str, dict[str, Any]]:
        """The named roles of one partition in one BatchGetItem (strongly consistent). Missing ones are absent."""
        if not names:
            return {}
        keys = [self._key(project, environment, f"ROLE#{name}") for name in names]
        found: dict[str, dict[str, Any]] = {}
        request: dict[str, Any] = {self.table: {"Keys": keys, "ConsistentRead": True}}
        for _ in range(5):  # unprocessed keys are retried a bounded number of times, then it is unavailable
            response = self.client.batch_get_item(RequestItems=request)
            for item in response.get("Responses", {}).get(self.table, []):
                role = decode_role(from_item(item))
                found[role["name"]] = role
            request = response.get("UnprocessedKeys") or {}
            if not request:
                return found
        raise ServiceUnavailableError("DynamoDB left role reads unprocessed; retry shortly")

    def list_roles(
        self, project: str, environment: str, limit: int, after: str | None
    ) -> tuple[list[dict[str, Any]], str | None]:
        """A page of roles, and the sort key the next page goes on after (None: the last page)."""
        items, resume = self._page(project, environment, "ROLE#", limit, after, newest_first=False)
        return [decode_role(item) for item in items], resume

    # --- keys ------------------------------------------------------------------------------------------

    def key_create_writes(self, record: dict[str, Any]) -> list[Write]:
        """Write a key and count it on each of its roles: a role deleted at the same moment (label `role:<name>`)
        or an environment not declared (label `environment`) refuses the whole creation."""
        project, environment = record["project"], record["environment"]
        writes = [
            environment_declared_check(self.table, project, environment),
            Write(
                {
                    "Put": {
                        "TableName": self.table,
                        "Item": to_item(
                            {"pk": partition(project, environment), "sk": f"KEY#{record['key_id']}", "kind": "key"}
                            | record
                        ),
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                },
                "key",
            ),
        ]
        return writes + self._count_writes(project, environment, record["roles"], +1)

    def _count_writes(self, project: str, environment: str, roles: Sequence[str], delta: int) -> list[Write]:
        return [role_count_write(self.table, project, environment, name, delta) for name in roles]

    def get_key(self, project: str, environment: str, key_id: str, *, consistent: bool = True) -> dict[str, Any] | None:
        return self.get(project, environment, f"KEY#{key_id}", consistent=consistent)

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
    ) -> tuple[list[dict[str, Any]], str | None]:
        """Keys in one of `statuses` at `now` (domain.key_status), newest first, whose context matches one of
        the row-filter alternatives ([{}]: all) and, with `name_contains`, whose name contains it (ignoring
        case); and the sort key the next page goes on after (None: the last page)."""
        terms = [status_filter(statuses)]
        names: dict[str, str] = {}
        values: dict[str, Any] = {":now": now}
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
        if len(terms) == 1:
            terms = [status_filter(statuses, joined=False)]
        expression = " AND ".join(terms)
        batch = FILTERED_READ_BATCH if narrow else 0
        return self._page(project, environment, "KEY#", limit, after, True, (expression, names, values), batch)

    def key_update_writes(
        self,
        record: dict[str, Any],
        values: dict[str, Any],
        remove: Sequence[str],
        roles_added: Sequence[str],
        roles_removed: Sequence[str],
        now: float,
    ) -> list[Write]:
        """Change a key still changeable (neither revoked, rolled nor expired at `now`) and unchanged since it
        was read (its `revision`), and move its counts from the roles it loses to those it gains. Labels: `key`
        when it changed or ended meanwhile, `role:<name>` for a role gained that is gone."""
        revision = int(record.get("revision", 0))
        sets = {**values, "revision": revision + 1}
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
            "Key": self._key(record["project"], record["environment"], f"KEY#{record['key_id']}"),
            "UpdateExpression": expression,
            "ConditionExpression": condition,
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": to_item(bound),
        }
        project, environment = record["project"], record["environment"]
        return [
            Write({"Update": update}, "key"),
            *self._count_writes(project, environment, roles_added, +1),
            *self._count_writes(project, environment, roles_removed, -1),
        ]

    def key_revoke_writes(
        self,
        record: dict[str, Any],
        revoked_at: str,
        revoked_by: str,
        purge_epoch: int,
        unused_since: str | None = None,
        also_set: dict[str, Any] | None = None,
    ) -> list[Write]:
        """Revoke a key and uncount it on its roles. The item stays (hash kept, marked revoked) so /verify can say
        `revoked` and investigators can see it, until DynamoDB's TTL purges it at purge_epoch. Label `key` when
        it is gone or already revoked, or (with `unused_since`) when it was used at or after that time: the
        check and the revocation are one write, so a request that lands in between is never missed.
        `also_set` records more attributes with it (a leak's report)."""
        project, environment = record["project"], record["environment"]
        values: dict[str, Any] = {":at": revoked_at, ":by": revoked_by, ":purge": purge_epoch}
        condition = "attribute_exists(pk) AND attribute_not_exists(revoked_at)"
        if unused_since is not None:
            condition += " AND (attribute_not_exists(last_used_at) OR last_used_at < :since)"
            values[":since"] = unused_since
        sets = ["revoked_at = :at", "revoked_by = :by", "purge_epoch = :purge"]
        names: dict[str, str] = {}
        for i, (name, value) in enumerate((also_set or {}).items()):
            names[f"#x{i}"] = name
            values[f":x{i}"] = value
            sets.append(f"#x{i} = :x{i}")
        update: dict[str, Any] = {
            "TableName": self.table,
            "Key": self._key(project, environment, f"KEY#{record['key_id']}"),
            "UpdateExpression": "SET " + ", ".join(sets),
            "ConditionExpression": condition,
            "ExpressionAttributeValues": to_item(values),
        }
        if names:
            update["ExpressionAttributeNames"] = names
        return [Write({"Update": update}, "key"), *self._count_writes(project, environment, record["roles"], -1)]

    def key_mark_write(self, record: dict[str, Any], values: dict[str, Any]) -> Write:
        """Record facts about a key that change nothing it may do (a leak report on a key kept live)."""
        return self._key_set_write(record, values, "attribute_exists(pk)", "key")

    def key_roll_write(self, record: dict[str, Any], values: dict[str, Any]) -> Write:
        """Mark a live, not yet rolled key as rolled (label `rolled_key` when it was revoked, rolled or changed
        meanwhile: its successor copies the roles and context that were read)."""
        condition = "attribute_exists(pk) AND attribute_not_exists(revoked_at) AND attribute_not_exists(rolled_to)"
        revision = record.get("revision")
        if revision is None:
            return self._key_set_write(record, values, condition + " AND attribute_not_exists(revision)", "rolled_key")
        # The revision is SET to the value read (no change) and its placeholder compared with it.
        last = len(values)
        condition += f" AND #k{last} = :v{last}"
        return self._key_set_write(record, {**values, "revision": int(revision)}, condition, "rolled_key")

    def _key_set_write(self, record: dict[str, Any], values: dict[str, Any], condition: str, label: str) -> Write:
        """SET `values` on a key's item under `condition` (attribute names go through placeholders: a value's
        name may be a DynamoDB reserved word)."""
        update = {
            "TableName": self.table,
            "Key": self._key(record["project"], record["environment"], f"KEY#{record['key_id']}"),
            "UpdateExpression": "SET " + ", ".join(f"#k{i} = :v{i}" for i in range(len(values))),
            "ConditionExpression": condition,
            "ExpressionAttributeNames": {f"#k{i}": name for i, name in enumerate(values)},
            "ExpressionAttributeValues": to_item({f":v{i}": value for i, value in enumerate(values.values())}),
        }
        return Write({"Update": update}, label)

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
        """Replace a hash made with outdated argon2 parameters or an older pepper version. False when the
        stored hash was no longer `old_hash` (a lost race: harmless, another instance rehashed it)."""
        return conditional_write(
            self.client.update_item,
            TableName=self.table,
            Key=self._key(project, environment, f"KEY#{key_id}"),
            UpdateExpression="SET #hash = :new, hash_params = :params, pepper_version = :version",
            ConditionExpression="#hash = :old",
            ExpressionAttributeNames={"#hash": "hash"},
            ExpressionAttributeValues=to_item(
                {":new": new_hash, ":old": old_hash, ":params": params, ":version": pepper_version}
            ),
        )

    def touch_last_used(self, project: str, environment: str, key_id: str, last_used_at: str) -> None:
        """Record a key's latest accepted request; an older time never overwrites a newer one, and a key
        that is gone is left alone (the write would otherwise create a stray item)."""
        conditional_write(
            self.client.update_item,
            TableName=self.table,
            Key=self._key(project, environment, f"KEY#{key_id}"),
            UpdateExpression="SET last_used_at = :t",
            ConditionExpression="attribute_exists(pk) AND (attribute_not_exists(last_used_at) OR last_used_at < :t)",
            ExpressionAttributeValues=to_item({":t": last_used_at}),
        )

    # --- the authorizer as witness (domain.authorization_witness) -----------------------------------------

    def record_authorization(self, project: str, environment: str, key_id: str, at: float) -> None:
        """Record that the key was authorized at `at` (epoch seconds). Monotonic: an instance whose clock or
        write lags another's never moves the stored time back (the refused condition is success: a later time
        is already there). Any other failure raises: the authorizer must not answer Allow unrecorded."""
        conditional_write(
            self.client.update_item,
            TableName=self.table,
            Key=self._key(project, environment, f"SEEN#{key_id}"),
            UpdateExpression="SET authorized_epoch = :at, purge_epoch = :purge",
            ConditionExpression="attribute_not_exists(authorized_epoch) OR authorized_epoch < :at",
            ExpressionAttributeValues=to_item({":at": at, ":purge": int(at + WITNESS_RETENTION_SECONDS)}),
        )

    def last_authorization(self, project: str, environment: str, key_id: str) -> float | None:
        """When the key was last recorded authorized (strongly consistent), None when never (or purged)."""
        item = self.get(project, environment, f"SEEN#{key_id}")
        return float(item["authorized_epoch"]) if item and "authorized_epoch" in item else None

    def not_authorized_since_check(self, record: dict[str, Any], bound: float) -> Write:
        """A transaction item refused (label `key`, as a key used meanwhile) when the key was recorded
        authorized at or after `bound`: an authorization recorded between a guarded delete's read of the
        witness and its revocation is not missed."""
        check = {
            "TableName": self.table,
            "Key": self._key(record["project"], record["environment"], f"SEEN#{record['key_id']}"),
            "ConditionExpression": "attribute_not_exists(authorized_epoch) OR authorized_epoch < :bound",
            "ExpressionAttributeValues": to_item({":bound": bound}),
        }
        return Write({"ConditionCheck": check}, "key")

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


def decode_role(item: dict[str, Any]) -> dict[str, Any]:
    role = dict(item)
    if isinstance(role.get("permissions"), str):
        role["permissions"] = json.loads(role["permissions"])
    role["key_count"] = int(role.get("key_count", 0))
    return role
