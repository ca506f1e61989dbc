"""The idempotency records behind the Idempotency-Key header (IdempotencyTable).

    id          sha256 of (scope, Idempotency-Key): the scope is the caller, its environment and the operation
    status      in_progress | completed
    fingerprint sha256 of the request body: the same key with another body is refused
    claim       a random token naming the request that holds an in_progress record
    response    the completed response, with the key value sealed (never in clear)
    key_id      the key the response created
    expiration  TTL (epoch seconds): the record is gone 24 h after the first request

A record is claimed before the work starts and completed inside the very transaction that creates the key
(`completion_write`), so a response is stored exactly when its key exists: a crash between the two cannot
leave a key whose value no retry can get back.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from typing import Any

from archie_keys.aws.dynamo import Write, aws_error_code, conditional_write, from_item, to_item
from archie_keys.domain.change_records import COMPLETED, IN_PROGRESS, Claim, Existing

__all__ = ["COMPLETED", "IN_PROGRESS", "Claim", "Existing", "IdempotencyStore"]


class IdempotencyStore:
    def __init__(self, table: str, client: Any, clock: Callable[[], float] = time.time) -> None:
        self.table = table
        self.client = client
        self.clock = clock

    def claim(self, record_id: str, fingerprint: str, ttl_seconds: int, hold_seconds: int) -> Claim | Existing:
        """Claim the record for this request, or say who has it. A claim whose holder died (held longer than
        `hold_seconds`) or a record past its TTL is taken over."""
        now = int(self.clock())
        token = secrets.token_hex(16)
        item = {
            "id": record_id,
            "status": IN_PROGRESS,
            "fingerprint": fingerprint,
            "claim": token,
            "held_until": now + hold_seconds,
            "expiration": now + ttl_seconds,
        }
        try:
            self.client.put_item(
                TableName=self.table,
                Item=to_item(item),
                ConditionExpression="attribute_not_exists(id) OR expiration <= :now "
                "OR (#status = :in_progress AND held_until <= :now)",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues=to_item({":now": now, ":in_progress": IN_PROGRESS}),
            )
            return Claim(record_id, token)
        except Exception as error:
            if aws_error_code(error) != "ConditionalCheckFailedException":
                raise
        stored = self.client.get_item(TableName=self.table, Key=to_item({"id": record_id}), ConsistentRead=True)
        record = from_item(stored.get("Item") or {})
        if not record:  # expired and removed between the two calls: a rare race, answered as in progress
            return Existing(IN_PROGRESS, fingerprint, None, None)
        return Existing(
            str(record.get("status")),
            str(record.get("fingerprint")),
            record.get("response"),
            record.get("key_id"),
            record.get("pepper_version"),
        )

    def completion_write(self, claim: Claim, response: dict[str, Any], key_id: str, pepper_version: str) -> Write:
        """Complete the claimed record with the (sealed) response, in the transaction that creates the key.
        `pepper_version` names the pepper the value was sealed under."""
        update = {
            "TableName": self.table,
            "Key": to_item({"id": claim.record_id}),
            "UpdateExpression": "SET #status = :completed, #response = :response, key_id = :key_id, "
            "pepper_version = :version REMOVE held_until",
            "ConditionExpression": "claim = :token",
            "ExpressionAttributeNames": {"#status": "status", "#response": "response"},
            "ExpressionAttributeValues": to_item(
                {
                    ":completed": COMPLETED,
                    ":response": response,
                    ":key_id": key_id,
                    ":token": claim.token,
                    ":version": pepper_version,
                }
            ),
        }
        return Write({"Update": update}, "idempotency")

    def answer_write(self, claim: Claim, response: dict[str, Any]) -> Write:
        """Complete the claimed record with an answer that holds no key value (a mass revocation's), in the
        transaction that makes the change it answers."""
        update = {
            "TableName": self.table,
            "Key": to_item({"id": claim.record_id}),
            "UpdateExpression": "SET #status = :completed, #response = :response REMOVE held_until",
            "ConditionExpression": "claim = :token",
            "ExpressionAttributeNames": {"#status": "status", "#response": "response"},
            "ExpressionAttributeValues": to_item(
                {":completed": COMPLETED, ":response": response, ":token": claim.token}
            ),
        }
        return Write({"Update": update}, "idempotency")

    def release(self, claim: Claim) -> None:
        """Give up a claim whose work failed, so a retry can run (only this request's own claim)."""
        conditional_write(
            self.client.delete_item,
            TableName=self.table,
            Key=to_item({"id": claim.record_id}),
            ConditionExpression="claim = :token AND #status = :in_progress",
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues=to_item({":token": claim.token, ":in_progress": IN_PROGRESS}),
        )

    def forget_response(self, record_id: str, key_id: str) -> None:
        """Drop the sealed response of a key that is no longer active (revoked, rolled): a replay then answers
        409 key_not_active. Only the record that created `key_id` is touched; a missing one is fine."""
        conditional_write(
            self.client.update_item,
            TableName=self.table,
            Key=to_item({"id": record_id}),
            UpdateExpression="REMOVE #response",
            ConditionExpression="key_id = :key_id",
            ExpressionAttributeNames={"#response": "response"},
            ExpressionAttributeValues=to_item({":key_id": key_id}),
        )
