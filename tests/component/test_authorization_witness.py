"""The authorizer as witness: a guarded delete proven on AWS too, where no log delivery attests the audit.

The rule (domain.authorization_witness) at its boundaries; the authorizer's coalesced, monotonic record of
each Allow; and, in-process with the deployed setting (no trusted deliverer, so the audit proves nothing): a
key authorized then idle past the bound is deleted 204, one authorized within it never is, and a witness that
cannot be written or read refuses (503) with nothing changed.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from archie_keys.app.authorization_witness import AuthorizationWitness
from archie_keys.domain import limits
from archie_keys.domain.authorization_witness import (
    LONGEST_GUARD_WINDOW_SECONDS,
    WITNESS_RETENTION_SECONDS,
    WitnessBounds,
    idle_bound,
    proves_idle,
    recording_due,
)
from tests.support import env_path

KEYS = env_path("demo", "dev", "/keys")
WHOAMI = env_path("demo", "dev", "/whoami")

# As deployed: API Gateway caches 300 s, one write per 60 s, an answer at most 10 s after its write.
DEPLOYED = WitnessBounds(result_ttl_seconds=300, coalesce_seconds=60, answer_seconds=10, in_force_since=0)
T = 1_800_000_000.0  # the DELETE's arrival
N = 600  # if_unused_for


# --- the rule ------------------------------------------------------------------------------------------------


def test_the_last_authorization_must_be_older_than_the_window_plus_ttl_coalescing_and_answer() -> None:
    bound = T - N - 300 - 60 - 10
    assert idle_bound(T, N, DEPLOYED) == bound
    assert proves_idle(bound - 0.001, T, N, DEPLOYED)
    # At the bound: an unrecorded authorization up to 60 s later, answered 10 s later and cached 300 s,
    # could have served a request at T - N exactly, which is outside the window, but the rule is strict.
    assert not proves_idle(bound, T, N, DEPLOYED)
    assert not proves_idle(bound + 1, T, N, DEPLOYED)
    assert not proves_idle(T - 1, T, N, DEPLOYED)


def test_a_key_never_recorded_is_idle_only_when_the_witness_was_in_force_before_the_bound() -> None:
    bound = T - N - DEPLOYED.reach
    assert proves_idle(None, T, N, DEPLOYED)
    in_force_at_bound = WitnessBounds(300, 60, 10, in_force_since=bound)
    assert proves_idle(None, T, N, in_force_at_bound)
    in_force_after_bound = WitnessBounds(300, 60, 10, in_force_since=bound + 0.001)
    assert idle_bound(T, N, in_force_after_bound) is None
    assert not proves_idle(None, T, N, in_force_after_bound)
    assert not proves_idle(bound - 3600, T, N, in_force_after_bound)
    not_in_force = WitnessBounds(300, 60, 10, in_force_since=None)
    assert not proves_idle(None, T, N, not_in_force) and not proves_idle(0.0, T, N, not_in_force)


def test_each_setting_widens_the_bound_by_itself() -> None:
    for wider in (WitnessBounds(301, 60, 10, 0), WitnessBounds(300, 61, 10, 0), WitnessBounds(300, 60, 11, 0)):
        recorded = T - N - DEPLOYED.reach - 0.5
        assert proves_idle(recorded, T, N, DEPLOYED) and not proves_idle(recorded, T, N, wider)


def test_a_purged_witness_never_hides_an_authorization_a_guard_can_ask_about() -> None:
    assert WITNESS_RETENTION_SECONDS > LONGEST_GUARD_WINDOW_SECONDS + 3600 + 3600 + 900  # TTL, coalescing, answer
    from tests.component.test_openapi import DOCUMENT

    document = json.loads(DOCUMENT.read_text())
    delete = document["paths"]["/projects/{project}/environments/{environment}/keys/{key_id}"]["delete"]
    (window,) = [p for p in delete["parameters"] if p["name"] == "if_unused_for"]
    # The longest window the API accepts: seven digits.
    assert (
        window["schema"]["anyOf"][0]["pattern"] == "^[1-9][0-9]{0,6}$" and int("9" * 7) == LONGEST_GUARD_WINDOW_SECONDS
    )


def test_recording_is_due_once_per_interval_and_after_a_clock_step_back() -> None:
    assert recording_due(None, 100.0, 60)
    assert not recording_due(100.0, 100.0, 60) and not recording_due(100.0, 159.999, 60)
    assert recording_due(100.0, 160.0, 60)
    assert recording_due(100.0, 99.0, 60)


def test_the_answer_bound_covers_the_authorizers_timeout() -> None:
    from archie_local.template import load_template

    template = load_template()
    variables = template["Globals"]["Function"]["Environment"]["Variables"]
    authorizer = template["Resources"]["AuthorizerFunction"]["Properties"]
    timeout = authorizer.get("Timeout", template["Globals"]["Function"]["Timeout"])
    assert float(variables["AUTHORIZER_ANSWER_SECONDS"]) >= timeout
    assert variables["AUTHORIZER_RESULT_TTL_SECONDS"] == {"Ref": "AuthorizerResultTtl"}


def test_no_api_of_the_stack_caches_an_answer_longer_than_the_bound() -> None:
    from archie_local.template import load_template

    def ttls(node: Any) -> list[Any]:
        if isinstance(node, dict):
            found = [node["ReauthorizeEvery"]] if "ReauthorizeEvery" in node else []
            found += [node["AuthorizerResultTtlInSeconds"]] if "AuthorizerResultTtlInSeconds" in node else []
            return found + [ttl for value in node.values() for ttl in ttls(value)]
        if isinstance(node, list):
            return [ttl for value in node for ttl in ttls(value)]
        return []

    found = ttls(load_template()["Resources"])
    assert len(found) >= 2 and all(ttl == {"Ref": "AuthorizerResultTtl"} for ttl in found), found


# --- the authorizer's record ---------------------------------------------------------------------------------


class Records:
    """An in-memory stand-in for the key table's witness items, to count writes and make them fail."""

    def __init__(self) -> None:
        self.writes: list[tuple[str, str, str, float]] = []
        self.failing = False

    def record_authorization(self, project: str, environment: str, key_id: str, at: float) -> None:
        if self.failing:
            raise ConnectionError("DynamoDB is unreachable")
        self.writes.append((project, environment, key_id, at))


def test_an_instance_writes_a_key_at_most_once_per_interval() -> None:
    now = [1000.0]
    records = Records()
    witness = AuthorizationWitness(records, 60, clock=lambda: now[0])
    for moment in (1000.0, 1000.5, 1059.9, 1060.0, 1061.0, 1120.0):
        now[0] = moment
        witness.authorized("demo", "dev", "Vc37AAAAAAAA")
        witness.authorized("demo", "dev", "Vc37BBBBBBBB")
    assert [at for *_, at in records.writes] == [1000.0, 1000.0, 1060.0, 1060.0, 1120.0, 1120.0]


def test_a_failed_write_raises_and_is_retried_by_the_next_allow() -> None:
    now = [1000.0]
    records = Records()
    witness = AuthorizationWitness(records, 60, clock=lambda: now[0])
    records.failing = True
    with pytest.raises(ConnectionError):
        witness.authorized("demo", "dev", "Vc37AAAAAAAA")
    records.failing = False
    now[0] = 1001.0
    witness.authorized("demo", "dev", "Vc37AAAAAAAA")  # not remembered as written: it writes now
    assert records.writes == [("demo", "dev", "Vc37AAAAAAAA", 1001.0)]


def test_the_stored_time_never_moves_back(aws) -> None:
    from archie_keys.edge.composition import get_services

    store = get_services().store
    store.record_authorization("demo", "dev", "Vc37AAAAAAAA", 2000.5)
    store.record_authorization("demo", "dev", "Vc37AAAAAAAA", 1999.0)  # a lagging instance: no error, no move
    assert store.last_authorization("demo", "dev", "Vc37AAAAAAAA") == 2000.5
    store.record_authorization("demo", "dev", "Vc37AAAAAAAA", 2001.25)
    assert store.last_authorization("demo", "dev", "Vc37AAAAAAAA") == 2001.25
    assert store.last_authorization("demo", "dev", "Vc37BBBBBBBB") is None


# --- guarded deletes with the deployed setting ---------------------------------------------------------------

# Short bounds, so "idle past the bound" is a couple of seconds: in-process the gateway caches nothing
# (AuthorizerResultTtl 0), an instance writes a key at most every 0.3 s, and an answer leaves within 0.2 s.
COALESCE, ANSWER = 0.3, 0.2


@pytest.fixture
def deployed(aws, monkeypatch) -> None:
    """The stack as deployed once the witness is in force: no trusted deliverer, so the audit's watermark never
    moves and only the authorizer's witness can prove a key idle (a refused proof waits 0.3 s, not 5)."""
    from archie_keys.edge import composition

    monkeypatch.delenv("AUDIT_TRUSTED_DELIVERER")
    monkeypatch.setenv("AUTHORIZER_WITNESS_SECONDS", str(COALESCE))
    monkeypatch.setenv("AUTHORIZER_ANSWER_SECONDS", str(ANSWER))
    monkeypatch.setenv("AUTHORIZER_WITNESS_SINCE", "0")
    monkeypatch.setattr(limits, "GUARD_WAIT_SECONDS", 0.3)
    composition.reset()


@pytest.fixture
def key(api: Any, admin_key: str, deployed: None) -> dict[str, Any]:
    role = {"permissions": [{"resource": "keys", "actions": ["read"]}]}
    api("PUT", env_path("demo", "dev", "/roles/viewer"), admin_key, role)
    return dict(api("POST", KEYS, admin_key, {"name": "old", "roles": ["viewer"]}).body)


def deleted_events(api: Any, admin_key: str) -> list[dict[str, Any]]:
    events = api("GET", env_path("demo", "dev", "/audit?kind=event&limit=100"), admin_key).body["records"]
    return [e for e in events if e["event"] == "key.deleted"]


def assert_intact(api: Any, admin_key: str, key: dict[str, Any]) -> None:
    assert api("GET", WHOAMI, key["key"]).status == 200  # not revoked
    assert deleted_events(api, admin_key) == []


def test_a_key_authorized_then_idle_past_the_bound_is_deleted_without_the_audit(api, admin_key, key) -> None:
    # Given a key that answered a request, then nothing for longer than 1 s + the witness's reach
    assert api("GET", WHOAMI, key["key"]).status == 200
    answered = time.time()
    time.sleep(1 + COALESCE + ANSWER + 0.2)  # the window under test: wall-clock time must pass, nothing else
    assert time.time() - 1 - COALESCE - ANSWER > answered
    # When it is deleted unless unused for one second, then it is revoked, with nothing attesting the audit
    assert api("DELETE", f"{KEYS}/{key['key_id']}?if_unused_for=1", admin_key).status == 204
    assert api("GET", WHOAMI, key["key"]).status == 403
    assert deleted_events(api, admin_key)[0]["details"]["if_unused_for"] == 1


def test_a_key_never_authorized_is_deleted_without_the_audit(api, admin_key, key) -> None:
    assert api("DELETE", f"{KEYS}/{key['key_id']}?if_unused_for=600", admin_key).status == 204


@pytest.mark.parametrize("window", [1, 600])
def test_a_key_authorized_within_the_bound_is_never_deleted(api, admin_key, key, window) -> None:
    # Given a key that has just answered (within the window, or within the witness's reach past it)
    assert api("GET", WHOAMI, key["key"]).status == 200
    # When it is deleted unless unused: the witness proves nothing, the audit cannot (nothing attests it)
    reply = api("DELETE", f"{KEYS}/{key['key_id']}?if_unused_for={window}", admin_key)
    # Then 503 (or 409 had the audit seen it), never 204, and the key works on
    assert reply.status in (409, 503) and reply.status != 204, reply.body
    assert reply.status == 503 and int(reply.headers["Retry-After"]) == limits.GUARD_RETRY_AFTER_SECONDS
    assert_intact(api, admin_key, key)


def test_an_authorization_recorded_between_the_read_and_the_revocation_stops_it(
    api, admin_key, key, monkeypatch
) -> None:
    from archie_keys.aws.key_store import KeyStore

    read = KeyStore.authorizations

    def read_then_the_key_is_authorized(store: KeyStore, *args: Any) -> Any:
        recorded = read(store, *args)
        monkeypatch.setattr(KeyStore, "authorizations", read)
        assert api("GET", WHOAMI, key["key"]).status == 200  # an Allow, recorded, after the guard's read
        return recorded

    monkeypatch.setattr(KeyStore, "authorizations", read_then_the_key_is_authorized)
    reply = api("DELETE", f"{KEYS}/{key['key_id']}?if_unused_for=600", admin_key)
    assert reply.status == 409 and reply.body["code"] == "key_in_use", reply.body
    assert_intact(api, admin_key, key)


def test_only_a_key_that_verified_is_recorded(api, admin_key, key) -> None:
    from archie_keys.domain.keyformat import checksum
    from archie_keys.edge.composition import get_services

    # Given the key's id with a wrong secret (checksum recomputed, so it parses), and a revoked key
    wrong = key["key"][:-28] + "S" * 22
    wrong += checksum(wrong)
    assert api("GET", WHOAMI, wrong).status == 403
    revoked = dict(api("POST", KEYS, admin_key, {"name": "gone", "roles": ["viewer"]}).body)
    assert api("DELETE", f"{KEYS}/{revoked['key_id']}", admin_key).status == 204
    assert api("GET", WHOAMI, revoked["key"]).status == 403
    # Then neither was recorded as authorized; the key itself is, once it is let through
    store = get_services().store
    assert store.last_authorization("demo", "dev", key["key_id"]) is None
    assert store.last_authorization("demo", "dev", revoked["key_id"]) is None
    assert api("GET", WHOAMI, key["key"]).status == 200
    assert store.last_authorization("demo", "dev", key["key_id"]) is not None


# --- faults --------------------------------------------------------------------------------------------------


def failing_calls(monkeypatch: Any, operation: str) -> None:
    """Make DynamoDB refuse `operation` on the witness items (SEEN#) with a server error."""
    import botocore.client
    from botocore.exceptions import ClientError

    original = botocore.client.BaseClient._make_api_call

    def failing(client: Any, name: str, params: dict[str, Any]) -> Any:
        # A write names its item (Key), the guard's read its items' prefix (ExpressionAttributeValues).
        if name == operation and "SEEN#" in json.dumps(
            [params.get("Key", {}), params.get("ExpressionAttributeValues")]
        ):
            raise ClientError({"Error": {"Code": "InternalServerError", "Message": "down"}}, name)
        return original(client, name, params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", failing)


def test_a_witness_that_cannot_be_written_is_a_503_from_the_authorizer(api, admin_key, key, monkeypatch) -> None:
    failing_calls(monkeypatch, "UpdateItem")
    reply = api("GET", WHOAMI, key["key"])
    assert reply.status == 503 and "Retry-After" in reply.headers, (reply.status, reply.body)
    monkeypatch.undo()
    assert api("GET", WHOAMI, key["key"]).status == 200  # written once DynamoDB answers again


def test_a_witness_that_cannot_be_read_is_a_503_and_the_key_is_intact(api, admin_key, key, monkeypatch) -> None:
    failing_calls(monkeypatch, "Query")
    reply = api("DELETE", f"{KEYS}/{key['key_id']}?if_unused_for=600", admin_key)
    monkeypatch.undo()
    assert reply.status == 503 and reply.body["code"] == "service_unavailable", reply.body
    assert int(reply.headers["Retry-After"]) == limits.GUARD_RETRY_AFTER_SECONDS
    assert_intact(api, admin_key, key)


# --- stages that cache longer ---------------------------------------------------------------------------------


def test_a_registration_may_declare_a_longer_authorizer_cache() -> None:
    from archie_keys.aws.flush_registrations import parse_registration

    base = '"rest_api_id": "abc", "stage": "prod", "project": "demo", "environment": "dev"'
    assert parse_registration("{" + base + "}").authorizer_ttl_seconds is None
    assert parse_registration("{" + base + ', "authorizer_ttl_seconds": 900}').authorizer_ttl_seconds == 900
    for wrong in ("-1", "3601", '"900"', "true", "1.5"):
        with pytest.raises(ValueError):
            parse_registration("{" + base + f', "authorizer_ttl_seconds": {wrong}' + "}")


def serving_stages(monkeypatch: Any, *targets: Any) -> None:
    """The registry as it would read: these stages serve demo/dev."""
    from archie_keys.edge.composition import get_services

    monkeypatch.setattr(get_services().flusher, "targets", lambda: targets)


def test_a_stage_declaring_a_longer_cache_widens_the_bound(api, admin_key, key, monkeypatch) -> None:
    from archie_keys.domain.flush_targets import FlushTarget

    # Given a key authorized, then idle past the stack's bound (as in the test above)...
    assert api("GET", WHOAMI, key["key"]).status == 200
    time.sleep(1 + COALESCE + ANSWER + 0.2)  # the window under test: wall-clock time must pass, nothing else
    # ... but a stage serving its environment declares it caches an Allow for an hour: the key may still be
    # accepted there, so the witness proves nothing and the delete refuses
    serving_stages(monkeypatch, FlushTarget("abc", "prod", "demo", "dev", authorizer_ttl_seconds=3600))
    reply = api("DELETE", f"{KEYS}/{key['key_id']}?if_unused_for=1", admin_key)
    assert reply.status == 503, reply.body
    # A stage of another environment changes nothing
    serving_stages(monkeypatch, FlushTarget("abc", "prod", "demo", "prod", authorizer_ttl_seconds=3600))
    assert api("DELETE", f"{KEYS}/{key['key_id']}?if_unused_for=1", admin_key).status in (202, 204)


def test_an_unreadable_registration_leaves_the_witness_proving_nothing(api, admin_key, key, monkeypatch) -> None:
    from archie_keys.domain.flush_targets import FlushTarget

    serving_stages(monkeypatch, FlushTarget("/archie/protected-apis/typo", "", problem="unreadable registration"))
    reply = api("DELETE", f"{KEYS}/{key['key_id']}?if_unused_for=600", admin_key)  # a key never authorized
    assert reply.status == 503, reply.body
    assert_intact(api, admin_key, key)
