"""The local stack's moto rolls back a cancelled transaction item by item (archie_local.moto_transactions):
every write of it undone, nothing else touched, whatever the table's size."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError


@pytest.fixture
def table(aws: Any) -> str:
    client = boto3.client("dynamodb")
    client.create_table(
        TableName="journal",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )
    for sk in ("kept", "updated", "deleted"):
        client.put_item(TableName="journal", Item={"pk": {"S": "p"}, "sk": {"S": sk}, "v": {"S": "before"}})
    return "journal"


def items(table: str) -> dict[str, str]:
    found = boto3.client("dynamodb").scan(TableName=table)["Items"]
    return {item["sk"]["S"]: item["v"]["S"] for item in found}


def stream_records(table: str) -> int:
    from moto.dynamodb.models import dynamodb_backends

    backend = dynamodb_backends["123456789012"]["us-east-1"]
    return len(backend.get_table(table).stream_shard.items)


def test_a_cancelled_transaction_leaves_every_item_and_stream_as_it_was(table: str) -> None:
    before, records = items(table), stream_records(table)
    with pytest.raises(ClientError) as cancelled:
        boto3.client("dynamodb").transact_write_items(
            TransactItems=[
                {"Put": {"TableName": table, "Item": {"pk": {"S": "p"}, "sk": {"S": "new"}, "v": {"S": "x"}}}},
                {
                    "Update": {
                        "TableName": table,
                        "Key": {"pk": {"S": "p"}, "sk": {"S": "updated"}},
                        "UpdateExpression": "SET v = :v",
                        "ExpressionAttributeValues": {":v": {"S": "after"}},
                    }
                },
                {"Delete": {"TableName": table, "Key": {"pk": {"S": "p"}, "sk": {"S": "deleted"}}}},
                {
                    "ConditionCheck": {
                        "TableName": table,
                        "Key": {"pk": {"S": "p"}, "sk": {"S": "absent"}},
                        "ConditionExpression": "attribute_exists(pk)",
                    }
                },
            ]
        )
    assert cancelled.value.response["Error"]["Code"] == "TransactionCanceledException"
    assert items(table) == before
    assert stream_records(table) == records


def test_a_committed_transaction_writes_every_item(table: str) -> None:
    boto3.client("dynamodb").transact_write_items(
        TransactItems=[
            {"Put": {"TableName": table, "Item": {"pk": {"S": "p"}, "sk": {"S": "new"}, "v": {"S": "x"}}}},
            {"Delete": {"TableName": table, "Key": {"pk": {"S": "p"}, "sk": {"S": "deleted"}}}},
        ]
    )
    assert items(table) == {"kept": "before", "updated": "before", "new": "x"}
