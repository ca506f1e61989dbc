"""Records at the data edge: a key's (domain.key_record), one typed record the key store returns and takes,
each field declared once and the API's view derived from it; a role's and an environment's the same way; and a
request's in the audit (domain.audit_records)."""

from __future__ import annotations

import dataclasses

import pytest

from archie_keys.app.views import (
    ENVIRONMENT_FIELDS,
    KEY_FIELDS,
    ROLE_FIELDS,
    audit_view,
    environment_view,
    key_view,
    role_view,
    usage_view,
)
from archie_keys.domain import audit_records
from archie_keys.domain.audit_blocks import StoredBlock, pack
from archie_keys.domain.audit_records import (
    REQUEST_RECORD_FIELDS,
    USAGE_FIELDS,
    EventRecord,
    HourlyUsage,
    audit_record,
    hourly_usage,
    request_record,
    stored_request,
)
from archie_keys.domain.environment_record import (
    EnvironmentRecord,
    environment_record,
    environment_stored_fields,
)
from archie_keys.domain.key_record import KeyRecord, key_record, stored_fields, with_changes
from archie_keys.domain.role_record import role_record
from archie_keys.edge.audit_schemas import EventRecord as EventAnswer
from archie_keys.edge.audit_schemas import RequestRecord
from archie_keys.edge.environment_schemas import Environment, Role
from archie_keys.edge.key_schemas import Key, UsageHour

# What the view derives rather than shows as stored.
DERIVED = ("enabled", "status", "revoked_at", "revoked_by", "revoked_reason")

RECORD = KeyRecord(
    key_id="Vcj3KjwYaY4a",
    name="ci",
    name_folded="ci",
    prefix="archie_",
    start="archie_shop_prod_Vcj3KjwYaY4a",
    project="shop",
    environment="prod",
    roles=("reader",),
    context={"tenant": "acme"},
    created_at="2026-11-26T09:00:00Z",
    created_by="bootstrap",
    hash="$argon2id$...",
    hash_params={"m": 19456, "t": 2, "p": 1},
    key_format=2,
)


def test_the_answer_shows_the_records_shown_fields_and_what_the_view_derives() -> None:
    # The documented answer (OpenAPI) and the record name the same fields: a field added to one and not the
    # other fails here.
    assert set(Key.model_fields) == set(KEY_FIELDS) | set(DERIVED)
    assert list(key_view(RECORD, now=0.0)) == [*KEY_FIELDS, *DERIVED]


def test_the_view_never_shows_the_hash_or_the_stores_own_fields() -> None:
    view = key_view(RECORD, now=0.0)
    assert not {"hash", "hash_params", "pepper_version", "name_folded", "expires_epoch", "revision"} & set(view)
    assert view["roles"] == ["reader"] and view["status"] == "active" and view["key_format"] == 2


def test_a_stored_key_reads_back_as_the_record_it_was_written_from() -> None:
    item = {"pk": "PROJECT#shop#ENV#prod", "sk": "KEY#Vcj3KjwYaY4a", "kind": "key", "layout": 2}
    assert key_record(item | stored_fields(RECORD)) == RECORD


def test_an_attribute_the_record_does_not_know_is_left_out_not_refused() -> None:
    # A newer release may write an attribute this one does not know while a deploy rolls out.
    assert key_record(stored_fields(RECORD) | {"added_later": "x"}) == RECORD


def test_what_is_not_set_is_not_stored() -> None:
    stored = stored_fields(RECORD)
    assert "allowed_cidrs" not in stored and "break_glass" not in stored and "expires_epoch" not in stored
    legacy = dataclasses.replace(RECORD, key_format=None)
    # An environment counts the keys of the first format by their having no key_format.
    assert "key_format" not in stored_fields(legacy)
    assert key_view(legacy, now=0.0)["key_format"] == 1


def test_stored_numbers_and_lists_come_back_as_the_records_types() -> None:
    record = key_record(stored_fields(RECORD) | {"expires_epoch": 1800000000, "roles": ["a", "b"], "revision": 3})
    assert record.expires_epoch == 1800000000.0 and isinstance(record.expires_epoch, float)
    assert record.roles == ("a", "b") and record.revision == 3


def test_a_change_sets_and_removes_fields_and_refuses_a_name_that_is_no_field() -> None:
    disabled = with_changes(RECORD, {"disabled_at": "2026-11-27T00:00:00Z", "disabled_by": "admin"})
    assert disabled.disabled_at and key_view(disabled, now=0.0)["status"] == "disabled"
    assert with_changes(disabled, {}, ("disabled_at", "disabled_by")) == RECORD
    with pytest.raises(KeyError, match="revoked_att"):
        with_changes(RECORD, {"revoked_att": "2026-11-27T00:00:00Z"})


def test_a_record_is_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        RECORD.name = "other"  # type: ignore[misc]


def test_the_audit_shows_a_requests_stored_fields_and_documents_each() -> None:
    stored = {name: f"{name} value" for name in REQUEST_RECORD_FIELDS}
    item = {"id": "Ab1-extended", "kind": "request", "project": "shop", "environment": "prod", **stored}
    view = audit_view(audit_record(item | {"added_later": "x"}))
    assert set(view) == {"id", "kind", "project", "environment", *REQUEST_RECORD_FIELDS}
    assert set(RequestRecord.model_fields) == set(view)


def test_a_role_reads_from_its_item_and_shows_its_shown_fields() -> None:
    item = {
        "pk": "PROJECT#shop#ENV#prod",
        "sk": "ROLE#reader",
        "kind": "role",
        "name": "reader",
        "description": "reads orders",
        "permissions": '[{"resource":"orders","actions":["read"],"filters":{}}]',  # stored as JSON text
        "created_at": "2026-11-26T09:00:00Z",
        "updated_at": "2026-11-26T09:00:00Z",
        "updated_by": "admin",
        "key_count": 2,
    }
    role = role_record(item)
    assert role.permissions == ({"resource": "orders", "actions": ["read"], "filters": {}},)
    view = role_view(role)
    assert list(view) == list(ROLE_FIELDS) and view["key_count"] == 2 and "updated_by" not in view
    # The answer adds only what a change reports (the stages it could not flush).
    assert set(Role.model_fields) == {*ROLE_FIELDS, "unflushed_stages"}


def test_an_environment_reads_back_as_the_record_it_was_written_from_and_shows_its_shown_fields() -> None:
    record = EnvironmentRecord(
        project="shop",
        environment="prod",
        created_at="2026-11-26T09:00:00Z",
        created_by="bootstrap",
        on_leak="report",
        legacy_keys="refuse",
    )
    item = {"pk": "PROJECT#shop#ENV#prod", "sk": "ENV", "kind": "environment", "added_later": "x"}
    assert environment_record(item | environment_stored_fields(record)) == record
    view = environment_view(record)
    assert list(view) == list(ENVIRONMENT_FIELDS) and view["on_leak"] == "report"
    # The documented answer (OpenAPI) and the record name the same fields.
    assert set(Environment.model_fields) == set(ENVIRONMENT_FIELDS)


def test_an_environment_declared_before_its_settings_shows_their_defaults() -> None:
    # Declared before key tags (no legacy_keys) and before leak handling (no on_leak): it accepts the keys of
    # the first format it holds and revokes a leaked key.
    stored = {"project": "shop", "environment": "prod", "created_at": "2026-11-26T09:00:00Z", "created_by": "bootstrap"}
    view = environment_view(environment_record(stored))
    assert view["legacy_keys"] == "accept" and view["on_leak"] == "revoke"


# --- the audit's records (domain.audit_records) ------------------------------------------------------------

# A request as an environment block packs it: its id and its set own fields (the block names its place).
PACKED = {
    "id": "Ab1-extended",
    "time": "2026-11-26T09:00:01.250Z",
    "request_id": "4f1c",
    "method": "GET",
    "path": "/orders/1",
    "resource": "/orders/{id}",
    "status": 403,
    "key_id": "Vcj3KjwYaY4a",
    "reason": "revoked",
    "error": "ACCESS_DENIED",
    "api": "abc/v1",
}


def test_the_request_records_field_list_is_its_own_fields_and_the_api_documents_each() -> None:
    # The list is derived from the record, never written beside it: a field added to the record is in it.
    own = [f.name for f in dataclasses.fields(audit_records.RequestRecord) if f.metadata.get("own")]
    assert list(REQUEST_RECORD_FIELDS) == own and "id" not in REQUEST_RECORD_FIELDS
    assert set(RequestRecord.model_fields) == {"id", "kind", "project", "environment", *REQUEST_RECORD_FIELDS}
    assert set(EventAnswer.model_fields) == {f.name for f in dataclasses.fields(EventRecord)} - {"at"} | {"kind"}
    assert list(UsageHour.model_fields) == list(USAGE_FIELDS)


def test_a_packed_request_reads_back_as_its_record_and_packs_again_to_the_same_stored_form() -> None:
    record = request_record({"project": "shop", "environment": "prod", **PACKED})
    assert (record.id, record.project, record.status, record.claimed_key_id) == ("Ab1-extended", "shop", 403, None)
    assert record.at == f"{PACKED['time']}#{PACKED['id']}"
    assert stored_request(record) == PACKED  # unset fields are not stored as nulls
    # Through a block: packed, stored, read back with the place (and, for a key block, the key) it names.
    block = StoredBlock(pk="BLK#x", sk="y", project="shop", environment="prod", key_id=None, data=pack([record]))
    assert block.requests() == [record] and block.packed_records() == [PACKED]
    # A key block's records do not repeat its key: each reads back with it.
    unattributed = request_record({"project": "shop", "environment": "prod", **PACKED, "key_id": None})
    key_block = StoredBlock(
        pk="BLK#x", sk="y", project="shop", environment="prod", key_id="Vcj3KjwYaY4a", data=pack([unattributed])
    )
    assert key_block.requests() == [record]


def test_a_request_stored_alone_by_an_earlier_release_reads_without_its_storage_attributes() -> None:
    item = {
        "pk": "REQ#Ab1-extended",
        "sk": "R",
        "kind": "request",
        "at": f"{PACKED['time']}#Ab1-extended",
        "key_bucket": "shop#prod#Vcj3KjwYaY4a#2",
        "env_bucket": "shop#prod#2",
        "purge_epoch": 1_790_000_000,
        "project": "shop",
        "environment": "prod",
        "added_later": "x",  # an attribute a newer release wrote during a deploy
        **PACKED,
    }
    record = audit_record(item)
    assert isinstance(record, audit_records.RequestRecord) and record.at == item["at"]
    assert stored_request(record) == PACKED


def test_a_misspelt_field_is_refused_never_a_silent_none() -> None:
    with pytest.raises(TypeError, match="tim"):
        audit_records.RequestRecord(id="a", project="shop", environment="prod", tim="2026-11-26T09:00:00Z")  # type: ignore[call-arg]
    with pytest.raises(dataclasses.FrozenInstanceError):
        request_record({"project": "shop", "environment": "prod", **PACKED}).status = 200  # type: ignore[misc]


def test_an_event_reads_back_with_its_position_and_shows_its_fields_then_its_id() -> None:
    item = {
        "pk": "EVT#e1",
        "sk": "E",
        "kind": "event",
        "id": "e1",
        "event": "key.created",
        "project": "shop",
        "environment": "prod",
        "actor_key_id": "bootstrap",
        "at": "2026-11-26T09:00:00Z#e1",
        "time": "2026-11-26T09:00:00Z",
        "purge_epoch": 1_790_000_000,
        "actor_bucket": "shop#prod#bootstrap#1",
        "details": {"name": "ci"},
    }
    record = audit_record(item)
    assert isinstance(record, EventRecord) and record.at == item["at"] and record.key_id is None
    view = audit_view(record)
    assert list(view) == ["kind", "time", "project", "environment", "event", "actor_key_id", "details", "id"]
    assert view["kind"] == "event" and view["details"] == {"name": "ci"}


def test_an_hours_usage_reads_from_its_counters_and_shows_their_sum() -> None:
    usage = hourly_usage({"hour": "2026-11-26T09:00Z", "allowed": 4})  # a counter never added to is absent
    assert usage == HourlyUsage(hour="2026-11-26T09:00Z", allowed=4, refused=0) and usage.requests == 4
    assert usage_view(usage) == {"hour": "2026-11-26T09:00Z", "allowed": 4, "refused": 0, "requests": 4}
