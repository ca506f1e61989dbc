"""Where refused requests are recorded, and for whom: attacks from the second trust review.

Through the local API Gateway with its result cache on, the real authorizer and the real ingest: a refused
key's cached Deny keeps every later request attributed to it; a token naming another environment, or a key
id with a wrong secret, is recorded where it was sent and counted for no key."""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from typing import Any

import pytest

from archie_keys.domain.keyformat import checksum
from archie_keys.edge import composition
from archie_keys.edge.composition import get_services
from archie_local.lambdas import FunctionRegistry
from archie_local.logs import encode_subscription
from tests.conftest import InProcessApi
from tests.support import compact, env_path

ORDERS = "/orders/42"


@dataclass
class Gateways:
    management: InProcessApi
    sample: InProcessApi
    authorizer_calls: list[dict[str, Any]]
    access_log: list[str]
    functions: Any

    def ingest(self) -> None:
        """Deliver the access-log lines written so far to the audit, as CloudWatch Logs would, then compact."""
        lines, self.access_log[:] = list(self.access_log), []
        events = [{"id": str(i), "timestamp": int(time.time() * 1000), "message": m} for i, m in enumerate(lines)]
        payload = {"messageType": "DATA_MESSAGE", "logGroup": "access", "logEvents": events}
        FunctionRegistry(self.functions)["AuditIngestFunction"].invoke(encode_subscription(payload))
        compact()


@pytest.fixture
def gateways(aws: Any, monkeypatch: pytest.MonkeyPatch) -> Gateways:
    """The management and sample APIs with API Gateway's result cache on (ReauthorizeEvery 300 s), the
    sample stage registered for demo/dev, and every access-log line kept."""
    from archie_local.gateway import Gateway
    from archie_local.routing import build_apis
    from archie_local.template import load_template

    built = build_apis(load_template(), aws.resolver, FunctionRegistry(aws.functions))
    calls: list[dict[str, Any]] = []
    log: list[str] = []
    for api in built.values():
        assert api.authorizer is not None
        api.authorizer.ttl_seconds = 300
        inner = api.authorizer.function

        class Counting:
            spec = inner.spec

            def invoke(self, event: dict[str, Any], _inner: Any = inner) -> Any:
                calls.append(event)
                return _inner.invoke(event)

        api.authorizer.function = Counting()  # type: ignore[assignment]
    sample = built["SampleApi"]
    monkeypatch.setenv("FLUSH_TARGETS", f"{sample.api_id}/{sample.stage}/demo/dev")
    composition.reset()

    def sink(_api: Any, line: str) -> None:
        log.append(line)

    management = InProcessApi(Gateway(built["ManagementApi"], sink))
    return Gateways(management, InProcessApi(Gateway(sample, sink)), calls, log, aws.functions)


def orders_role(api: InProcessApi, admin_key: str, environment: str = "dev") -> None:
    role = {"permissions": [{"resource": "orders", "actions": ["read"]}]}
    assert api("PUT", env_path("demo", environment, "/roles/orders"), admin_key, role).status == 201


def new_key(api: InProcessApi, admin_key: str, environment: str = "dev") -> dict[str, Any]:
    reply = api("POST", env_path("demo", environment, "/keys"), admin_key, {"name": "svc", "roles": ["orders"]})
    assert reply.status == 201, reply.body
    return dict(reply.body)


def audit(api: InProcessApi, admin_key: str, environment: str = "dev", query: str = "") -> list[dict[str, Any]]:
    reply = api("GET", env_path("demo", environment, f"/audit?kind=request&limit=100{query}"), admin_key)
    assert reply.status == 200, reply.body
    return list(reply.body["records"])


def usage(key_id: str, environment: str = "dev") -> tuple[int, int]:
    hours = get_services().audit_reader.usage("demo", environment, key_id, time.time() - 3600)
    return sum(h.allowed for h in hours), sum(h.refused for h in hours)


def test_every_request_of_a_revoked_key_served_from_the_gateways_cache_is_in_its_audit(
    gateways: Gateways, admin_key: str
) -> None:
    # Given a key in use, revoked in the table without a flush (a gateway cache that still holds its answer
    # is the case the flush exists for; here the authorizer decides and API Gateway caches its refusal)
    orders_role(gateways.management, admin_key)
    key = new_key(gateways.management, admin_key)
    store = get_services().store
    record = store.get_key("demo", "dev", key["key_id"])
    get_services().transactions.commit(store.key_revoke_writes(record, "2026-01-01T00:00:00Z", "test", 0))
    get_services().verifier.clear()
    gateways.access_log.clear()
    calls_before = len(gateways.authorizer_calls)
    # When a forgotten consumer keeps calling with it
    answers = [gateways.sample("GET", ORDERS, key["key"]).status for _ in range(5)]
    # Then API Gateway answered from its cache after the first refusal...
    assert answers == [403] * 5
    assert len(gateways.authorizer_calls) - calls_before == 1
    # ...and every one of those requests is in the key's audit and usage, with why it was refused
    gateways.ingest()
    mine = audit(gateways.management, admin_key, query=f"&key_id={key['key_id']}")
    assert len(mine) == 5 and {(r["status"], r["reason"]) for r in mine} == {(403, "revoked")}
    assert usage(key["key_id"]) == (0, 5)


def test_a_token_naming_another_environment_is_recorded_where_it_was_sent_and_counts_for_no_key(
    gateways: Gateways, admin_key: str, bootstrap: Any
) -> None:
    # Given a real key of demo/prod (anyone can also compute a checksum-valid one: CRC32 is public)
    prod_admin = bootstrap("demo", "prod")
    orders_role(gateways.management, prod_admin, "prod")
    prod_key = new_key(gateways.management, prod_admin, "prod")
    gateways.access_log.clear()
    # When it is presented to demo/dev's protected API, and its management API
    assert gateways.sample("GET", ORDERS, prod_key["key"]).status == 403
    assert gateways.management("GET", env_path("demo", "dev", "/keys"), prod_key["key"]).status == 403
    gateways.ingest()
    # Then demo/dev's audit holds both, as what they are: the id only claimed, the reason wrong_environment
    probed = [r for r in audit(gateways.management, admin_key) if r.get("claimed_key_id") == prod_key["key_id"]]
    assert len(probed) == 2
    assert all(r["reason"] == "wrong_environment" and r.get("key_id") is None for r in probed)
    # And demo/prod's audit has none of them, nor does the key's usage count them
    assert audit(gateways.management, prod_admin, "prod", f"&key_id={prod_key['key_id']}") == []
    assert usage(prod_key["key_id"], "prod") == (0, 0)


def test_a_key_id_presented_with_a_wrong_secret_pads_no_trail(gateways: Gateways, admin_key: str) -> None:
    # Given a live key whose id is public (it is in every record and answer)
    orders_role(gateways.management, admin_key)
    key = new_key(gateways.management, admin_key)
    assert gateways.sample("GET", ORDERS, key["key"]).status == 200
    # When someone presents its id with secrets of their own, many times
    body = key["key"][:-28]
    for _ in range(4):
        forged = body + uuid.uuid4().hex[:22].ljust(22, "x")
        assert gateways.sample("GET", ORDERS, forged + checksum(forged)).status == 403
    gateways.ingest()
    # Then the key's own audit and usage show only its own request; the others are in the environment's
    # audit with the id as claimed, refused as not_found
    mine = audit(gateways.management, admin_key, query=f"&key_id={key['key_id']}")
    assert [r["status"] for r in mine] == [200]
    assert usage(key["key_id"]) == (1, 0)
    claimed = [r for r in audit(gateways.management, admin_key) if r.get("claimed_key_id") == key["key_id"]]
    assert len(claimed) == 4 and {r["reason"] for r in claimed} == {"not_found"}


def test_a_refusal_names_its_key_in_the_access_log_but_never_its_secret(gateways: Gateways, admin_key: str) -> None:
    orders_role(gateways.management, admin_key)
    key = new_key(gateways.management, admin_key)
    revoked = gateways.management("DELETE", env_path("demo", "dev", f"/keys/{key['key_id']}"), admin_key)
    assert revoked.status in (202, 204)  # 202: no control plane in-process to flush the sample stage
    gateways.access_log.clear()
    assert gateways.sample("GET", ORDERS, key["key"]).status == 403
    (line,) = [json.loads(line) for line in gateways.access_log]
    assert (line["key_id"], line["refusal"], line["status"]) == (key["key_id"], "revoked", "403")
    assert key["key"][-28:] not in json.dumps(line)


def from_address(gateways: Gateways, key: str, source_ip: str) -> int:
    from archie_local.http_server import HttpRequest

    request = HttpRequest("GET", ORDERS, {}, [("Authorization", f"Bearer {key}")], b"", source_ip)
    return gateways.sample.gateway.handle(request).status


def test_a_key_used_from_outside_its_allow_list_is_refused_in_its_own_audit_and_the_cache_never_lends_an_allow(
    gateways: Gateways, admin_key: str
) -> None:
    # Given a key allowed from 10.0.0.0/8, on a stage whose cache is keyed on the source address
    orders_role(gateways.management, admin_key)
    body = {"name": "office", "roles": ["orders"], "allowed_cidrs": ["10.0.0.0/8"]}
    key = gateways.management("POST", env_path("demo", "dev", "/keys"), admin_key, body).body
    gateways.access_log.clear()
    # When it is used from inside its range, then from outside, then inside again (the cache on, 300 s)
    answers = [from_address(gateways, key["key"], ip) for ip in ("10.1.2.3", "192.0.2.1", "10.1.2.3", "192.0.2.1")]
    # Then the Allow cached for 10.1.2.3 never answered 192.0.2.1...
    assert answers == [200, 403, 200, 403]
    # ...and the refusals are the key's own, proven, with why
    gateways.ingest()
    mine = audit(gateways.management, admin_key, query=f"&key_id={key['key_id']}")
    assert sorted((r["status"], r.get("reason")) for r in mine) == [
        (200, None),
        (200, None),
        (403, "source_ip_not_allowed"),
        (403, "source_ip_not_allowed"),
    ]
    assert usage(key["key_id"]) == (2, 2)
