"""The published contract on the running stack: /openapi.json and Swagger UI need no key and come from this
repository (nothing from a CDN), and a client generated from the committed document by a maintained
generator (openapi-python-client) drives the API as the API guide's typed client (docs/api.md) does."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from archie_tools.openapi import DOCUMENT
from tests.support import env_path, http

VENV_BIN = Path(sys.executable).parent


def test_the_document_and_swagger_ui_are_served_without_a_key(stack: Any) -> None:
    document = http(stack.url(), "GET", "/openapi.json")
    assert document.status == 200 and document.headers["Content-Type"].startswith("application/json")
    committed = json.loads(DOCUMENT.read_text())
    assert {**document.body, "servers": committed["servers"]} == committed
    redirect = http(stack.url(), "GET", "/docs")
    assert redirect.status in (200, 302)
    page = http(stack.url(), "GET", "/docs/")
    assert page.status == 200 and "swagger-ui-bundle.js" in page.body and "https://" not in page.body
    bundle = http(stack.url(), "GET", "/docs/vendor/swagger-ui-bundle.js")
    assert bundle.status == 200 and "javascript" in bundle.headers["Content-Type"]
    # Under the stage, as on the execute-api endpoint, the same.
    staged = http(stack.url(with_stage=True), "GET", "/openapi.json").body
    assert {**staged, "servers": document.body["servers"]} == document.body


def test_the_served_document_names_the_stack_serving_it_not_a_fixed_port(stack: Any, admin: str) -> None:
    for base in (stack.url(), stack.url(with_stage=True)):
        served = http(base, "GET", "/openapi.json").body
        assert [server["url"] for server in served["servers"]] == [base]
        # A client that takes the document's server reaches this stack.
        assert http(served["servers"][0]["url"], "GET", env_path("demo", "dev", "/whoami"), admin).status == 200


def test_a_generated_client_creates_a_key_idempotently(stack: Any, admin: str, tmp_path: Path) -> None:
    generated = subprocess.run(
        [str(VENV_BIN / "openapi-python-client"), "generate", "--path", str(DOCUMENT), "--meta", "none"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": f"{VENV_BIN}:/usr/bin:/bin"},
        check=False,
    )
    assert generated.returncode == 0, generated.stderr
    sys.path.insert(0, str(tmp_path))
    try:
        client_package = importlib.import_module("archie_keys_management_api_client")
        create_key = importlib.import_module("archie_keys_management_api_client.api.keys.create_key")
        put_role = importlib.import_module("archie_keys_management_api_client.api.roles.put_role")
        models = importlib.import_module("archie_keys_management_api_client.models")
        client = client_package.AuthenticatedClient(base_url=stack.url(), token=admin)
        role = models.RoleBody.from_dict({"permissions": [{"resource": "keys", "actions": ["read"]}]})
        assert put_role.sync_detailed("demo", "dev", "ci-reader", client=client, body=role).status_code in (200, 201)
        body = models.CreateKeyBody.from_dict({"name": "deploy-bot", "roles": ["ci-reader"]})
        first = create_key.sync(project="demo", environment="dev", client=client, body=body, idempotency_key="ci-9")
        again = create_key.sync(project="demo", environment="dev", client=client, body=body, idempotency_key="ci-9")
        assert isinstance(first, models.NewKey) and first.key.startswith("archie_demo_dev_")
        assert again.key == first.key and again.key_id == first.key_id
        listed = http(stack.url(), "GET", env_path("demo", "dev", f"/keys/{first.key_id}"), admin)
        assert listed.status == 200 and listed.body["name"] == "deploy-bot"
    finally:
        sys.path.remove(str(tmp_path))
        for name in [m for m in sys.modules if m.startswith("archie_keys_management_api_client")]:
            del sys.modules[name]
