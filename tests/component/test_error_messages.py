"""Error messages read as JSON or plain text, never as Python: a value inside a message is rendered by
errors.shown() (`{"tenant_id": "t-17"}`, `'tenant'`), not by repr (`{'tenant_id': 't-17'}`, `None`)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from tests.support import env_path

ROOT = Path(__file__).resolve().parents[2]
KEYS = env_path("demo", "dev", "/keys")
# What a Python repr of a container, None or an object looks like inside a message.
PYTHON_REPR = re.compile(r"[\[{(]'|'\s*:\s|\bNone\b|<\w[\w.]* object at 0x")


def python_reprs(message: str) -> list[str]:
    return PYTHON_REPR.findall(message)


def test_the_pattern_tells_a_python_repr_from_json_and_plain_text() -> None:
    assert python_reprs("missing: read on orders with filters {'tenant_id': 't-17'}")
    assert python_reprs("its filters: [{'tenant': 't-17'}]") and python_reprs("expected a string, got None")
    assert not python_reprs('missing: read on orders with filters {"tenant_id": "t-17"}')
    assert not python_reprs("a role filter reads context value 'tenant', which this key does not provide")
    assert not python_reprs("Input should be 'read', 'write', 'update' or 'delete'")


def _conversions_to_repr(path: Path) -> list[str]:
    """f-string values converted with !r or !a inside the arguments of an error's constructor."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if not isinstance(node, ast.Call):
            continue
        name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", "")
        if not (name.endswith("Error") or name.startswith("_refuse")):
            continue
        for argument in [*node.args, *(keyword.value for keyword in node.keywords)]:
            for value in ast.walk(argument):
                if isinstance(value, ast.FormattedValue) and value.conversion in (ord("r"), ord("a")):
                    found.append(f"{path.relative_to(ROOT)}:{value.lineno}")
    return found


def test_no_error_is_built_with_a_python_repr_of_a_value() -> None:
    sources = [*ROOT.glob("layers/shared/archie_keys/**/*.py"), *ROOT.glob("functions/*/*.py")]
    assert [place for path in sorted(sources) for place in _conversions_to_repr(path)] == []


@pytest.fixture
def tenant_admin(api, admin_key) -> str:
    """A key that manages everything of tenant t-17, nothing of the other tenants, and may write roles."""
    everything = ["read", "write", "update", "delete"]
    own_rows = {"tenant": {"from_context": "tenant"}}
    role = {
        "permissions": [
            {"resource": "*", "actions": everything, "filters": own_rows},
            {"resource": "roles", "actions": ["read", "write"]},  # roles have no rows: a filtered grant is none
        ]
    }
    assert api("PUT", env_path("demo", "dev", "/roles/tenant-admin"), admin_key, role).status == 201
    made = api(
        "POST", KEYS, admin_key, {"name": "t-17 admin", "roles": ["tenant-admin"], "context": {"tenant": "t-17"}}
    )
    assert made.status == 201, made.body
    return str(made.body["key"])


def test_privilege_escalation_names_filters_as_json(api, tenant_admin) -> None:
    # A key for another tenant: its own filters, named.
    other = api("POST", KEYS, tenant_admin, {"name": "x", "roles": ["tenant-admin"], "context": {"tenant": "t-18"}})
    # A role granting rows it does not hold: the filters it lacks, named.
    wider = {"permissions": [{"resource": "orders", "actions": ["read"], "filters": {"tenant_id": "t-99"}}]}
    role = api("PUT", env_path("demo", "dev", "/roles/wider"), tenant_admin, wider)
    # A mass revocation of every tenant's keys: its own filters, named.
    everyone = api("POST", f"{KEYS}/revocations", tenant_admin, {"context": {}, "reason": "all of them"})
    for reply, named in ((other, '[{"tenant": "t-17"}]'), (role, '{"tenant_id": "t-99"}'), (everyone, '"t-17"')):
        assert (reply.status, reply.body["code"]) == (403, "privilege_escalation"), reply.body
        assert named in reply.body["message"] and python_reprs(reply.body["message"]) == [], reply.body["message"]
