"""The authorizer's decision of a key, on the fakes (the key verifier of tests/fakes/services.py): what API
Gateway gets back for a refused key (an explicit Deny of the whole stage whose context names the key and the
reason, attributed only when the secret was proven), for a request whose Authorization headers disagree or
are not text (401, never a 503), and the usage plan an Allow draws on. Each test starts as a cold instance:
nothing memoised from an earlier one. tests/component runs the same function through the template's gateway."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from archie_keys.app.commands import RollKey
from archie_keys.app.revocation import revoke_key
from archie_keys.app.rotation import roll_key
from archie_keys.domain.rate_limits import Limits
from archie_keys.edge import authorizer
from archie_local.authorization import policy_allows
from tests.fakes.services import FakeServices
from tests.logic.conftest import PLACE, READER, new_key, role

STAGE = "arn:aws:execute-api:us-east-1:123456789012:orders0001/dev"
ON_STAGE = {"project": PLACE.project, "environment": PLACE.environment}
STACK = "archie-stack"
UNAUTHORIZED = "401"


@pytest.fixture(autouse=True)
def cold_instance(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A fresh Lambda instance: the Deny policies memoised per stage start empty."""
    monkeypatch.setattr(authorizer, "_DENIALS", {})
    yield


def decide(services: FakeServices, headers: Any, multi: Any = None, **fields: Any) -> Any:
    """The authorizer's answer for GET /orders on the protected stage, or UNAUTHORIZED (API Gateway's 401)."""
    event = {
        "type": "REQUEST",
        "methodArn": f"{STAGE}/GET/orders",
        "headers": headers,
        "multiValueHeaders": multi,
        "stageVariables": {**ON_STAGE, **fields.pop("stage", {})},
        "requestContext": {"requestId": "req-1", "identity": {"sourceIp": fields.pop("source_ip", "198.51.100.7")}},
    }
    namespace, decisions = fields.pop("usage_namespace", STACK), fields.pop("decisions", None)
    try:
        return authorizer.authorize(event, services.verifier, decisions, namespace, fields.pop("witness", None))
    except authorizer.Unauthorized:
        return UNAUTHORIZED


def bearer(value: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {value}"}


def denial(answer: Any) -> dict[str, Any]:
    """An explicit Deny of every route of the stage: its principal and context (what the access log records)."""
    assert answer["policyDocument"]["Statement"] == [
        {"Action": "execute-api:Invoke", "Effect": "Deny", "Resource": f"{STAGE}/*"}
    ]
    assert not policy_allows(answer["policyDocument"], f"{STAGE}/GET/orders")
    return {"principal": answer["principalId"], **answer["context"]}


@pytest.fixture
def reader(services: FakeServices, admin) -> Any:
    role(services, admin, "reader", [*READER, {"resource": "orders", "actions": ["read"], "filters": {}}])
    return new_key(services, admin, "ci", ["reader"])


def test_a_revoked_key_is_denied_on_the_whole_stage_attributed_to_the_key(services, admin, reader) -> None:
    key_id = reader.record.key_id
    assert policy_allows(decide(services, bearer(reader.value))["policyDocument"], f"{STAGE}/GET/orders")
    revoke_key(services, admin, PLACE, key_id)

    for _ in range(2):  # the Deny memoised for the stage is the same Deny
        answer = decide(services, bearer(reader.value))
        assert denial(answer) == {"principal": key_id, "refusal": "revoked", "key_id": key_id, **ON_STAGE}


def test_a_key_used_from_outside_its_networks_is_denied_attributed_to_the_key(services, admin) -> None:
    role(services, admin, "reader", [{"resource": "orders", "actions": ["read"], "filters": {}}])
    made = new_key(services, admin, "office", ["reader"], allowed_cidrs=("203.0.113.0/24",))
    key_id, cached_per_address = made.record.key_id, {"source_ip_in_cache_key": "true"}

    inside = decide(services, bearer(made.value), stage=cached_per_address, source_ip="203.0.113.9")
    outside = decide(services, bearer(made.value), stage=cached_per_address)
    shared_cache = decide(services, bearer(made.value), source_ip="203.0.113.9")

    assert policy_allows(inside["policyDocument"], f"{STAGE}/GET/orders")
    proven = {"principal": key_id, "key_id": key_id, **ON_STAGE}
    assert denial(outside) == {"refusal": "source_ip_not_allowed", **proven}
    assert denial(shared_cache) == {"refusal": "source_ip_not_cache_keyed", **proven}


def test_a_key_whose_secret_is_not_proven_is_only_claimed_by_a_refused_principal(services, reader) -> None:
    body = reader.value[:-28]
    wrong = body + "A" * 22
    from archie_keys.domain.keyformat import checksum, parse_key

    forged = wrong + checksum(wrong)
    claimed = parse_key(forged).key_id

    assert denial(decide(services, bearer(forged))) == {
        "principal": "refused",
        "refusal": "not_found",
        "claimed_key_id": claimed,
        **ON_STAGE,
    }


@pytest.mark.parametrize(
    "multi",
    [
        {"Authorization": ["Bearer {key}", "Bearer {key}x"]},  # the cache is keyed on one, `headers` has another
        {"Authorization": ["Bearer {key}"], "authorization": ["Bearer {key}"]},
        {"Authorization": None},
        {"Authorization": "Bearer {key}"},  # not a list: not what API Gateway sends
    ],
)
def test_authorization_headers_that_disagree_or_are_not_a_list_are_a_401(services, reader, multi) -> None:
    filled = {
        name: [v.format(key=reader.value) for v in value] if isinstance(value, list) else value
        for name, value in multi.items()
    }
    filled = {n: v.format(key=reader.value) if isinstance(v, str) else v for n, v in filled.items()}

    assert decide(services, bearer(reader.value), filled) == UNAUTHORIZED
    assert decide(services, bearer(reader.value), {"Authorization": [f"Bearer {reader.value}"]})["principalId"]


@pytest.mark.parametrize("value", [None, 42, ["Bearer x"], {"Bearer": "x"}])
def test_an_authorization_header_that_is_not_text_is_a_401_not_a_failure(services, value) -> None:
    assert decide(services, {"Authorization": value}) == UNAUTHORIZED
    assert decide(services, {"Authorization": value}, {"Authorization": [value]}) == UNAUTHORIZED


def test_a_key_with_limits_draws_on_its_own_plan_shared_with_its_successor(services, admin) -> None:
    role(services, admin, "reader", [{"resource": "orders", "actions": ["read"], "filters": {}}])
    metered = new_key(services, admin, "metered", ["reader"], limits=Limits(5, 10))
    other = new_key(services, admin, "other", ["reader"], limits=Limits(5, 10))
    free = new_key(services, admin, "free", ["reader"])
    successor, _, _ = roll_key(services, admin, RollKey(PLACE, metered.record.key_id, grace_seconds=600))

    plans = {
        name: decide(services, bearer(made.value))["usageIdentifierKey"]
        for name, made in (("metered", metered), ("successor", successor), ("other", other), ("free", free))
    }

    assert plans["successor"] == plans["metered"]
    assert len({plans["metered"], plans["other"], plans["free"]}) == 3
    assert plans["free"] == "akunlimitedusagekeyarchiestack"  # template.yaml's UnlimitedApiKey
    assert "usageIdentifierKey" not in decide(services, bearer(metered.value), usage_namespace=None)


def test_a_failure_while_deciding_says_so_and_is_never_a_401(services, reader, monkeypatch) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("DynamoDB is down")

    monkeypatch.setattr(services.store, "get_key", broken)

    with pytest.raises(authorizer.Undecided) as failed:
        decide(services, bearer(reader.value))
    # Lambda's error line, which API Gateway turns into a 503 (AUTHORIZER_FAILURE), tells the operator why.
    assert str(failed.value) == "the key could not be checked now"


def test_a_stage_with_one_of_its_two_variables_serves_no_key_and_the_log_says_why(services, reader) -> None:
    """The operator's mistake, not the key's: undecided (503, the error alarm), and the log line names it."""
    failures: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = failures.append  # type: ignore[method-assign]
    logging.getLogger(authorizer.AUTHORIZER_LOGGER).addHandler(handler)
    try:
        for stage in ({"project": PLACE.project}, {"environment": PLACE.environment}):
            event = {
                "methodArn": f"{STAGE}/GET/orders",
                "headers": bearer(reader.value),
                "stageVariables": stage,
                "requestContext": {"extendedRequestId": "ext-1="},
            }
            with pytest.raises(authorizer.Undecided):
                authorizer.authorize(event, services.verifier)
    finally:
        logging.getLogger(authorizer.AUTHORIZER_LOGGER).removeHandler(handler)

    assert [(r.getMessage(), str(r.exc_info[1]) if r.exc_info else None) for r in failures] == 2 * [
        ("key not decided", "a protected stage must set both the project and environment stage variables")
    ]


def test_only_an_environments_bootstrap_key_pages_when_accepted(services, reader) -> None:
    """Break-glass: the bootstrap admin key's every accepted use is a BootstrapKeyUsed line naming the key and
    its environment (its alarm pages); any other key's Allow writes no line at all."""
    from archie_keys.app.bootstrap import bootstrap
    from archie_keys.app.commands import Place
    from archie_keys.aws.metrics import DecisionMetrics, MetricLines
    from archie_keys.domain.keyformat import parse_key

    lines: list[str] = []
    decisions = DecisionMetrics(MetricLines("ArchieKeys", STACK, write=lines.append))
    break_glass = bootstrap(services, Place(PLACE.project, "qa")).value
    qa = {"project": PLACE.project, "environment": "qa"}

    assert decide(services, bearer(reader.value), decisions=decisions)["principalId"]
    assert lines == []
    assert decide(services, bearer(break_glass), decisions=decisions, stage=qa)["principalId"]
    (line,) = [json.loads(text) for text in lines]
    assert (line["BootstrapKeyUsed"], line["key_id"], line["project"], line["environment"]) == (
        1,
        parse_key(break_glass).key_id,
        PLACE.project,
        "qa",
    )


def test_an_allow_is_recorded_on_the_keys_own_place_before_it_is_given(services, admin, reader) -> None:
    """What a guarded delete reads to refuse deleting a key in use (app.authorization_witness): recorded for
    the key that was allowed, in its environment; a refused key records nothing."""
    from archie_keys.app.authorization_witness import AuthorizationWitness

    witness = AuthorizationWitness(services.store, 60.0, services.clock)
    other = new_key(services, admin, "other", ["reader"])
    revoke_key(services, admin, PLACE, other.record.key_id)

    assert decide(services, bearer(reader.value), witness=witness)["principalId"] == reader.record.key_id
    assert denial(decide(services, bearer(other.value), witness=witness))["refusal"] == "revoked"

    last = services.store.last_authorization
    assert last(PLACE.project, PLACE.environment, reader.record.key_id) == services.clock()
    assert last(PLACE.project, PLACE.environment, other.record.key_id) is None
