"""One contract: the OpenAPI document is what the resolvers declare, and the template's routes, the policy's
route table, the document and the API guide's route table (docs/api.md) all list the same routes; real answers match the
document's schemas."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from archie_keys.domain.policy import ALWAYS_ALLOWED_ROUTES, KEYLESS_ROUTES, MANAGEMENT_ROUTES, PUBLIC_ROUTES
from archie_local.template import load_template
from archie_tools.openapi import DOCUMENT, generate, render
from tests.support import env_path

ROOT = Path(__file__).resolve().parents[2]
BASE = "/projects/{project}/environments/{environment}"


def document() -> dict[str, Any]:
    return json.loads(DOCUMENT.read_text())


def suffix(path: str) -> str:
    """A route's path after the environment, with its parameters as the policy writes them (`*`); a public
    route (outside every environment) as it is."""
    if path.startswith("/secret-scanning/"):
        return path
    assert path.startswith(BASE), path
    return re.sub(r"\{\w+\}", "*", path[len(BASE) :])


def test_the_committed_document_is_what_the_code_declares() -> None:
    assert DOCUMENT.read_text() == render(generate()), "run `make openapi` and commit docs/openapi.json"


def test_the_template_the_policy_the_document_and_the_api_guide_list_the_same_routes() -> None:
    template = {
        (event["Properties"]["Method"].upper(), suffix(event["Properties"]["Path"]))
        for resource in load_template()["Resources"].values()
        for event in resource.get("Properties", {}).get("Events", {}).values()
        if event["Type"] == "Api" and event["Properties"]["RestApiId"] == {"Ref": "ManagementApi"}
    }
    documented = {(method.upper(), suffix(path)) for path, ops in document()["paths"].items() for method in ops}
    policy = (
        {route for routes in MANAGEMENT_ROUTES.values() for route in routes}
        | set(ALWAYS_ALLOWED_ROUTES)
        | set(PUBLIC_ROUTES)
        | set(KEYLESS_ROUTES)
    )
    guide = ROOT.joinpath("docs", "api.md").read_text()
    table = guide[guide.index("## Routes") : guide.index("Permissions on the management")]
    listed = set()
    for cell in re.findall(r"^\| ([^|]*`[A-Z]+ ?[^|]*) \|", table, re.MULTILINE):
        for method, path in re.findall(r"`([A-Z]+) ?([^`?]*)", cell):
            listed.add((method, re.sub(r"\{\w+\}", "*", path.strip())))
    assert template == documented == policy == listed


def test_every_operation_is_described_secured_and_answers_its_errors() -> None:
    operations = [op for ops in document()["paths"].values() for op in ops.values()]
    ids = [op["operationId"] for op in operations]
    assert len(ids) == len(set(ids)) == 31
    for op in operations:
        public = op["operationId"] in ("githubSecretScanning", "exchangeToken")  # signed, or a token in the body
        assert (
            op["summary"]
            and op["tags"]
            and op.get("security") == (None if public else [{"bearerAuth": []}, {"personToken": []}])
        ), op
        assert {"401", "422", "500"} | (set() if public else {"403"}) <= set(op["responses"]), op["operationId"]
        for status, answer in op["responses"].items():
            if status != "204":
                assert "application/json" in answer.get("content", {}), (op["operationId"], status)
    assert document()["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"


@pytest.mark.parametrize("operation", ["createKey", "rollKey"])
def test_a_created_key_links_to_what_can_be_done_with_it(operation: str) -> None:
    ops = {op["operationId"]: op for ops in document()["paths"].values() for op in ops.values()}
    links = ops[operation]["responses"]["201"]["links"]
    assert {link["operationId"] for link in links.values()} == {"getKey", "rollKey", "keyUsage", "deleteKey"}
    for link in links.values():
        assert link["parameters"]["key_id"] == "$response.body#/key_id"
        assert link["operationId"] in ops


def validator(schema_name: str) -> Any:
    from jsonschema import Draft202012Validator
    from referencing import Registry
    from referencing.jsonschema import DRAFT202012

    registry = Registry().with_resource("urn:archie", DRAFT202012.create_resource(document()))
    return Draft202012Validator({"$ref": f"urn:archie#/components/schemas/{schema_name}"}, registry=registry)


TRUST_POLICY = {
    "issuer": "https://token.actions.githubusercontent.com",
    "audience": "archie-keys",
    "subject": "repo:acme/billing:ref:refs/heads/main",
    "roles": ["viewer"],
    "context": {"t": "x"},
}


def test_real_answers_match_the_documented_schemas(api, admin_key) -> None:
    keys = env_path("demo", "dev", "/keys")
    role = {"description": "r", "permissions": [{"resource": "keys", "actions": ["read"], "filters": {"t": "x"}}]}
    checks = [
        ("Role", api("PUT", env_path("demo", "dev", "/roles/viewer"), admin_key, role)),
        ("RolePage", api("GET", env_path("demo", "dev", "/roles"), admin_key)),
        ("NewKey", created := api("POST", keys, admin_key, {"name": "k", "roles": ["viewer"], "context": {"t": "x"}})),
        ("Key", api("GET", f"{keys}/{created.body['key_id']}", admin_key)),
        ("KeyPage", api("GET", f"{keys}?limit=1", admin_key)),
        ("Usage", api("GET", f"{keys}/{created.body['key_id']}/usage", admin_key)),
        ("RolledKey", api("POST", f"{keys}/{created.body['key_id']}/roll", admin_key, {"grace_seconds": 60})),
        ("Environment", api("GET", env_path("demo", "dev"), admin_key)),
        ("AuditPage", api("GET", env_path("demo", "dev", "/audit"), admin_key)),
        ("Identity", api("GET", env_path("demo", "dev", "/whoami"), admin_key)),
        ("Verdict", api("POST", env_path("demo", "dev", "/verify"), admin_key, {"key": admin_key, "resource": "keys"})),
        ("Verdict", api("POST", env_path("demo", "dev", "/verify"), admin_key, {"key": "nope"})),
        ("Error", api("GET", f"{keys}/AAAAAAAAAAAA", admin_key)),
        ("Error", api("POST", keys, admin_key, {"name": ""})),
        ("Error", api("GET", keys, "archie_demo_dev_" + "A" * 40)),
        ("TrustPolicy", api("PUT", env_path("demo", "dev", "/trust/deploy"), admin_key, TRUST_POLICY)),
        ("TrustPolicyList", api("GET", env_path("demo", "dev", "/trust"), admin_key)),
        ("Error", api("POST", env_path("demo", "dev", "/keys/exchange"), None, {"token": "not.a.token"})),
    ]
    for name, reply in checks:
        errors = [error.message for error in validator(name).iter_errors(reply.body)]
        assert errors == [], (name, reply.status, errors)
