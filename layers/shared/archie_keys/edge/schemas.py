"""The answers every route shares: the strict base of every response model, the error body, and the field types
answers reuse (a key id, a time). Each route's answers are declared in its concern's module (key_schemas,
environment_schemas, audit_schemas, leak_alerts, federation_schemas) for the OpenAPI document, and held to the
real answers by tests/component/test_openapi.py and the fuzzer's schema checks. The views in app.views build the
same shapes as plain dicts.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from archie_keys.domain.keyformat import KEY_ID_LENGTH, KEY_ID_PATTERN

KeyId = Annotated[str, Field(pattern=KEY_ID_PATTERN, description=f"{KEY_ID_LENGTH} letters and digits; public")]
Time = Annotated[str, Field(description="ISO 8601, UTC, milliseconds: 2026-11-26T09:00:00.000Z")]


class Answer(BaseModel):
    """Every answer refuses fields it does not document: a response carries only its documented fields."""

    model_config = ConfigDict(extra="forbid")


class ErrorDetail(Answer):
    field: str
    message: str


class Error(Answer):
    """Every error: a machine `code`, a human `message`, and the `field` to blame when there is one."""

    code: str = Field(description="see the error table of the API guide (docs/api.md)")
    message: str
    field: str | None = None
    errors: list[ErrorDetail] | None = Field(default=None, description="every problem, with validation_error")
    last_used_at: str | None = Field(default=None, description="with key_in_use: the key's last accepted request")
    recent_requests: int | None = Field(
        default=None, description="with key_in_use: accepted requests counted in the hours of the window"
    )
    key_id: str | None = Field(default=None, description="with secret_in_use: the key whose value the secret holds")
