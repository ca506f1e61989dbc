"""The synthetic canary walks the path every API depends on (create a key, use it through the gateway, revoke
it, see it refused) in its own environment, against the in-process stack with its HTTP call injected; it
reports 1 only when every step held, and a key it made never outlives the probe."""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Callable
from typing import Any

import pytest

from archie_keys.app.canary import CANARY_PLACE, PROBE_ROLE, ProbeResult, probe, whoami_path
from archie_keys.aws import metrics
from archie_keys.edge.composition import get_services
from archie_local.template import REPO_ROOT, STACK_NAME

WHOAMI = whoami_path(CANARY_PLACE)


class Gateway:
    """The management API as the canary reaches it: each call is recorded with the status it got."""

    def __init__(self, api: Any) -> None:
        self.api = api
        self.statuses: list[int] = []

    def __call__(self, path: str, key: str) -> int:
        status = int(self.api("GET", path, key).status)
        self.statuses.append(status)
        return status


def run(call: Callable[[str, str], int]) -> tuple[ProbeResult, list[dict[str, Any]]]:
    lines: list[str] = []
    reporter = metrics.MetricLines("ArchieKeys", STACK_NAME, write=lines.append)
    result = probe(get_services(), call, lambda r: reporter.canary_probe(r.passed, r.step, r.seconds))
    return result, [json.loads(line) for line in lines]


def stored_key(key_id: str) -> dict[str, Any]:
    key = get_services().store.get_key(CANARY_PLACE.project, CANARY_PLACE.environment, key_id)
    assert key is not None, key_id
    return key


def test_the_canary_declares_its_own_environment_uses_a_fresh_key_then_sees_it_refused(aws, api) -> None:
    gateway = Gateway(api)
    result, reported = run(gateway)
    assert result.passed and result.step == "passed", result
    assert gateway.statuses == [200, 403]  # accepted through the gateway, then refused (its Deny) once revoked
    (line,) = reported
    assert line["CanaryProbe"] == 1 and line["Stack"] == STACK_NAME and line["step"] == "passed"
    key = stored_key(str(result.key_id))
    assert key["revoked_at"] and key["revoked_by"] == "bootstrap"
    assert key["expires_at"]  # short-lived even if the revocation had not happened
    services = get_services()
    assert services.store.get_environment(CANARY_PLACE.project, CANARY_PLACE.environment) is not None
    role = services.store.get_role(CANARY_PLACE.project, CANARY_PLACE.environment, PROBE_ROLE)
    assert role is not None and role["key_count"] == 0


def test_every_run_makes_and_revokes_its_own_key_in_the_same_environment(aws, api) -> None:
    first, _ = run(Gateway(api))
    second, reported = run(Gateway(api))
    assert first.passed and second.passed and first.key_id != second.key_id
    assert [line["CanaryProbe"] for line in reported] == [1]
    assert all(stored_key(str(k))["revoked_at"] for k in (first.key_id, second.key_id))


def test_a_revocation_the_gateway_never_sees_fails_the_probe(aws, api) -> None:
    """A gateway whose cache was not flushed keeps answering the revoked key as it did: the canary says so."""
    gateway, cached = Gateway(api), {}

    def stale(path: str, key: str) -> int:
        if key not in cached:
            cached[key] = gateway(path, key)
        return cached[key]

    result, reported = run(stale)
    assert not result.passed and result.step == "refused" and "200" in result.detail
    assert reported[0]["CanaryProbe"] == 0 and reported[0]["step"] == "refused"


def test_a_key_the_authorizer_cannot_check_fails_the_probe_and_is_revoked_anyway(aws, api, monkeypatch) -> None:
    from archie_keys.app.verification import KeyVerifier

    def unreachable(*args: Any, **kwargs: Any) -> Any:
        raise ConnectionError("DynamoDB unreachable")

    monkeypatch.setattr(KeyVerifier, "verify", unreachable)  # the authorizer cannot decide: 503
    result, reported = run(Gateway(api))
    assert not result.passed and result.step == "accepted"
    assert reported[0]["CanaryProbe"] == 0
    assert stored_key(str(result.key_id))["revoked_at"]  # the probe's key never outlives the probe


def test_an_api_that_cannot_be_reached_fails_the_probe_and_its_key_is_revoked(aws) -> None:
    def unreachable(path: str, key: str) -> int:
        raise OSError("connection refused")

    result, reported = run(unreachable)
    assert (result.passed, result.step, result.detail) == (False, "accepted", "connection refused")
    assert reported[0]["CanaryProbe"] == 0
    assert stored_key(str(result.key_id))["revoked_at"]


def test_the_scheduled_handler_probes_and_writes_its_metric_line(aws, api, monkeypatch, capsys) -> None:
    spec = importlib.util.spec_from_file_location("archie_fn_canary_test", REPO_ROOT / "functions/canary/canary.py")
    assert spec is not None and spec.loader is not None
    handler = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(handler)
    with pytest.raises(ValueError, match="https"):
        handler.https_status("http://example.com/v1")  # the key travels in a header: never in clear
    monkeypatch.setattr(handler, "https_status", lambda url: Gateway(api))
    capsys.readouterr()
    assert handler.lambda_handler({}, None)["passed"] is True
    written = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"CanaryProbe"' in line]
    assert [line["CanaryProbe"] for line in written] == [1]
