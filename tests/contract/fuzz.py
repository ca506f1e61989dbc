"""`make fuzz`: Schemathesis against the local stack, from the published /openapi.json (its create example
aside: see FUZZER_CREATE_EXAMPLE).

Starts the local stack on free loopback ports, bootstraps demo/dev's admin key, and runs Schemathesis with
the phases examples, coverage, fuzzing and stateful and the checks not_a_server_error,
status_code_conformance, content_type_conformance and response_schema_conformance, bounded in examples per
operation (FUZZ_EXAMPLES, default 12) and in time (FUZZ_BUDGET_SECONDS, default 600: a stalled run is stopped
and fails). The project and environment in
paths are its key's own, so requests reach the functions (another environment is refused by API Gateway's
policy before anything runs). Exit code: Schemathesis's (0: it found nothing).

The fuzzer's key manages every key of tenant t-17 (the documented examples' tenant) but not itself (its own
tenant is `fuzzer`), and may rewrite only the role `fuzzed`: a run that revoked or narrowed its own key
would spend the rest of its requests on 401 and 403.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"
PHASES = "examples,coverage,fuzzing,stateful"
# A whole run takes about 30 s here; the budget only stops one that stalls, so `make test` always ends.
BUDGET_SECONDS = int(os.environ.get("FUZZ_BUDGET_SECONDS", "600"))


ALL = ["read", "write", "update", "delete"]
FUZZER_ROLE = {
    "description": "the fuzzer: every key of tenant t-17, roles, the environment, the audit, verify",
    "permissions": [
        {"resource": "keys", "actions": ALL, "filters": {"tenant": "t-17"}},
        {"resource": "roles", "actions": ALL},
        {"resource": "environments", "actions": ALL},
        {"resource": "audit", "actions": ["read"]},
        {"resource": "verify", "actions": ["write"]},
    ],
}
# Swagger UI's create example names `admin`, the one role a fresh environment has, which the fuzzer's key may not
# grant (it manages tenant t-17's keys only). The fuzzer's copy of the document creates a key it may create, so
# the examples phase makes one and the stateful phase has links to follow.
READER_ROLE = {
    "permissions": [{"resource": "keys", "actions": ["read"], "filters": {"tenant": {"from_context": "tenant"}}}]
}
FUZZER_CREATE_EXAMPLE = {"name": "billing ci", "roles": ["reader"], "context": {"tenant": "t-17"}}


def fuzzers_document(base: str, into: Path) -> Path:
    """The stack's published /openapi.json, with the create example the fuzzer's key may send."""
    from tests.support import http

    document = http(base, "GET", "/openapi.json").body
    document["components"]["schemas"]["CreateKeyBody"]["examples"] = [FUZZER_CREATE_EXAMPLE]
    into.write_text(json.dumps(document))
    return into


def fuzzer_key(base: str, admin: str) -> str:
    from tests.support import env_path, http

    for name, role in (("fuzzer", FUZZER_ROLE), ("reader", READER_ROLE)):
        assert http(base, "PUT", env_path("demo", "dev", f"/roles/{name}"), admin, role).status == 201
    reply = http(
        base,
        "POST",
        env_path("demo", "dev", "/keys"),
        admin,
        {"name": "fuzzer", "roles": ["fuzzer"], "context": {"tenant": "fuzzer"}},
    )
    assert reply.status == 201, reply.body
    return str(reply.body["key"])


def main() -> int:
    from archie_local.stack import LocalStack
    from tests.support import FAST_ENVIRONMENT

    examples = int(os.environ.get("FUZZ_EXAMPLES", "12"))
    environment = {**FAST_ENVIRONMENT, "KEY_MIN_LIFETIME_SECONDS": "1"}
    with (
        LocalStack(port=0, sample_port=0, environment_overrides=environment) as stack,
        tempfile.TemporaryDirectory() as work,
    ):
        key = fuzzer_key(stack.url(), stack.bootstrap("demo", "dev"))
        config = Path(work) / "schemathesis.toml"
        config.write_text(
            "[parameters]\n"
            '"path.project" = "demo"\n'
            '"path.environment" = "dev"\n'
            # Roles the fuzzer may rewrite or delete: never `admin`, which its own key holds (rewriting it
            # would leave the rest of the run answering 403).
            '"path.role" = "fuzzed"\n'
        )
        command = [
            str(Path(sys.executable).with_name("st")),
            "--config-file",
            str(config),
            "run",
            str(fuzzers_document(stack.url(), Path(work) / "openapi.json")),
            "--url",
            stack.url(),
            "--header",
            f"Authorization: Bearer {key}",
            "--phases",
            PHASES,
            "--checks",
            CHECKS,
            "--max-examples",
            str(examples),
            "--seed",
            "20261126",
            "--generation-deterministic",
            "--workers",
            "1",
            "--request-timeout",
            "30",
            "--no-color",
            "--report",
            "junit",
            "--report-dir",
            str(Path(__file__).resolve().parents[1] / "artifacts" / "schemathesis"),
        ]
        try:
            return subprocess.run(command, check=False, timeout=BUDGET_SECONDS).returncode
        except subprocess.TimeoutExpired:
            print(f"schemathesis did not finish within {BUDGET_SECONDS} s: stopped", file=sys.stderr)
            return 1


if __name__ == "__main__":
    sys.exit(main())
