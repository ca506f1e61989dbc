"""A stack in two regions, as the management API of the first answers: a key's audit merged from both regions'
audit tables and paged newest first, a region that fails named in the answer, usage added up, a guarded delete
refused for a use the other region saw, and a listing's last use from either region.

Both regions are moto's in-process mock: a boto3 client with another region_name reaches another region, so
the second region's audit table (built from the template's AuditTable, as the first's) shares nothing with the
first's. The keys table is a global table on AWS; here what the other region writes to it (its last use, its
authorizer's witness) is written by that region's store into the replica this region reads, as replication
would leave it.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import boto3
import botocore.client
import pytest
from botocore.exceptions import ClientError

from archie_keys.aws.audit_writer import AuditWriter
from archie_keys.aws.dynamo import Transactions
from archie_keys.aws.key_store import KeyStore
from archie_keys.domain.audit import hour_of
from archie_keys.edge import composition
from archie_local.template import REGION, load_template
from tests.support import env_path

OTHER = "eu-west-1"
KEYS = env_path("demo", "dev", "/keys")
VIEWER = {"permissions": [{"resource": "keys", "actions": ["read"]}]}


@pytest.fixture
def two_regions(aws: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """The stack's audit table made again in OTHER, and the stack told it runs in both regions."""
    table = aws.environment["AUDIT_TABLE"]
    props = load_template()["Resources"]["AuditTable"]["Properties"]
    client = boto3.client("dynamodb", region_name=OTHER)
    client.create_table(
        TableName=table,
        AttributeDefinitions=props["AttributeDefinitions"],
        KeySchema=props["KeySchema"],
        GlobalSecondaryIndexes=props["GlobalSecondaryIndexes"],
        BillingMode="PAY_PER_REQUEST",
    )
    monkeypatch.setenv("ARCHIE_REGIONS", f"{REGION},{OTHER}")
    monkeypatch.setenv("AUDIT_TABLES", f"{OTHER}={table}")
    composition.reset()
    yield AuditWriter(table, client, 90), client
    composition.reset()


@pytest.fixture
def key(api: Any, admin_key: str) -> dict[str, Any]:
    api("PUT", env_path("demo", "dev", "/roles/viewer"), admin_key, VIEWER)
    return dict(api("POST", KEYS, admin_key, {"name": "billing", "roles": ["viewer"]}).body)


def events_elsewhere(two_regions: Any, key_id: str, count: int) -> None:
    """`count` management events about the key, recorded by the other region (its audit table only)."""
    writer, client = two_regions
    for number in range(count):
        Transactions(client).commit([writer.event_write("key.updated", "demo", "dev", "admin", key_id, {"n": number})])
        time.sleep(0.002)  # distinct times: the order is what the test reads


def failing_region(monkeypatch: pytest.MonkeyPatch, region: str, table: str) -> None:
    """Every call of `region`'s clients to the audit table fails as an outage does (the keys table, which the
    authorizer reads, answers)."""
    original = botocore.client.BaseClient._make_api_call

    def call(client: Any, operation: str, params: dict[str, Any]) -> Any:
        if client.meta.region_name == region and params.get("TableName") == table:
            raise ClientError({"Error": {"Code": "InternalServerError", "Message": "region down"}}, operation)
        return original(client, operation, params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", call)


def every_page(api: Any, admin_key: str, path: str) -> list[dict[str, Any]]:
    pages, token = [], None
    while True:
        reply = api("GET", path + (f"&next_token={token}" if token else ""), admin_key)
        assert reply.status == 200, reply.body
        pages.append(reply.body)
        token = reply.body["next_token"]
        if token is None:
            return pages


def test_a_keys_audit_pages_newest_first_across_both_regions(api, admin_key, key, two_regions) -> None:
    # Given the key's creation here, then three changes of it recorded in the other region
    events_elsewhere(two_regions, key["key_id"], 3)
    # When its audit is read two records a page
    pages = every_page(api, admin_key, env_path("demo", "dev", f"/audit?key_id={key['key_id']}&limit=2"))
    records = [record for page in pages for record in page["records"]]
    # Then every record of both regions, once each, newest first, and no region missing
    assert [r["event"] for r in records] == ["key.updated"] * 3 + ["key.created"]
    assert [r["details"].get("n") for r in records[:3]] == [2, 1, 0]
    assert [r["time"] for r in records] == sorted((r["time"] for r in records), reverse=True)
    assert len(pages) == 2 and all("unavailable_regions" not in page for page in pages)


def test_a_region_that_fails_is_named_and_the_other_still_answers(
    api, admin_key, key, two_regions, monkeypatch
) -> None:
    events_elsewhere(two_regions, key["key_id"], 2)
    failing_region(monkeypatch, OTHER, two_regions[0].table)
    reply = api("GET", env_path("demo", "dev", f"/audit?key_id={key['key_id']}"), admin_key)
    assert reply.status == 200, reply.body
    assert reply.body["unavailable_regions"] == [OTHER]
    assert [r["event"] for r in reply.body["records"]] == ["key.created"]
    usage = api("GET", f"{KEYS}/{key['key_id']}/usage", admin_key)
    assert usage.status == 200 and usage.body["unavailable_regions"] == [OTHER]


def test_every_region_failing_is_a_503_with_retry_after(api, admin_key, key, two_regions, monkeypatch) -> None:
    failing_region(monkeypatch, OTHER, two_regions[0].table)
    failing_region(monkeypatch, REGION, two_regions[0].table)
    reply = api("GET", env_path("demo", "dev", f"/audit?key_id={key['key_id']}"), admin_key)
    assert reply.status == 503 and reply.body["code"] == "service_unavailable", reply.body
    assert "Retry-After" in reply.headers


def test_usage_adds_up_both_regions(api, admin_key, key, two_regions) -> None:
    writer, _ = two_regions
    here = AuditWriter(writer.table, boto3.client("dynamodb", region_name=REGION), 90)
    hour = hour_of(time.time())
    here.add_usage({("demo", "dev", key["key_id"], hour): {"allowed": 2, "refused": 1}})
    writer.add_usage({("demo", "dev", key["key_id"], hour): {"allowed": 5}})
    reply = api("GET", f"{KEYS}/{key['key_id']}/usage", admin_key)
    assert reply.status == 200, reply.body
    assert reply.body["hours"] == [{"hour": hour, "allowed": 7, "refused": 1, "requests": 8}]


def other_regions_store(aws: Any) -> KeyStore:
    """The other region's store, writing into the replica this region reads (as replication leaves it)."""
    return KeyStore(aws.environment["KEYS_TABLE"], boto3.client("dynamodb", region_name=REGION), OTHER)


def test_a_guarded_delete_refuses_a_key_the_other_region_used(aws, api, admin_key, key, two_regions) -> None:
    # Given the other region's compactor counted a use of the key 30 s ago (this region never saw it)
    moment = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(time.time() - 30))
    other_regions_store(aws).touch_last_used("demo", "dev", key["key_id"], moment)
    # Then a delete unless unused for 10 minutes refuses it, and the listing shows that use
    reply = api("DELETE", f"{KEYS}/{key['key_id']}?if_unused_for=600", admin_key)
    assert reply.status == 409 and reply.body["code"] == "key_in_use", reply.body
    listed = api("GET", KEYS, admin_key).body["keys"]
    assert [k["last_used_at"] for k in listed if k["key_id"] == key["key_id"]] == [moment]


def test_a_guarded_delete_refuses_a_key_the_other_regions_authorizer_just_let_through(
    aws, api, admin_key, key, two_regions
) -> None:
    # Given the other region's authorizer recorded the key authorized a moment ago (nothing counted it yet)
    other_regions_store(aws).record_authorization("demo", "dev", key["key_id"], time.time() - 1)
    reply = api("DELETE", f"{KEYS}/{key['key_id']}?if_unused_for=600", admin_key)
    assert reply.status == 409 and reply.body["code"] == "key_in_use", reply.body
    assert api("GET", f"{KEYS}/{key['key_id']}", admin_key).body["status"] == "active"
