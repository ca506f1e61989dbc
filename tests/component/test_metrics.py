"""Observed: the authorizer writes one EMF line per refusal (with its reason; nothing for an accepted key) without
Powertools Metrics on its cold path; the ingest reports how far behind the audit is; the template's alarms
and dashboard read exactly the metrics the code writes; tracing is one decorator, off unless on Lambda."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import time
import uuid
from typing import Any

import pytest

from archie_keys.aws import metrics
from archie_keys.edge import tracing
from archie_local.lambdas import FunctionRegistry
from archie_local.template import REPO_ROOT, STACK_NAME, load_template
from tests.component.test_audit import access_line, delivery

METHOD_ARN = "arn:aws:execute-api:us-east-1:123456789012:management/v1/GET/projects/demo/environments/dev/whoami"


def emf_lines(text: str) -> list[dict[str, Any]]:
    found = []
    for line in text.splitlines():
        try:
            document = json.loads(line)
        except ValueError:
            continue
        if isinstance(document, dict) and "_aws" in document:
            found.append(document)
    return found


def decision(document: dict[str, Any]) -> tuple[str, str | None]:
    (declaration,) = document["_aws"]["CloudWatchMetrics"]
    (metric,) = declaration["Metrics"]
    return metric["Name"], document.get("Reason")


def authorizer_event(key: str) -> dict[str, Any]:
    return {
        "type": "REQUEST",
        "methodArn": METHOD_ARN,
        "headers": {"Authorization": f"Bearer {key}"},
        "requestContext": {"requestId": str(uuid.uuid4()), "extendedRequestId": str(uuid.uuid4())},
    }


def test_every_refusal_is_one_metric_line_by_reason_and_an_accepted_key_writes_nothing(
    aws, admin_key, api, capsys: pytest.CaptureFixture[str]
) -> None:
    authorizer = FunctionRegistry(aws.functions)["AuthorizerFunction"]
    revoked = api("POST", "/projects/demo/environments/dev/keys", admin_key, {"name": "r", "roles": ["admin"]}).body
    assert api("DELETE", f"/projects/demo/environments/dev/keys/{revoked['key_id']}", admin_key).status == 204
    # An admin key made by a person (not the bootstrap command's break-glass key, whose use is alarmed below).
    accepted = api("POST", "/projects/demo/environments/dev/keys", admin_key, {"name": "a", "roles": ["admin"]}).body
    capsys.readouterr()

    authorizer.invoke(authorizer_event(accepted["key"]))
    with pytest.raises(Exception, match="Unauthorized"):
        authorizer.invoke(authorizer_event("archie_not_a_key"))
    assert authorizer.invoke(authorizer_event(revoked["key"]))["policyDocument"]["Statement"][0]["Effect"] == "Deny"

    lines = emf_lines(capsys.readouterr().out)
    assert [decision(d) for d in lines] == [("Refused", "malformed"), ("Refused", "revoked")]
    for document in lines:
        (declaration,) = document["_aws"]["CloudWatchMetrics"]
        assert declaration["Namespace"] == "ArchieKeys" and document["Stack"] == STACK_NAME
        assert abs(document["_aws"]["Timestamp"] / 1000 - time.time()) < 60
    refused = lines[0]["_aws"]["CloudWatchMetrics"][0]
    assert refused["Dimensions"] == [["Stack"], ["Stack", "Reason"]]  # the total, and by reason
    assert all("key" not in json.dumps(d).lower().replace("archiekeys", "") for d in lines)  # no key, no key id


def test_every_use_of_the_bootstrap_admin_key_is_a_metric_line_its_alarm_pages_on(
    aws, admin_key, api, capsys: pytest.CaptureFixture[str]
) -> None:
    from archie_keys.app.canary import CANARY_PLACE, probe
    from archie_keys.edge.composition import get_services

    authorizer = FunctionRegistry(aws.functions)["AuthorizerFunction"]
    # The canary's keys are made by the bootstrap actor too, with a role granting nothing: not break-glass.
    result = probe(get_services(), lambda path, key: api("GET", path, key).status, lambda _: None)
    assert result.passed, result
    capsys.readouterr()

    authorizer.invoke(authorizer_event(admin_key))
    authorizer.invoke(authorizer_event(admin_key))

    lines = emf_lines(capsys.readouterr().out)
    assert [decision(d)[0] for d in lines] == ["BootstrapKeyUsed", "BootstrapKeyUsed"]
    assert (lines[0]["key_id"], lines[0]["project"], lines[0]["environment"]) == (
        admin_key.split("_")[-1][:12],
        "demo",
        "dev",
    )
    assert lines[0]["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["Stack"]]
    assert CANARY_PLACE.project != "demo"  # the canary ran in its own environment, and wrote no such line
    alarm = load_template()["Resources"]["BootstrapKeyUsedAlarm"]["Properties"]
    assert (alarm["MetricName"], alarm["Threshold"], alarm["EvaluationPeriods"]) == ("BootstrapKeyUsed", 0, 1)


def test_the_bootstrap_admin_key_rolled_is_still_break_glass_and_its_successor_pages(
    aws, admin_key, api, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given the environment's bootstrap admin key, rolled (by itself) into a successor
    authorizer = FunctionRegistry(aws.functions)["AuthorizerFunction"]
    keys = "/projects/demo/environments/dev/keys"
    old_id = admin_key.split("_")[-1][:12]
    rolled = api("POST", f"{keys}/{old_id}/roll", admin_key, {"grace_seconds": 0}).body
    other = api("POST", keys, rolled["key"], {"name": "not break-glass", "roles": ["admin"]}).body
    capsys.readouterr()
    # When the successor, and an admin key it made, are used
    authorizer.invoke(authorizer_event(rolled["key"]))
    authorizer.invoke(authorizer_event(other["key"]))
    # Then the successor's use pages as the bootstrap key's did; the other admin key's does not
    lines = emf_lines(capsys.readouterr().out)
    assert [(decision(d)[0], d["key_id"]) for d in lines] == [("BootstrapKeyUsed", rolled["key_id"])]


def test_a_failure_is_refused_with_reason_error_so_the_alarm_can_tell_it_from_a_refusal(aws, admin_key, api) -> None:
    from archie_keys.edge.authorizer import authorize
    from archie_keys.edge.composition import get_services

    class Broken:
        def verify(self, *args: Any, **kwargs: Any) -> Any:
            raise ConnectionError("DynamoDB unreachable")

    lines: list[str] = []
    decisions = metrics.DecisionMetrics(metrics.MetricLines("ArchieKeys", STACK_NAME, write=lines.append))
    with pytest.raises(Exception) as failed:
        authorize(authorizer_event(admin_key), Broken(), decisions)  # type: ignore[arg-type]
    assert str(failed.value) != "Unauthorized"  # API Gateway's AUTHORIZER_FAILURE: 503, never a 401
    person = api("POST", "/projects/demo/environments/dev/keys", admin_key, {"name": "p", "roles": ["admin"]}).body
    authorize(authorizer_event(person["key"]), get_services().verifier, decisions)
    assert [decision(json.loads(line)) for line in lines] == [("Refused", "error")]  # the accepted one: none
    # The errors alarm reads Lambda's errors (every raise: a malformed key's 401 and every failure) minus the
    # malformed keys, so a flood of garbage never pages and a failure always does.
    alarm = load_template()["Resources"]["AuthorizerErrorsAlarm"]["Properties"]
    stats = {m["Id"]: m["MetricStat"]["Metric"] for m in alarm["Metrics"] if "MetricStat" in m}
    assert stats["refused"]["MetricName"] == metrics.REFUSED
    assert {"Name": "Reason", "Value": "malformed"} in stats["refused"]["Dimensions"]
    assert stats["errors"]["Namespace"] == "AWS/Lambda" and stats["errors"]["MetricName"] == "Errors"


def test_the_authorizer_metrics_add_only_the_standard_library_to_its_cold_path() -> None:
    # Powertools' package __init__ already loads its metrics module with the Logger the authorizer uses; what
    # matters is that deciding adds nothing: no Metrics object, no flush decorator, no X-Ray SDK.
    tree = ast.parse((REPO_ROOT / "layers/shared/archie_keys/aws/metrics.py").read_text())
    imported = {
        alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names
    }
    imported |= {
        node.module.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module
    }
    assert imported <= set(sys.stdlib_module_names) | {"__future__"}, imported
    for path in ("functions/authorizer/authorizer.py", "layers/shared/archie_keys/edge/authorizer.py"):
        assert "Metrics" not in (REPO_ROOT / path).read_text().replace("DecisionMetrics", ""), path
    probe = (
        "import importlib.util, sys\n"
        "spec = importlib.util.spec_from_file_location('authorizer', 'functions/authorizer/authorizer.py')\n"
        "module = importlib.util.module_from_spec(spec); spec.loader.exec_module(module)\n"
        "print(sorted(m for m in sys.modules if m.startswith('aws_xray_sdk')))\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], cwd=REPO_ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_a_decision_line_costs_microseconds_not_a_serialisation(monkeypatch: pytest.MonkeyPatch) -> None:
    # The line for each kind of decision is built once; a decision only fills in the timestamp.
    written: list[str] = []
    decisions = metrics.DecisionMetrics(metrics.MetricLines("ArchieKeys", STACK_NAME, write=written.append))
    decisions.refused("not_found")
    monkeypatch.setattr(metrics.json, "dumps", lambda *a, **k: pytest.fail("serialised again"))
    decisions.refused("not_found")
    decisions.refused("not_found")
    assert len(written) == 3 and len({json.loads(w)["Reason"] for w in written}) == 1


def test_the_ingest_reports_the_audit_lag_of_each_batch(ingest_handler, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    batch = delivery([access_line(str(uuid.uuid4()), 200)])
    batch_events = json.loads(__import__("gzip").decompress(__import__("base64").b64decode(batch["awslogs"]["data"])))
    batch_events["logEvents"][0]["timestamp"] = int(time.time() * 1000) - 7000
    from archie_local.logs import encode_subscription

    ingest_handler(encode_subscription(batch_events))

    lags = [d for d in emf_lines(capsys.readouterr().out) if "AuditLag" in d]
    (lag,) = lags
    assert lag["_aws"]["CloudWatchMetrics"][0]["Metrics"] == [{"Name": "AuditLag", "Unit": "Milliseconds"}]
    assert 7000 <= lag["AuditLag"] < 60000


@pytest.fixture
def ingest_handler(aws):
    return FunctionRegistry(aws.functions)["AuditIngestFunction"].invoke


def test_no_metrics_when_the_namespace_is_empty() -> None:
    written: list[str] = []
    lines = metrics.MetricLines("", STACK_NAME, write=written.append)
    metrics.DecisionMetrics(lines).refused("revoked")
    lines.unflushed_stage("a/b", "p", "e")
    assert written == []


class FakeProvider:
    """Stands in for the X-Ray recorder: records the subsegments the Tracer opens."""

    def __init__(self) -> None:
        self.subsegments: list[str] = []

    def in_subsegment(self, name: str) -> Any:
        import contextlib

        self.subsegments.append(name)

        @contextlib.contextmanager
        def segment() -> Any:
            class Segment:
                def put_annotation(self, *a: Any, **k: Any) -> None: ...
                def put_metadata(self, *a: Any, **k: Any) -> None: ...
                def add_exception(self, *a: Any, **k: Any) -> None: ...

            yield Segment()

        return segment()

    def patch(self, modules: Any = None) -> None: ...
    def patch_all(self) -> None: ...


def test_tracing_is_one_decorator_that_opens_a_handler_subsegment_only_when_on(
    aws, monkeypatch: pytest.MonkeyPatch
) -> None:
    from aws_lambda_powertools import Tracer

    provider = FakeProvider()
    monkeypatch.setattr(tracing, "make_tracer", lambda: Tracer(service="t", provider=provider, disabled=False))
    tracing.reset()
    calls: list[Any] = []

    @tracing.traced
    def lambda_handler(event: Any, context: Any) -> str:
        calls.append(event)
        return "done"

    monkeypatch.delenv("LAMBDA_TASK_ROOT", raising=False)
    assert lambda_handler({"n": 1}, None) == "done" and provider.subsegments == []  # off outside Lambda
    monkeypatch.setenv("LAMBDA_TASK_ROOT", "/var/task")
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "false")
    assert lambda_handler({"n": 2}, None) == "done" and provider.subsegments == ["## lambda_handler"]
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")  # what Tracing=Disabled sets
    assert lambda_handler({"n": 3}, None) == "done" and provider.subsegments == ["## lambda_handler"]
    assert calls == [{"n": 1}, {"n": 2}, {"n": 3}]
    tracing.reset()
    Tracer._reset_config()


def handler_of(props: dict[str, Any], name: str) -> Any:
    """A function's handler from a module loaded afresh (its own resolver, so nothing cached by another test)."""
    import importlib.util

    module_name, _, handler = props["Handler"].rpartition(".")
    spec = importlib.util.spec_from_file_location(f"traced_{name}", REPO_ROOT / props["CodeUri"] / f"{module_name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return getattr(module, handler)


class CapturingTracer:
    """Stands in for Powertools' Tracer: what it wraps never runs, so a handler that reaches it proves it is
    traced without needing AWS; one that does not runs for real and fails this test."""

    def __init__(self) -> None:
        self.captured: list[str] = []

    def capture_lambda_handler(self, handler: Any) -> Any:
        def captured(event: Any, context: Any) -> str:
            self.captured.append(handler.__name__)
            return "traced"

        return captured


def test_every_handler_but_the_authorizer_is_traced_and_the_template_switches_tracing_everywhere(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from types import SimpleNamespace

    template = load_template()
    resources = template["Resources"]
    context = SimpleNamespace(
        function_name="f",
        memory_limit_in_mb=128,
        invoked_function_arn="arn:aws:lambda:r:1:function:f",
        aws_request_id="r",
    )
    monkeypatch.setenv("LAMBDA_TASK_ROOT", "/var/task")
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "false")
    untraced = []
    for name, resource in resources.items():
        # The authorizer's cold start is measured; the echo function stands in for a team's own backend.
        if resource["Type"] != "AWS::Serverless::Function" or name in ("AuthorizerFunction", "EchoFunction"):
            continue
        fake = CapturingTracer()
        monkeypatch.setattr(tracing, "tracer", lambda fake=fake: fake)
        try:
            answer = handler_of(resource["Properties"], name)({}, context)
        except Exception:  # an untraced handler ran for real, with no event and no AWS
            answer = None
        if answer != "traced" or len(fake.captured) != 1:
            untraced.append(name)
    assert untraced == []
    assert template["Globals"]["Function"]["Tracing"] == {"Fn::If": ["TracingOn", "Active", "PassThrough"]}
    disabled = template["Globals"]["Function"]["Environment"]["Variables"]["POWERTOOLS_TRACE_DISABLED"]
    assert disabled == {"Fn::If": ["TracingOn", "false", "true"]}
    for api in ("ManagementApi", "SampleApi"):
        assert resources[api]["Properties"]["TracingEnabled"] == {"Fn::If": ["TracingOn", True, False]}
