"""How many keys hold each role, counted so that two regions writing at once never lose or double a count.

    sk = COUNT#ROLE#<role>#R#<region>    that region's additions and removals (ADD key_count): only that
                                         region writes it, so no write of another region replaces it
         COUNT#ROLE#<role>#X#<key_id>    the key's revocation, one per role it held: put by every region that
                                         revokes it, and being one item, counted once however many did

A role's count is its ROLE item's `key_count` (what was counted before regions), plus every region's counter,
less its revocation entries: one Query (`begins_with(sk, "COUNT#ROLE#<role>#")`). A revocation never
subtracts in place, so two regions revoking the same key at once subtract it once (docs/regions-consistency.md).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from archie_keys.aws.dynamo import Write, to_item
from archie_keys.aws.key_table import partition

COUNT_PREFIX = "COUNT#ROLE#"


def counter_sk(role: str, region: str) -> str:
    return f"{COUNT_PREFIX}{role}#R#{region}"


def revoked_entry_sk(role: str, key_id: str) -> str:
    return f"{COUNT_PREFIX}{role}#X#{key_id}"


def role_count_write(table: str, project: str, environment: str, role: str, delta: int, region: str) -> Write:
    """Move this region's count of `role` by `delta` (the keys that gain or lose it)."""
    update = {
        "TableName": table,
        "Key": to_item({"pk": partition(project, environment), "sk": counter_sk(role, region)}),
        "UpdateExpression": "ADD key_count :delta SET #role = :role",
        "ExpressionAttributeNames": {"#role": "role"},
        "ExpressionAttributeValues": to_item({":delta": delta, ":role": role}),
    }
    return Write({"Update": update}, f"role:{role}")


def role_exists_check(table: str, project: str, environment: str, role: str) -> Write:
    """Refused (label `role:<name>`) when the role is gone, so a key never counts on a role deleted meanwhile."""
    check = {
        "TableName": table,
        "Key": to_item({"pk": partition(project, environment), "sk": f"ROLE#{role}"}),
        "ConditionExpression": "attribute_exists(pk)",
    }
    return Write({"ConditionCheck": check}, f"role:{role}")


def count_writes(
    table: str, project: str, environment: str, roles: Sequence[str], delta: int, region: str, *, checked: bool
) -> list[Write]:
    """Count a key on (`delta` +1) or off (-1) its roles in `region`; `checked`: each role must still exist."""
    writes = [role_count_write(table, project, environment, role, delta, region) for role in roles]
    if checked:
        writes += [role_exists_check(table, project, environment, role) for role in roles]
    return writes


def revoked_entry_writes(table: str, project: str, environment: str, key_id: str, roles: Sequence[str]) -> list[Write]:
    """The revocation's entry under each role the key held: a put with no condition, the same item from every
    region that revokes the key, so the key is uncounted once."""
    return [
        Write(
            {
                "Put": {
                    "TableName": table,
                    "Item": to_item(
                        {
                            "pk": partition(project, environment),
                            "sk": revoked_entry_sk(role, key_id),
                            "role": role,
                            "key_id": key_id,
                        }
                    ),
                }
            },
            f"role:{role}",
        )
        for role in roles
    ]


def counts_by_role(items: Iterable[dict[str, Any]]) -> dict[str, int]:
    """Each role's count from its counter and revocation items (without the ROLE item's own key_count)."""
    counts: dict[str, int] = {}
    for item in items:
        rest = str(item["sk"])[len(COUNT_PREFIX) :]
        role, _, kind = rest.partition("#")
        if kind.startswith("R#"):
            counts[role] = counts.get(role, 0) + int(item.get("key_count", 0))
        elif kind.startswith("X#"):
            counts[role] = counts.get(role, 0) - 1
    return counts


def counters_unchanged_checks(
    table: str, project: str, environment: str, role: str, items: Iterable[dict[str, Any]], region: str
) -> list[Write]:
    """Checks (label `role_in_use`) that the counters read for a role's deletion are as read, and that this
    region has started none since: a key created here meanwhile refuses the deletion. A key created in another
    region at the same moment cannot be checked here (conditions hold in their own region only); it then
    holds a role that is gone, which grants nothing."""
    pk = partition(project, environment)
    seen: dict[str, int] = {
        str(item["sk"]): int(item.get("key_count", 0)) for item in items if "#R#" in str(item["sk"])
    }
    own = counter_sk(role, region)
    checks = []
    for sk, value in sorted(seen.items()):
        check = {
            "TableName": table,
            "Key": to_item({"pk": pk, "sk": sk}),
            "ConditionExpression": "key_count = :seen",
            "ExpressionAttributeValues": to_item({":seen": value}),
        }
        checks.append(Write({"ConditionCheck": check}, "role_in_use"))
    if own not in seen:
        check = {
            "TableName": table,
            "Key": to_item({"pk": pk, "sk": own}),
            "ConditionExpression": "attribute_not_exists(pk)",
        }
        checks.append(Write({"ConditionCheck": check}, "role_in_use"))
    return checks
