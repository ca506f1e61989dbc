"""Authorizer-size limits at creation, and no escalation through role definitions."""

from __future__ import annotations

from tests.support import ALL_ACTIONS, env_path

KEYS = env_path("demo", "dev", "/keys")


def define_wide_roles(api, admin: str, resource_name, filters) -> list[str]:
    names = []
    for r in range(10):
        permissions = [{"resource": resource_name(r, p), "actions": ALL_ACTIONS, "filters": filters} for p in range(20)]
        reply = api("PUT", env_path("demo", "dev", f"/roles/wide{r}"), admin, {"permissions": permissions})
        assert reply.status == 201, reply.body
        names.append(f"wide{r}")
    return names


def test_a_key_with_10_roles_of_20_filtered_permissions_fits(api, admin_key) -> None:
    roles = define_wide_roles(
        api, admin_key, lambda r, p: f"resource-{r}-{p}", {"tenant_id": {"from_context": "tenant"}, "region": "eu"}
    )
    reply = api("POST", KEYS, admin_key, {"name": "wide", "roles": roles, "context": {"tenant": "t-1"}})
    assert reply.status == 201, reply.body
    # And the authorizer serves it (the answer API Gateway receives).
    assert api("GET", env_path("demo", "dev", "/whoami"), reply.body["key"]).status == 200


def test_a_key_whose_authorizer_answer_would_be_too_large_is_refused_at_creation(api, admin_key, table_items) -> None:
    big_filters = {f"field{i}": "v" * 256 for i in range(8)}
    roles = define_wide_roles(api, admin_key, lambda r, p: f"r{r}-{p}-" + "x" * 50, big_filters)
    before = table_items("KEYS_TABLE")
    reply = api("POST", KEYS, admin_key, {"name": "too wide", "roles": roles})
    assert reply.status == 422 and reply.body["code"] == "authorizer_response_too_large"
    assert "bytes" in reply.body["message"] and reply.body["field"] == "roles"
    assert table_items("KEYS_TABLE") == before


def test_a_caller_cannot_define_a_role_wider_than_itself(api, admin_key) -> None:
    api(
        "PUT",
        env_path("demo", "dev", "/roles/role-admin"),
        admin_key,
        {
            "permissions": [
                {"resource": "roles", "actions": ["read", "write"]},
                {"resource": "keys", "actions": ["read", "write"]},
                {"resource": "orders", "actions": ["read"], "filters": {"tenant_id": "t1"}},
            ]
        },
    )
    delegate = api("POST", KEYS, admin_key, {"name": "delegate", "roles": ["role-admin"]}).body["key"]

    narrower = {"permissions": [{"resource": "orders", "actions": ["read"], "filters": {"tenant_id": "t1", "x": 1}}]}
    assert api("PUT", env_path("demo", "dev", "/roles/narrow"), delegate, narrower).status == 201
    for wider in (
        {"permissions": [{"resource": "orders", "actions": ["read"]}]},
        {"permissions": [{"resource": "orders", "actions": ["read"], "filters": {"tenant_id": {"from_context": "t"}}}]},
        {"permissions": [{"resource": "orders", "actions": ["delete"], "filters": {"tenant_id": "t1"}}]},
        {"permissions": [{"resource": "*", "actions": ["read"]}]},
        {"permissions": [{"resource": "keys", "actions": ["delete"]}]},
    ):
        reply = api("PUT", env_path("demo", "dev", "/roles/wider"), delegate, wider)
        assert reply.status == 403 and reply.body["code"] == "privilege_escalation", (wider, reply.body)
    assert api("GET", env_path("demo", "dev", "/roles/wider"), admin_key).status == 404


def test_every_published_pattern_is_explained_in_words() -> None:
    """A value that does not match a pattern is answered with what the pattern means, not the regex."""
    from archie_keys.domain import limits

    patterns = {value for name, value in vars(limits).items() if name.endswith("_PATTERN")}
    assert patterns == set(limits.PATTERN_MEANINGS)
