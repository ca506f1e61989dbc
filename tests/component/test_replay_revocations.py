"""Restoring the keys table from point-in-time recovery brings back every key revoked after the restore point;
`make replay-revocations SINCE=...` revokes each of them again from the audit's key.deleted / key.leaked
events, as they were revoked, names the keys it cannot bring back, and changes nothing the second time."""

from __future__ import annotations

import os
import time
from typing import Any

import boto3
import pytest

from archie_keys.app.leaks import LeakedToken, report_leaks
from archie_keys.domain.clock import from_iso, to_iso
from archie_keys.domain.identity import SCANNER_ACTOR
from archie_keys.edge.composition import get_services
from archie_tools.replay_revocations import main
from tests.conftest import all_items
from tests.support import env_path

KEYS = env_path("demo", "dev", "/keys")
WHOAMI = env_path("demo", "dev", "/whoami")
READER = {"permissions": [{"resource": "orders", "actions": ["read"]}]}


def keys_table() -> list[dict[str, Any]]:
    return sorted(all_items(os.environ["KEYS_TABLE"]), key=lambda item: (item["pk"]["S"], item["sk"]["S"]))


def restore(snapshot: list[dict[str, Any]]) -> None:
    """What a point-in-time restore leaves: the table exactly as it was then."""
    client, table = boto3.client("dynamodb"), os.environ["KEYS_TABLE"]
    for item in keys_table():
        client.delete_item(TableName=table, Key={"pk": item["pk"], "sk": item["sk"]})
    for item in snapshot:
        client.put_item(TableName=table, Item=item)


def key_item(key_id: str) -> dict[str, Any]:
    key = get_services().store.get_key("demo", "dev", key_id)
    assert key is not None, key_id
    return key


def replay(*args: str) -> tuple[int, list[str]]:
    lines: list[str] = []
    return main(list(args), out=lines.append), lines


@pytest.fixture
def world(api: Any, admin_key: str) -> dict[str, Any]:
    assert api("PUT", env_path("demo", "dev", "/roles/reader"), admin_key, READER).status == 201
    made = {
        name: api("POST", KEYS, admin_key, {"name": name, "roles": ["reader"]}).body
        for name in ("kept", "deleted", "leaked")
    }
    snapshot = keys_table()  # the restore point
    since = to_iso(time.time() - 0.001)
    assert api("DELETE", f"{KEYS}/{made['deleted']['key_id']}", admin_key).status == 204
    url = "https://github.com/someone/app/blob/abc/config.py#L7"
    report_leaks(get_services(), [LeakedToken(made["leaked"]["key"], "archie_api_key", url, "content")])
    made["late"] = api("POST", KEYS, admin_key, {"name": "late", "roles": ["reader"]}).body
    revoked = {name: key_item(made[name]["key_id"]) for name in ("deleted", "leaked")}
    role = get_services().store.get_role("demo", "dev", "reader")
    restore(snapshot)
    return {"keys": made, "since": since, "snapshot": snapshot, "revoked": revoked, "role": role, "url": url}


def test_keys_a_restore_brought_back_to_life_are_revoked_again_as_they_were_revoked(api, admin_key, world) -> None:
    # Why the command exists: the restored table says these keys are active, and the authorizer agrees.
    for name in ("deleted", "leaked"):
        assert api("GET", WHOAMI, world["keys"][name]["key"]).status == 200, name
    status, lines = replay("--since", world["since"], "--actor", "operator:alice")
    assert status == 0, lines
    keys = world["keys"]
    for name in ("deleted", "leaked"):
        assert api("GET", WHOAMI, keys[name]["key"]).status == 403, name
        again, before = key_item(keys[name]["key_id"]), world["revoked"][name]
        for field in ("revoked_by", "leaked_url"):
            assert again.get(field) == before.get(field), (name, field)
        # At its event's time, which the audit wrote within milliseconds of the revocation itself.
        assert abs(from_iso(again["revoked_at"]) - from_iso(before["revoked_at"])) < 1, name
        assert abs(int(again["purge_epoch"]) - int(before["purge_epoch"])) <= 1, name
        assert bool(again.get("leaked_at")) == bool(before.get("leaked_at")), name
    assert key_item(keys["leaked"]["key_id"])["revoked_by"] == SCANNER_ACTOR
    assert key_item(keys["leaked"]["key_id"])["leaked_url"] == world["url"]
    assert api("GET", WHOAMI, keys["kept"]["key"]).status == 200
    role = get_services().store.get_role("demo", "dev", "reader")
    assert role is not None and role["key_count"] == world["role"]["key_count"] - 1  # late is not in the table
    for name in ("deleted", "leaked"):  # each replay is audited on its key, by the operator who ran it
        audit = env_path("demo", "dev", f"/audit?key_id={keys[name]['key_id']}&kind=event")
        (replayed,) = [e for e in api("GET", audit, admin_key).body["records"] if e["actor_key_id"] == "operator:alice"]
        assert replayed["event"] == "key.deleted" and replayed["details"]["replay_of"], replayed
    # What it cannot bring back, it names: a key made after the restore point.
    (lost,) = [line for line in lines if line.startswith("lost")]
    assert keys["late"]["key_id"] in lost and "make it again" in lost
    assert lines[-1] == "replayed: revoked 2, lost 1"


def test_a_second_replay_changes_nothing(world) -> None:
    assert replay("--since", world["since"])[0] == 0
    after_first = keys_table()
    status, lines = replay("--since", world["since"])
    assert status == 0 and keys_table() == after_first
    assert not any(line.startswith("revoked") for line in lines)
    assert sum(line.startswith("already revoked") for line in lines) >= 2


def test_a_dry_run_says_what_it_would_do_and_changes_nothing(world) -> None:
    status, lines = replay("--since", world["since"], "--dry-run")
    assert status == 0 and keys_table() == world["snapshot"]
    assert sum(line.startswith("would revoke") for line in lines) == 2
    assert lines[-1].endswith("(dry run: nothing changed)")


def test_revocations_before_since_and_other_environments_are_left_alone(api, world, bootstrap) -> None:
    other = bootstrap("acme", "prod")
    later = to_iso(time.time() + 3600)
    status, lines = replay("--since", later, "--project", "demo", "--environment", "dev")
    assert status == 0 and lines == ["replayed: nothing to replay"]
    assert api("GET", WHOAMI, world["keys"]["deleted"]["key"]).status == 200  # before SINCE: not replayed
    assert api("GET", env_path("acme", "prod", "/whoami"), other).status == 200


def test_since_must_be_a_time_with_a_zone(capsys) -> None:
    with pytest.raises(SystemExit):
        replay("--since", "yesterday")
    assert "ISO 8601" in capsys.readouterr().err
