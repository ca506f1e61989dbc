"""A key manages only its own project and environment, and the handlers hold that themselves: API Gateway's
policy already refuses demo/dev's key on acme/prod's routes, but a misconfigured route or a direct
invocation of a function must not let it through. Here each management handler is invoked directly, as
Lambda would be, with the context the authorizer gives demo/dev's admin key and a path naming acme/prod."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

from archie_local.template import load_template
from tests.component.decision_stack import new_environment

EVENTS = Path(__file__).resolve().parents[2] / "events"
METHOD_ARN = "arn:aws:execute-api:us-east-1:123456789012:api1234567/v1/GET/projects/demo/environments/dev/keys"


def management_routes() -> list[tuple[str, str, str]]:
    """(function logical id, method, path template) of every route of the management API that takes a key,
    from the template (GitHub's secret-scanning webhook is signed by GitHub and names no environment)."""
    return sorted(
        (logical_id, event["Properties"]["Method"].upper(), event["Properties"]["Path"])
        for logical_id, resource in load_template()["Resources"].items()
        for event in resource.get("Properties", {}).get("Events", {}).values()
        if event["Type"] == "Api"
        and event["Properties"]["RestApiId"] == {"Ref": "ManagementApi"}
        and event["Properties"].get("Auth", {}).get("Authorizer") != "NONE"
    )


def direct_event(method: str, template: str, values: dict[str, str], authorizer: dict[str, Any], body: Any) -> dict:
    """An API Gateway proxy event for `template` filled with `values`, shaped like the sample events."""
    event = copy.deepcopy(json.loads((EVENTS / "list_keys.json").read_text()))
    path = re.sub(r"\{(\w+)\}", lambda m: values[m.group(1)], template)
    event.update(
        resource=template,
        path=path,
        httpMethod=method,
        pathParameters={name: values[name] for name in re.findall(r"\{(\w+)\}", template)},
        queryStringParameters=None,
        multiValueQueryStringParameters=None,
        body=json.dumps(body) if body is not None else None,
    )
    event["requestContext"].update(resourcePath=template, httpMethod=method, path="/v1" + path, authorizer=authorizer)
    return event


def valid_body(method: str, template: str, acme_key: str) -> Any:
    """A body each route accepts, so the only thing wrong with the request is whose key it is."""
    if template.endswith("/roll"):
        return {"grace_seconds": 0}
    if template.endswith("/keys") and method == "POST":
        return {"name": "intruder", "roles": ["admin"]}
    if template.endswith("/roles/{role}") and method == "PUT":
        return {"permissions": [{"resource": "*", "actions": ["read"]}]}
    if template.endswith("/verify"):
        return {"key": acme_key}
    if template.endswith("/trust/{name}") and method == "PUT":
        return {
            "issuer": "https://token.actions.githubusercontent.com",
            "audience": "archie-keys",
            "subject": "repo:acme/billing:ref:refs/heads/main",
            "roles": ["admin"],
        }
    if template.endswith("/keys/{key_id}") and method == "PATCH":
        return {"name": "intruder"}
    if template.endswith("/webhooks/{name}") and method == "PUT":
        return {"url": "https://hooks.example.com/archie", "events": ["key.created"]}
    if template.endswith("/redrive"):
        return {}
    if template.endswith("/keys/revocations"):
        return {"context": {}, "reason": "every key of another environment"}
    return None


def test_a_demo_dev_key_is_refused_on_acme_prod_routes_even_when_the_handler_is_invoked_directly(stack) -> None:
    demo, acme = new_environment(stack), new_environment(stack)  # "demo/dev" and "acme/prod"
    functions = stack.functions
    answer = functions["AuthorizerFunction"].invoke(
        {"type": "REQUEST", "methodArn": METHOD_ARN, "headers": {"Authorization": f"Bearer {demo.admin}"}}
    )
    demo_context = {**answer["context"], "principalId": answer["principalId"]}
    acme_key_id = acme.admin.split("_")[-1][:12]
    values = {
        "project": acme.project,
        "environment": acme.environment,
        "key_id": acme_key_id,
        "role": "admin",
        "name": "billing-deploy",
        "revocation_id": acme_key_id,
    }
    acme_before = acme.call("GET", "/keys").body

    routes = management_routes()
    assert len(routes) >= 15  # every route of the public contract is here
    answers = {}
    for logical_id, method, template in routes:
        event = direct_event(method, template, values, demo_context, valid_body(method, template, acme.admin))
        response = functions[logical_id].invoke(event)
        answers[f"{method} {template}"] = (response["statusCode"], json.loads(response["body"] or "{}").get("code"))
    assert answers == dict.fromkeys(answers, (403, "wrong_environment"))

    # Nothing of acme/prod changed: its admin key still works, and its keys and roles are the same.
    assert acme.call("GET", "/keys").body == acme_before
    admin_role = acme.call("GET", "/roles/admin").body
    assert admin_role["permissions"] == [
        {"resource": "*", "actions": ["read", "write", "update", "delete"], "filters": {}}
    ]
