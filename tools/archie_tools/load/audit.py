"""How many audit records each request got: read straight from the audit table, not through the API (whose
pages and filters are what the count checks). A request is found by its extended request id (API Gateway's
`x-amz-apigw-id`, the record's id): in an environment block's records, or as a single item (how records
were stored before blocks; counted so that a change of layout never hides a record)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

import boto3

from archie_keys.aws.audit_blocks import ENV_BLOCK_PREFIX, block_records_of
from archie_keys.aws.dynamo import from_item


def records_by_request(table: str) -> tuple[Counter[str], dict[str, int]]:
    """(how many records each request id has, the status recorded for each) over the whole table."""
    client = boto3.client("dynamodb")
    counts: Counter[str] = Counter()
    statuses: dict[str, int] = {}
    kwargs: dict[str, Any] = {"TableName": table}
    while True:
        page = client.scan(**kwargs)
        for item in page["Items"]:
            pk = item["pk"]["S"]
            if pk.startswith(ENV_BLOCK_PREFIX):
                for record in block_records_of(from_item(item)):
                    counts[record["id"]] += 1
                    statuses[record["id"]] = int(record["status"])
            elif pk.startswith("REQ#") and "status" in item:
                counts[pk[4:]] += 1
                statuses[pk[4:]] = int(item["status"]["N"])
        if "LastEvaluatedKey" not in page:
            return counts, statuses
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def audit_check(records: tuple[Counter[str], dict[str, int]], answered: Iterable[tuple[str, int]]) -> dict[str, int]:
    """For the answered requests (request id, status the client got) and the table's `records_by_request`:
    how many have exactly one record (`audited`), how many do not (`lost`: none, or more than one), and how
    many records say another status than the client got."""
    counts, statuses = records
    audited = lost = duplicated = mismatched = 0
    for request_id, status in answered:
        found = counts.get(request_id, 0)
        if found == 1:
            audited += 1
            mismatched += statuses[request_id] != status
        else:
            lost += 1
            duplicated += found > 1
    return {"audited": audited, "lost": lost, "audit_duplicated": duplicated, "audit_status_mismatch": mismatched}
