"""`python -m archie_tools.openapi [--check]`: the management API's OpenAPI document, generated from the code.

Every route is declared once, in its function's Powertools resolver (functions/<name>/<name>.py, with the
parameters and answers of archie_keys.edge.openapi); Powertools' OpenAPIMerge merges the resolvers of the
template's ManagementApi functions into one document, written to docs/openapi.json. `--check` fails when
the committed document differs from what the code generates (CI runs it through tests/component/test_openapi.py).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
DOCUMENT = REPO / "docs" / "openapi.json"
API_VERSION = "1.0.0"
DESCRIPTION = (
    "API keys scoped to a project and an environment. Every route takes `Authorization: Bearer <key>`; "
    "a key manages only its own project and environment. Errors are JSON `{code, message, field?, errors?}` "
    "(see the error table of the API guide, docs/api.md). The key value is shown once, when it is created or rolled."
)
TAGS = [
    {"name": "keys", "description": "create, list, read, roll and revoke keys; their usage"},
    {"name": "roles", "description": "permissions on resources, with row-level filters"},
    {"name": "environments", "description": "declaring an environment"},
    {"name": "audit", "description": "every request and management event, by key"},
    {"name": "verify", "description": "checking keys for callers not behind API Gateway; whoami"},
]
SERVERS: list[dict[str, Any]] = [
    {"url": "http://127.0.0.1:3000", "description": "the local stack (`make run`)"},
    {
        "url": "https://{api_id}.execute-api.{region}.amazonaws.com/{stage}",
        "description": "a deployed stack (its ApiUrl output)",
        "variables": {
            "api_id": {"default": "abcdefghij", "description": "the management API's id"},
            "region": {"default": "eu-west-1"},
            "stage": {"default": "v1"},
        },
    },
]


def management_handlers() -> list[Path]:
    """The handler files of the functions the template routes from the management API."""
    from archie_local.template import functions, load_template

    files = []
    for spec in functions(load_template()).values():
        if any(
            event.get("Type") == "Api" and event["Properties"].get("RestApiId") == {"Ref": "ManagementApi"}
            for event in spec.events.values()
        ):
            files.append(spec.code_uri / f"{spec.handler.rpartition('.')[0]}.py")
    return sorted(files)


def generate() -> dict[str, Any]:
    from aws_lambda_powertools.event_handler.openapi.merge import OpenAPIMerge
    from aws_lambda_powertools.event_handler.openapi.models import Server, Tag

    from archie_keys.edge.openapi import security_schemes

    merge = OpenAPIMerge(
        title="archie-keys management API",
        version=API_VERSION,
        description=DESCRIPTION,
        tags=[Tag.model_validate(tag) for tag in TAGS],
        servers=[Server.model_validate(server) for server in SERVERS],
        security_schemes=security_schemes(),
        on_conflict="error",
    )
    for path in management_handlers():
        merge.add_file(path)
    document: dict[str, Any] = json.loads(merge.get_openapi_json_schema())
    return without_unused_schemas(document)


def without_unused_schemas(document: dict[str, Any]) -> dict[str, Any]:
    """Powertools adds its own validation-error schemas; every answer here uses Error, so drop what nothing
    references (repeatedly: a dropped schema may have been the only user of another)."""
    schemas = document.get("components", {}).get("schemas", {})
    while True:
        text = json.dumps(document)
        unused = [name for name in schemas if f'"#/components/schemas/{name}"' not in text]
        if not unused:
            return document
        for name in unused:
            del schemas[name]


def render(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m archie_tools.openapi")
    parser.add_argument("--check", action="store_true", help="fail if docs/openapi.json is not what the code says")
    args = parser.parse_args(argv)
    text = render(generate())
    if args.check:
        if not DOCUMENT.exists() or DOCUMENT.read_text() != text:
            print("docs/openapi.json differs from the code: run `make openapi` and commit it", file=sys.stderr)
            return 1
        return 0
    DOCUMENT.write_text(text)
    print(f"wrote {DOCUMENT.relative_to(REPO)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
