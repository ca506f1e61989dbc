"""The registry of protected APIs: one SSM parameter per API stage, added by a team without a redeploy, read in
one paginated call, cached briefly; every registered stage serving a key's environment is flushed when the
key is revoked, and a stage that cannot be flushed is named, counted and alarmed on."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from archie_keys.aws.cache_flush import CacheFlusher, ProtectedApiRegistry, parse_registration
from archie_keys.aws.metrics import MetricLines
from archie_local.template import STACK_NAME, load_template

PATH = f"/{STACK_NAME}/protected-apis"


class RecordingGateway:
    """API Gateway's FlushStageAuthorizersCache, recorded; stages in `broken` fail every time."""

    def __init__(self, broken: tuple[str, ...] = ()) -> None:
        self.flushed: list[str] = []
        self.broken = broken

    def flush_stage_authorizers_cache(self, restApiId: str, stageName: str) -> None:
        if f"{restApiId}/{stageName}" in self.broken:
            raise ConnectionError("API Gateway unreachable")
        self.flushed.append(f"{restApiId}/{stageName}")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def register(name: str, rest_api_id: str, stage: str, project: str, environment: str) -> None:
    """What a team runs (docs/authorizer.md, "Registering your stage"): one put-parameter."""
    value = {"rest_api_id": rest_api_id, "stage": stage, "project": project, "environment": environment}
    boto3.client("ssm").put_parameter(Name=f"{PATH}/{name}", Value=json.dumps(value), Type="String")


def test_the_template_registers_the_management_api_for_every_environment_and_the_sample_api_for_demo_dev(aws) -> None:
    targets = ProtectedApiRegistry(boto3.client("ssm"), aws.environment["PROTECTED_APIS_PATH"] or PATH)()
    by_api = {t.label: (t.project, t.environment) for t in targets}
    management, sample = aws.resolver.ref("ManagementApi"), aws.resolver.ref("SampleApi")
    assert by_api == {f"{management}/v1": ("*", "*"), f"{sample}/dev": ("demo", "dev")}
    # and the functions are pointed at that path by the template itself
    variables = load_template()["Globals"]["Function"]["Environment"]["Variables"]
    assert aws.resolver.resolve(variables["PROTECTED_APIS_PATH"]) == PATH


def test_a_team_registers_its_stage_without_a_redeploy_and_revocations_flush_it(aws) -> None:
    register("billing", "b1lling9xz", "prod", "demo", "dev")
    register("other-env", "0ther1api2", "prod", "acme", "prod")
    gateway = RecordingGateway()
    flusher = CacheFlusher(gateway, ProtectedApiRegistry(boto3.client("ssm"), PATH), 0)

    report = flusher.revoke_everywhere("demo", "dev")

    management, sample = aws.resolver.ref("ManagementApi"), aws.resolver.ref("SampleApi")
    assert set(report.flushed) == {f"{management}/v1", f"{sample}/dev", "b1lling9xz/prod"}
    assert "0ther1api2/prod" not in gateway.flushed  # it serves another environment
    assert report.unflushed == ()


def test_the_registry_is_read_in_one_paginated_call_and_trusted_for_30_seconds(aws) -> None:
    for i in range(23):  # more than two pages of GetParametersByPath
        register(f"team-{i:02d}", f"api{i:02d}", "prod", "demo", "dev")
    ssm = boto3.client("ssm")
    calls: list[str] = []
    ssm.meta.events.register("before-call.ssm.*", lambda model, **_: calls.append(model.name))
    clock = Clock()
    registry = ProtectedApiRegistry(ssm, PATH, clock=clock)

    assert len(registry()) == 25
    assert set(calls) == {"GetParametersByPath"} and len(calls) == 3  # pages of 10, not one call per stage
    register("late", "late1", "prod", "demo", "dev")
    clock.now += 29
    assert len(registry()) == 25 and len(calls) == 3  # within 30 s: no call at all
    clock.now += 2
    assert len(registry()) == 26  # a registration is seen at most 30 s after it was made


def test_when_ssm_fails_the_last_good_read_is_used_and_a_first_read_failure_names_every_stage(aws) -> None:
    clock = Clock()
    ssm = boto3.client("ssm")
    registry = ProtectedApiRegistry(ssm, PATH, clock=clock)
    assert len(registry()) == 2

    def unavailable(**_: Any) -> None:
        raise ConnectionError("SSM unreachable")

    ssm.meta.events.register("before-call.ssm.GetParametersByPath", unavailable)
    clock.now += 60
    assert len(registry()) == 2
    flusher = CacheFlusher(RecordingGateway(), ProtectedApiRegistry(ssm, PATH), 0)
    report = flusher.flush_environment("demo", "dev")
    assert report.flushed == () and report.unflushed == ("(every stage: the list of stages could not be read)",)


def test_an_unreadable_registration_is_named_by_every_flush_and_counted_until_fixed(aws) -> None:
    boto3.client("ssm").put_parameter(Name=f"{PATH}/typo", Value='{"rest_api_id": "abc"}', Type="String")
    lines: list[str] = []
    metrics = MetricLines("ArchieKeys", STACK_NAME, write=lines.append)
    flusher = CacheFlusher(
        RecordingGateway(), ProtectedApiRegistry(boto3.client("ssm"), PATH), 0, on_unflushed=metrics.unflushed_stage
    )

    report = flusher.revoke_everywhere("acme", "prod")

    assert report.unflushed == (f"{PATH}/typo (unreadable registration)",)
    assert [json.loads(line)["stage"] for line in lines] == [f"{PATH}/typo (unreadable registration)"]


def test_each_stage_not_flushed_is_one_unflushed_stages_data_point_that_the_alarm_watches(aws) -> None:
    sample = f"{aws.resolver.ref('SampleApi')}/dev"
    lines: list[str] = []
    metrics = MetricLines("ArchieKeys", STACK_NAME, write=lines.append)
    flusher = CacheFlusher(
        RecordingGateway(broken=(sample,)),
        ProtectedApiRegistry(boto3.client("ssm"), PATH),
        0,
        sleep=lambda _: None,
        on_unflushed=metrics.unflushed_stage,
    )

    report = flusher.revoke_everywhere("demo", "dev")

    assert report.unflushed == (sample,)  # retried, then reported (DELETE answers 202 naming it)
    (line,) = lines  # one data point for the one stage, after the second flush only
    document = json.loads(line)
    (declaration,) = document["_aws"]["CloudWatchMetrics"]
    alarm = load_template()["Resources"]["UnflushedStagesAlarm"]["Properties"]
    assert declaration["Namespace"] == alarm["Namespace"] == "ArchieKeys"
    assert declaration["Metrics"] == [{"Name": alarm["MetricName"], "Unit": "Count"}]
    assert declaration["Dimensions"] == [[d["Name"] for d in alarm["Dimensions"]]]
    assert document["Stack"] == STACK_NAME and document["UnflushedStages"] == 1
    assert (document["stage"], document["project"], document["environment"]) == (sample, "demo", "dev")


@pytest.mark.parametrize(
    "value",
    [
        "not json",
        "[]",
        '{"rest_api_id": "abc", "stage": "prod", "project": "demo"}',
        '{"rest_api_id": "abc", "stage": "prod", "project": "demo", "environment": "dev", "extra": 1}',
        '{"rest_api_id": "ABC/../x", "stage": "prod", "project": "demo", "environment": "dev"}',
        '{"rest_api_id": "abc", "stage": "prod", "project": "Demo Co", "environment": "dev"}',
        '{"rest_api_id": "abc", "stage": 1, "project": "demo", "environment": "dev"}',
    ],
)
def test_a_registration_is_exactly_the_four_fields_with_valid_values(value: str) -> None:
    with pytest.raises(ValueError):
        parse_registration(value)


def test_a_registration_for_every_environment_uses_stars() -> None:
    target = parse_registration('{"rest_api_id": "a1", "stage": "v1", "project": "*", "environment": "*"}')
    assert target.serves("acme", "prod") and target.serves("demo", "dev")


def test_a_change_whose_flush_missed_a_stage_says_which_and_still_holds(api, admin_key, monkeypatch) -> None:
    """What a flush that failed after its retries leaves (the flusher's own tests above show how it fails): the
    revocation, roll or role edit is committed, and the answer names the stages that may serve it late."""
    from archie_keys.aws.cache_flush import CacheFlusher, FlushReport
    from tests.support import env_path

    missed = FlushReport(flushed=("mgmt/v1",), unflushed=("b1lling9xz/prod",))
    flushes: list[str] = []
    monkeypatch.setattr(
        CacheFlusher, "revoke_everywhere", lambda self, project, environment: flushes.append(project) or missed
    )
    keys, role = env_path("demo", "dev", "/keys"), env_path("demo", "dev", "/roles/viewer")
    assert api("PUT", role, admin_key, {"permissions": [{"resource": "keys", "actions": ["read"]}]}).status == 201

    edited = api("PUT", role, admin_key, {"permissions": [{"resource": "audit", "actions": ["read"]}]})
    assert edited.status == 200 and edited.body["unflushed_stages"] == ["b1lling9xz/prod"]
    assert api("GET", role, admin_key).body["permissions"][0]["resource"] == "audit"
    assert flushes == ["demo"]
    reworded = {"description": "reads the audit", "permissions": [{"resource": "audit", "actions": ["read"]}]}
    described = api("PUT", role, admin_key, reworded)  # no key may do anything else: nothing to flush
    assert described.status == 200 and "unflushed_stages" not in described.body and flushes == ["demo"]

    key = api("POST", keys, admin_key, {"name": "k", "roles": ["viewer"]}).body
    rolled = api("POST", f"{keys}/{key['key_id']}/roll", admin_key, {"grace_seconds": 0})
    assert rolled.status == 201 and rolled.body["unflushed_stages"] == ["b1lling9xz/prod"]
    assert api("GET", env_path("demo", "dev", "/whoami"), key["key"]).status == 403  # the roll holds

    deleted = api("DELETE", f"{keys}/{rolled.body['key_id']}", admin_key)
    assert deleted.status == 202 and deleted.body["unflushed_stages"] == ["b1lling9xz/prod"]
    assert deleted.body["key_id"] == rolled.body["key_id"] and deleted.body["revoked_at"]
    assert api("GET", env_path("demo", "dev", "/whoami"), rolled.body["key"]).status == 403  # revoked all the same
