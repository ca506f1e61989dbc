"""One page of a partition's items under a sort-key prefix, read until it is full: the listings of roles and
keys. A key listing counts key items only (a key's other items, aws.key_items, come with it)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from archie_keys.aws.dynamo import from_item, to_item
from archie_keys.aws.key_filters import MAX_QUERY_ROUND_TRIPS
from archie_keys.aws.key_table import partition

Filter = tuple[str, dict[str, str], dict[str, Any]]


def query_page(
    client: Any,
    table: str,
    where: tuple[str, str],
    sk_prefix: str,
    limit: int,
    after: str | None,
    newest_first: bool,
    filter_expression: Filter | None = None,
    read_batch: int = 0,
    counted: Callable[[dict[str, Any]], bool] = lambda item: True,
) -> tuple[list[dict[str, Any]], str | None]:
    """Up to `limit` counted items of one sk prefix after the sort key `after` (with the uncounted items read
    before the last of them), and the sort key to go on after (None: nothing more). A filter is applied in the
    query, and the query is repeated until the page is full or the partition is read, so a page is never
    empty while matching items remain, except after MAX_QUERY_ROUND_TRIPS reads of a very sparse filter: then
    the page may be short, even empty, and the sort key says where the next page goes on (never a dead end
    while matching items remain)."""
    project, environment = where
    values: dict[str, Any] = {":pk": partition(project, environment), ":prefix": sk_prefix}
    request: dict[str, Any] = {
        "TableName": table,
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
        request["ExclusiveStartKey"] = to_item({"pk": partition(project, environment), "sk": after})
    found: list[dict[str, Any]] = []
    count = 0
    last: dict[str, Any] | None = None
    for _ in range(MAX_QUERY_ROUND_TRIPS):
        response = client.query(**request)
        for item in (from_item(raw) for raw in response.get("Items", [])):
            if counted(item):
                if count == limit:
                    return _cut(found, counted, newest_first), str(_cut(found, counted, newest_first)[-1]["sk"])
                count += 1
            found.append(item)
        last = response.get("LastEvaluatedKey")
        if last is None:
            return found, None
        request["ExclusiveStartKey"] = last
    # A very sparse filter over a very large partition: answer what was found, and go on from where the
    # reading stopped.
    assert last is not None
    return found, str(from_item(last)["sk"])


def _cut(
    found: list[dict[str, Any]], counted: Callable[[dict[str, Any]], bool], newest_first: bool
) -> list[dict[str, Any]]:
    """The page up to where the next one goes on. Newest first, a key's other items sort before it (they
    follow it in ascending order), so the items read after the page's last counted one belong to the next."""
    if not newest_first:
        return found
    end = max(i for i, item in enumerate(found) if counted(item))
    return found[: end + 1]
