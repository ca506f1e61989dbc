"""aws.items on DynamoDB: each condition, update and write turned into DynamoDB's expressions and requests.

Every name and value goes through a placeholder (#n0, :v0), so no attribute name is ever a reserved word
problem and no value ever becomes expression text.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from typing import Any

from archie_keys.aws.dynamo_types import aws_error_code, from_item, to_item
from archie_keys.aws.items import (
    Absent,
    All,
    AnyOf,
    BeginsWith,
    Between,
    Changes,
    Check,
    Compare,
    Condition,
    Contains,
    Delete,
    Exists,
    Item,
    Key,
    Not,
    Page,
    Path,
    Put,
    Update,
    Write,
)
from archie_keys.domain.errors import ConditionFailed, ConflictError, ServiceUnavailableError, shown

# Cancellation reasons that mean DynamoDB could not take the write now (retry later), not a refused condition.
_CAPACITY_REASONS = {"ThrottlingError", "ProvisionedThroughputExceeded", "RequestLimitExceeded", "InternalServerError"}
# BatchGetItem's unprocessed keys are asked again this many times, with a growing pause, then 503.
BATCH_GET_ATTEMPTS = 6


class Expression:
    """Placeholders for the names and values of one request's expressions."""

    def __init__(self) -> None:
        self.names: dict[str, str] = {}
        self.values: dict[str, Any] = {}
        self._by_name: dict[str, str] = {}

    def name(self, path: Path) -> str:
        parts = []
        for part in path:
            placeholder = self._by_name.get(part)
            if placeholder is None:
                placeholder = self._by_name[part] = f"#n{len(self._by_name)}"
                self.names[placeholder] = part
            parts.append(placeholder)
        return ".".join(parts)

    def value(self, value: Any) -> str:
        placeholder = f":v{len(self.values)}"
        self.values[placeholder] = value
        return placeholder

    def condition(self, condition: Condition, nested: bool = False) -> str:
        text = self._condition(condition)
        return f"({text})" if nested and isinstance(condition, (All, AnyOf)) else text

    def _condition(self, condition: Condition) -> str:
        if isinstance(condition, Exists):
            return f"attribute_exists({self.name(condition.path)})"
        if isinstance(condition, Absent):
            return f"attribute_not_exists({self.name(condition.path)})"
        if isinstance(condition, Compare):
            return f"{self.name(condition.path)} {condition.op} {self.value(condition.value)}"
        if isinstance(condition, Contains):
            return f"contains({self.name(condition.path)}, {self.value(condition.value)})"
        if isinstance(condition, BeginsWith):
            return f"begins_with({self.name(condition.path)}, {self.value(condition.value)})"
        if isinstance(condition, Between):
            low, high = self.value(condition.low), self.value(condition.high)
            return f"{self.name(condition.path)} BETWEEN {low} AND {high}"
        if isinstance(condition, All):
            return " AND ".join(self.condition(part, nested=True) for part in condition.parts)
        if isinstance(condition, AnyOf):
            return " OR ".join(self.condition(part, nested=True) for part in condition.parts)
        if isinstance(condition, Not):
            return f"NOT ({self.condition(condition.part)})"
        raise TypeError(f"not a condition: {shown(condition)}")

    def update(self, changes: Changes) -> str:
        clauses = []
        assigned = [
            f"{self.name((name,))} = {self.value(value)}" for name, value in changes.set.items() if value is not None
        ]
        if assigned:
            clauses.append("SET " + ", ".join(assigned))
        if changes.remove:
            clauses.append("REMOVE " + ", ".join(self.name((name,)) for name in changes.remove))
        if changes.add:
            clauses.append("ADD " + ", ".join(f"{self.name((n,))} {self.value(v)}" for n, v in changes.add.items()))
        return " ".join(clauses)

    def attach(self, request: dict[str, Any]) -> dict[str, Any]:
        if self.names:
            request["ExpressionAttributeNames"] = dict(self.names)
        if self.values:
            request["ExpressionAttributeValues"] = to_item(dict(self.values))
        return request


def write_request(write: Write) -> tuple[str, dict[str, Any]]:
    """A write as (operation, request): TransactItems' entry names (Put, Update, Delete, ConditionCheck)."""
    expression = Expression()
    request: dict[str, Any] = {"TableName": write.table}
    if isinstance(write, Put):
        request["Item"] = to_item(write.item)
        operation = "Put"
    else:
        request["Key"] = to_item(write.key)
        operation = {Update: "Update", Delete: "Delete", Check: "ConditionCheck"}[type(write)]
    if isinstance(write, Update):
        request["UpdateExpression"] = expression.update(write.changes)
    if write.condition is not None:
        request["ConditionExpression"] = expression.condition(write.condition)
    return operation, expression.attach(request)


class DynamoItems:
    """aws.items.Items over a boto3 DynamoDB client."""

    def __init__(self, client: Any, sleep: Any = time.sleep) -> None:
        self.client = client
        self._sleep = sleep

    def get(self, table: str, key: Key, *, consistent: bool = True) -> Item | None:
        response = self.client.get_item(TableName=table, Key=to_item(key), ConsistentRead=consistent)
        item = response.get("Item")
        return from_item(item) if item else None

    def batch_get(self, table: str, keys: Sequence[Key], *, consistent: bool = True) -> list[Item]:
        found: list[Item] = []
        for start in range(0, len(keys), 100):  # BatchGetItem takes at most 100 keys
            pending: dict[str, Any] = {
                table: {"Keys": [to_item(key) for key in keys[start : start + 100]], "ConsistentRead": consistent}
            }
            for attempt in range(BATCH_GET_ATTEMPTS):
                if attempt:
                    self._sleep(0.05 * 2**attempt)
                response = self.client.batch_get_item(RequestItems=pending)
                found += [from_item(item) for item in response.get("Responses", {}).get(table, [])]
                pending = response.get("UnprocessedKeys") or {}
                if not pending:
                    break
            else:
                raise ServiceUnavailableError("DynamoDB left reads unprocessed; retry shortly")
        return found

    def query(
        self,
        table: str,
        partition: tuple[str, Any],
        *,
        sort: Condition | None = None,
        index: str | None = None,
        forward: bool = True,
        limit: int | None = None,
        start: Key | None = None,
        where: Condition | None = None,
        consistent: bool = False,
    ) -> Page:
        expression = Expression()
        key_condition = expression.condition(Compare((partition[0],), "=", partition[1]))
        if sort is not None:
            key_condition += " AND " + expression.condition(sort)
        request: dict[str, Any] = {
            "TableName": table,
            "KeyConditionExpression": key_condition,
            "ScanIndexForward": forward,
        }
        if index is not None:
            request["IndexName"] = index
        else:
            request["ConsistentRead"] = consistent
        if where is not None:
            request["FilterExpression"] = expression.condition(where)
        if limit is not None:
            request["Limit"] = limit
        if start is not None:
            request["ExclusiveStartKey"] = to_item(start)
        response = self.client.query(**expression.attach(request))
        last = response.get("LastEvaluatedKey")
        return Page(
            [from_item(item) for item in response.get("Items", [])],
            from_item(last) if last else None,
            int(response.get("ScannedCount", 0)),
        )

    def write(self, write: Write) -> None:
        operation, request = write_request(write)
        call = {
            "Put": self.client.put_item,
            "Update": self.client.update_item,
            "Delete": self.client.delete_item,
        }.get(operation)
        if call is None:  # a lone ConditionCheck is a transaction of one
            self.transact([write])
            return
        try:
            call(**request)
        except Exception as error:
            if aws_error_code(error) == "ConditionalCheckFailedException":
                raise ConditionFailed([write.label]) from None
            raise

    def transact(self, writes: Sequence[Write]) -> None:
        if not writes:
            return
        entries = [dict([write_request(write)]) for write in writes]
        try:
            # The token makes a retry of this same call idempotent: when botocore resends a transaction whose
            # answer was lost (a read timeout after DynamoDB committed it), DynamoDB answers the retry as the
            # commit it was, instead of refusing it on conditions the first attempt already made false.
            self.client.transact_write_items(TransactItems=entries, ClientRequestToken=str(uuid.uuid4()))
        except Exception as error:
            if aws_error_code(error) != "TransactionCanceledException":
                raise
            reasons = getattr(error, "response", {}).get("CancellationReasons") or []
            failed = [writes[i].label for i, r in enumerate(reasons) if r.get("Code") == "ConditionalCheckFailed"]
            if failed:
                raise ConditionFailed(failed) from None
            if any(r.get("Code") in _CAPACITY_REASONS for r in reasons):
                raise ServiceUnavailableError() from None
            if any(r.get("Code") == "TransactionConflict" for r in reasons):
                raise ConflictError("a concurrent change touched the same items; retry", code="conflict") from None
            raise
