"""Reading the audit trail: sharded index queries merged newest first, and a key's hourly usage.

A page reads AUDIT_SHARDS index queries of at most `limit + 1` items each, however many records the key has.
"""

from __future__ import annotations

import base64
import heapq
import time
from typing import Any

from archie_keys.aws.audit_writer import AUDIT_SHARDS, INDEX_BY_ACTOR, INDEX_BY_ENV, INDEX_BY_KEY, bucket
from archie_keys.aws.dynamo import from_item, to_item
from archie_keys.domain.audit import hour_of
from archie_keys.domain.clock import from_iso, to_iso
from archie_keys.domain.errors import ValidationFailedError


class AuditReader:
    def __init__(self, table: str, client: Any) -> None:
        self.table = table
        self.client = client

    def query(
        self,
        project: str,
        environment: str,
        key_id: str | None,
        actor_key_id: str | None,
        since: str | None,
        until: str | None,
        limit: int,
        next_token: str | None,
    ) -> tuple[list[dict[str, Any]], str | None]:
        """Newest first. One Query per shard of `limit + 1` items at most: the cost of a page does not grow
        with the number of records."""
        lower = _bound(since, "since") or "0000"
        until_bound = _bound(until, "until")
        # "#~" sorts after every "#<id>", so a record at exactly `until` is included.
        upper = f"{until_bound}#~" if until_bound else "9999"
        if next_token:
            upper = _decode_cursor(next_token)
        if key_id:
            index, attribute, prefix = INDEX_BY_KEY, "key_bucket", bucket(project, environment, key_id)
        elif actor_key_id:
            index, attribute, prefix = INDEX_BY_ACTOR, "actor_bucket", bucket(project, environment, actor_key_id)
        else:
            index, attribute, prefix = INDEX_BY_ENV, "env_bucket", bucket(project, environment)
        now = time.time()
        streams = []
        for shard in range(AUDIT_SHARDS):
            response = self.client.query(
                TableName=self.table,
                IndexName=index,
                KeyConditionExpression="#b = :b AND #at BETWEEN :lower AND :upper",
                ExpressionAttributeNames={"#b": attribute, "#at": "at"},
                ExpressionAttributeValues=to_item({":b": f"{prefix}#{shard}", ":lower": lower, ":upper": upper}),
                ScanIndexForward=False,
                Limit=limit + 1,
            )
            streams.append([from_item(i) for i in response.get("Items", [])])
        merged = heapq.merge(*streams, key=lambda item: item["at"], reverse=True)
        page: list[dict[str, Any]] = []
        more = False
        for item in merged:
            if next_token and item["at"] == upper:
                continue  # the cursor's own record was the last of the previous page
            if item.get("purge_epoch", now + 1) <= now:
                continue  # past retention: TTL deletes it eventually, reads never show it
            if actor_key_id and key_id and item.get("actor_key_id") != actor_key_id:
                continue
            if len(page) == limit:
                more = True
                break
            page.append(item)
        cursor = _encode_cursor(page[-1]["at"]) if more and page else None
        return [audit_view(item) for item in page], cursor

    def usage(self, project: str, environment: str, key_id: str, since_epoch: float) -> list[dict[str, Any]]:
        response = self.client.query(
            TableName=self.table,
            KeyConditionExpression="pk = :pk AND sk >= :since",
            ExpressionAttributeValues=to_item(
                {":pk": f"USAGE#{project}#{environment}#{key_id}", ":since": hour_of(since_epoch)}
            ),
        )
        return [
            {
                "hour": i["sk"],
                "allowed": int(i.get("allowed", 0)),
                "refused": int(i.get("refused", 0)),
                "requests": int(i.get("allowed", 0)) + int(i.get("refused", 0)),
            }
            for i in (from_item(item) for item in response.get("Items", []))
        ]


def audit_view(item: dict[str, Any]) -> dict[str, Any]:
    hidden = {"pk", "sk", "key_bucket", "actor_bucket", "env_bucket", "at", "purge_epoch"}
    view = {k: v for k, v in item.items() if k not in hidden}
    view["id"] = item["pk"].split("#", 1)[1]
    return view


def _bound(value: str | None, field_name: str) -> str | None:
    if not value:
        return None
    try:
        return to_iso(from_iso(value))
    except ValueError:
        raise ValidationFailedError(f"{field_name} must be an ISO 8601 time", field=field_name) from None


def _encode_cursor(at: str) -> str:
    return base64.urlsafe_b64encode(at.encode()).decode().rstrip("=")


def _decode_cursor(token: str) -> str:
    try:
        decoded = base64.urlsafe_b64decode((token + "=" * (-len(token) % 4)).encode()).decode()
        if "#" not in decoded:
            raise ValueError
        return decoded
    except (ValueError, UnicodeDecodeError):
        raise ValidationFailedError("next_token is not a token this listing gave", field="next_token") from None
